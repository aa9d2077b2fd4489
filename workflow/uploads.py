"""workflow: files between HTTP and the blob store: uploads streamed in, blobs sent out;
spreadsheet cells of the exports that cannot carry a formula."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, request, send_file
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from storage.blobs import StagedBlob
from storage.errors import BlobNotFoundError, BlobTooLargeError
from workflow.edge import check_upload_fields
from workflow.errors import InvalidInputError, NotFoundError, TooLargeError
from workflow.services import get_services


def stage_upload(field: str = "file") -> tuple[StagedBlob, str]:
    """Stream the uploaded file to a staged blob, enforcing the size limit; the caller
    checks it, then publishes or discards it (a refused upload leaves nothing).

    :returns: the staged blob and the client's file name (never used as a path).
    :raises InvalidInputError: no file in the request.
    :raises TooLargeError: the file is over the limit.
    """
    check_upload_fields(request.form)
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


def stage_uploads(field: str) -> list[tuple[StagedBlob, str]]:
    """Stream every file of a multi-file field (appendices) to staged blobs, in order.

    :raises TooLargeError: a file is over the limit (the ones staged are discarded).
    """
    services = get_services()
    limit = services.settings.max_upload_bytes
    staged: list[tuple[StagedBlob, str]] = []
    for upload in request.files.getlist(field):
        if not upload.filename:
            continue
        try:
            staged.append((services.blobs.stage(upload.stream, limit=limit), upload.filename))
        except BlobTooLargeError as exc:
            for blob, _name in staged:
                services.blobs.discard(blob)
            raise TooLargeError(
                _("Phụ lục %(name)s vượt quá dung lượng cho phép.", name=upload.filename)
            ) from exc
    return staged


def send_blob(
    key: str,
    download_name: str,
    *,
    mimetype: str = "application/pdf",
    as_attachment: bool = True,
) -> Response:
    """Stream a blob as the response, its key as the ETag (the content's own hash), with
    conditional and range requests answered.

    :raises NotFoundError: the blob is missing from the store (a fault to report).
    """
    blobs = get_services().blobs
    try:
        size = blobs.size(key)
        stream = blobs.open(key)
    except BlobNotFoundError as exc:
        raise NotFoundError(
            _("Tệp của văn bản không còn trong kho lưu trữ. Hãy báo quản trị hệ thống.")
        ) from exc
    response = send_file(
        stream,
        mimetype=mimetype,
        as_attachment=as_attachment,
        download_name=download_name,
        etag=key,
        conditional=False,
    )
    response.content_length = size
    try:  # in place: a 304, a 206 with the range, or the whole blob
        response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        stream.close()
        raise
    return response


# --- spreadsheet cells that cannot carry a formula (OWASP "CSV injection") ---------------
# A subject such as ``=HYPERLINK("http://...")`` typed by a drafter must reach the reader's
# spreadsheet as the text it is: in CSV a cell starting with ``=``, ``+``, ``-``, ``@``, a
# tab or a carriage return gets a leading apostrophe (spreadsheets read it as "text
# follows" and do not show it); in XLSX every text cell is written as text, never as a
# formula. Numbers stay numbers.

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """:returns: ``value`` as a CSV cell that no spreadsheet evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """:returns: a row of :func:`csv_cell`."""
    return [csv_cell(v) for v in values]


def append_text_row(sheet: Any, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl ``sheet`` with every string stored as a string
    (openpyxl otherwise stores a string starting with ``=`` as a formula)."""
    row = list(values)
    sheet.append(row)
    for cell, value in zip(sheet[sheet.max_row], row, strict=False):
        if isinstance(value, str):
            cell.value = value
            cell.data_type = "s"
