"""workflow: certificates on the web: the JSON API on /api/v1 (list, issue, revoke, the
signature image) and the administration page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from storage.models import Role, User
from storage.types import utcnow
from workflow import http
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.http import api_blueprint, current_actor
from workflow.i18n import translate
from workflow.schemas import signatures as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import get_services, get_session
from workflow.signatures.certificates import (
    REASONS,
    certificate_answer,
    issue_for,
    revoke,
    set_signature_image,
    visible_certificates,
)

bp = api_blueprint("certificates_api", __name__)

pages = Blueprint("certificates", __name__)


def _uploaded_bytes(limit: int = 4 * 1024 * 1024) -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInputError(_("Chưa chọn tệp ảnh chữ ký (PNG nền trong suốt)."))
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(_("Ảnh chữ ký quá lớn (tối đa 4 MB)."))
    return data


# --- JSON API ----------------------------------------------------------------------


@bp.post("/me/signature-image")
@operation(form=schemas.SignatureImageForm, responses={201: schemas.SignatureImage})
def api_signature_image() -> Any:
    """Upload your handwritten-signature image (multipart ``file``, transparent PNG)."""
    db = get_session()
    sha = set_signature_image(db, get_services().blobs, http.actor(), _uploaded_bytes())
    db.commit()
    return schemas.SignatureImage(sha256=sha).dump(), 201


@bp.get("/certificates")
@operation(responses={200: schemas.CertificateList})
def api_list() -> Any:
    """Certificates (own, or all for administrators) with expiry warnings."""
    now = utcnow()
    rows = visible_certificates(get_session(), http.actor())
    return schemas.CertificateList(
        certificates=[certificate_answer(c, u, now) for c, u in rows]
    ).dump()


@bp.post("/users/<username>/certificates/personal")
@operation(body=schemas.IssueCertificateRequest, responses={201: schemas.Certificate})
def api_issue(username: str) -> Any:
    """Issue or renew a personal signing certificate (``{"passphrase"}``)."""
    passphrase = parse(schemas.IssueCertificateRequest, http.json_body()).passphrase
    db = get_session()
    cert = issue_for(db, get_services(), http.actor(), username, passphrase)
    db.commit()
    user = db.get(User, cert.user_id) if cert.user_id else None
    return certificate_answer(cert, user, utcnow()).dump(), 201


@bp.post("/certificates/<int:cert_id>/revoke")
@operation(body=schemas.RevokeRequest, responses={200: schemas.Certificate})
def api_revoke(cert_id: int) -> Any:
    """Revoke a certificate (administrators; ``{"reason"}`` optional)."""
    reason = parse(schemas.RevokeRequest, http.json_body()).reason
    db = get_session()
    cert = revoke(db, http.actor(), cert_id, reason)
    db.commit()
    user = db.get(User, cert.user_id) if cert.user_id else None
    return certificate_answer(cert, user, utcnow()).dump()


# --- page --------------------------------------------------------------------------


@pages.route("/certificates", methods=["GET", "POST"])
@login_required
def page() -> Any:
    """Certificates and keys: list, renew your own, revoke (administrators)."""
    db, actor = get_session(), current_actor()
    status = 200
    if request.method == "POST":
        try:
            if request.files.get("file"):
                set_signature_image(db, get_services().blobs, actor, _uploaded_bytes())
                flash(_("Đã lưu ảnh chữ ký."), "ok")
            elif request.form.get("revoke"):
                revoke(db, actor, int(request.form["revoke"]), request.form.get("reason"))
                flash(_("Đã thu hồi chứng thư số."), "ok")
            else:
                issue_for(
                    db,
                    get_services(),
                    actor,
                    request.form.get("username", actor.username),
                    request.form.get("passphrase", ""),
                )
                flash(_("Đã cấp chứng thư số mới."), "ok")
            db.commit()
            return redirect(url_for("certificates.page"))
        except (InvalidInputError, ForbiddenError, ConflictError, NotFoundError, ValueError) as exc:
            db.rollback()
            flash(translate(getattr(exc, "message", _("Dữ liệu không hợp lệ."))), "error")
            status = getattr(exc, "status", 422)
    now = utcnow()
    rows = [certificate_answer(c, u, now).dump() for c, u in visible_certificates(db, actor)]
    return render_template(
        "certificates/index.html",
        rows=rows,
        is_admin=actor.has_role(Role.ADMIN),
        reasons=REASONS,
        actor=actor,
    ), status
