"""workflow: streaming an uploaded file from the request into the blob store."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from storage.blobs import StagedBlob
from storage.errors import BlobTooLargeError
from workflow.errors import InvalidInputError, TooLargeError
from workflow.services import get_services


def stage_upload(field: str = "file") -> tuple[StagedBlob, str]:
    """Stream the uploaded file to a temporary blob, enforcing the size limit.

    :returns: the staged blob and the client's file name (never used as a path).
    :raises InvalidInputError: no file in the request.
    :raises TooLargeError: the file is over the limit.
    """
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise InvalidInputError(_("Chưa chọn tệp PDF để tải lên."), code="missing_file")
    services = get_services()
    limit = services.settings.max_upload_bytes
    try:
        staged = services.blobs.stage(upload.stream, limit=limit)
    except BlobTooLargeError as exc:
        raise TooLargeError(
            _(
                "Tệp vượt quá dung lượng cho phép (%(mb)s MB). "
                "Hãy giảm dung lượng tệp rồi tải lên lại.",
                mb=limit // (1024 * 1024),
            )
        ) from exc
    return staged, upload.filename
