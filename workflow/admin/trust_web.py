"""workflow: the trust list page (/admin/trust, on the administration blueprint): trusted
roots and intermediates with fingerprint and validity, import (PEM, DER, bundle),
removal. Thin views: parse, call one use-case, commit, redirect."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from storage import trust_models
from storage.types import utcnow
from workflow.admin import trust_list
from workflow.admin.blueprint import bp
from workflow.admin.trust_api import builtin_root
from workflow.errors import InvalidInputError, WorkflowError
from workflow.http import current_actor
from workflow.services import get_services, get_session

MAX_UPLOAD = 1 << 20
"""A certificate bundle larger than 1 MiB is not a certificate bundle."""


def _page(status: int = 200) -> Any:
    db = get_session()
    now = utcnow()
    rows = [builtin_root(get_services()), *trust_models.anchors(db)]
    return render_template(
        "admin/trust.html",
        rows=[(r, r.not_after < now) for r in rows],
        version=trust_models.current_version(db),
    ), status


@bp.route("/trust", methods=["GET", "POST"])
def trust() -> Any:
    """The trust list, and a form to import a certificate or a bundle."""
    if request.method == "GET":
        return _page()
    db, actor, services = get_session(), current_actor(), get_services()
    upload = request.files.get("file")
    data = upload.read(MAX_UPLOAD + 1) if upload and upload.filename else b""
    data = data or request.form.get("pem", "").encode()
    try:
        if not data or len(data) > MAX_UPLOAD:
            raise InvalidInputError(
                _("Hãy chọn tệp chứng thư (PEM, DER, .p7b, tối đa 1 MiB) hoặc dán văn bản PEM.")
            )
        kind = request.form.get("kind") or None
        added = trust_list.import_certificates(
            db, actor, data, request.form.get("list_name", ""), kind
        )
        change = trust_list.after_change(
            db, services.blobs, services.trust_in(db), actor, added, added=True
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _page(exc.status)
    services.trust_changed()
    flash(
        _(
            "Đã thêm %(n)s chứng thư vào danh sách tin cậy; đã kiểm tra lại %(m)s văn bản.",
            n=len(added),
            m=change.revalidated,
        ),
        "ok",
    )
    return redirect(url_for("admin.trust"))


@bp.route("/trust/<int:anchor_id>/remove", methods=["POST"])
def trust_remove(anchor_id: int) -> Any:
    """Remove one certificate from the trust list."""
    db, actor, services = get_session(), current_actor(), get_services()
    try:
        removed = trust_list.remove_certificate(db, actor, anchor_id)
        change = trust_list.after_change(
            db, services.blobs, services.trust_in(db), actor, [removed], added=False
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _page(exc.status)
    services.trust_changed()
    flash(
        _(
            "Đã gỡ chứng thư khỏi danh sách tin cậy; đã kiểm tra lại %(m)s văn bản.",
            m=change.revalidated,
        ),
        "ok",
    )
    return redirect(url_for("admin.trust"))
