"""workflow: certificate lifecycle: list with expiry warnings, issue, renew, revoke
(JSON API on /api/v1 and an administration page)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.images import ImageInputError, normalise_signature_png
from signing.pki import EmbeddedPki
from storage import audit
from storage.audit import AuditAction
from storage.blobs import FilesystemBlobStore
from storage.models import Certificate, Role, Unit, User
from storage.types import utcnow
from workflow.accounts.web import current_actor
from workflow.documents.api import _actor, _json_body, bp
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.i18n import translate
from workflow.schemas import signatures as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import Services, get_services, get_session
from workflow.setup.demo import issue_personal_certificate

pages = Blueprint("certificates", __name__)

WARN_DAYS = 30
REASONS = ("key_compromise", "affiliation_changed", "superseded", "cessation_of_operation")
MIN_PASSPHRASE = 8


def expiry_warning(cert: Certificate, now: datetime) -> str | None:
    """:returns: a warning (in the request's language) when the certificate expires within
    30 days."""
    if cert.status != "active":
        return None
    left = cert.not_after - now
    if left <= timedelta(0):
        return _("Chứng thư số đã hết hạn; hãy gia hạn để tiếp tục ký.")
    if left <= timedelta(days=WARN_DAYS):
        return _("Chứng thư số sẽ hết hạn sau %(days)s ngày; hãy gia hạn.", days=max(1, left.days))
    return None


def certificate_answer(cert: Certificate, owner: User | None, now: datetime) -> schemas.Certificate:
    """:returns: the API form of a certificate (never its key), also shown on the page."""
    return schemas.Certificate.of(cert, owner, now, expiry_warning(cert, now))


def visible_certificates(session: Session, actor: User) -> list[tuple[Certificate, User | None]]:
    """:returns: every certificate for administrators, the actor's own otherwise."""
    query = select(Certificate, User).outerjoin(User, User.id == Certificate.user_id)
    if not actor.has_role(Role.ADMIN):
        query = query.where(Certificate.user_id == actor.id)
    return [(c, u) for c, u in session.execute(query.order_by(Certificate.id))]


def revoke(session: Session, actor: User, cert_id: int, reason: str | None) -> Certificate:
    """Revoke a certificate: the OCSP answer says so at once, the next CRL lists it."""
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError(_("Chỉ quản trị hệ thống được thu hồi chứng thư số."))
    cert = session.get(Certificate, cert_id)
    if cert is None:
        raise NotFoundError(_("Không tìm thấy chứng thư số."))
    if cert.status == "revoked":
        raise ConflictError(_("Chứng thư số này đã bị thu hồi trước đó."))
    reason = reason or "cessation_of_operation"
    if reason not in REASONS:
        raise InvalidInputError(
            _("Lý do thu hồi không hợp lệ: %(reasons)s.", reasons=", ".join(REASONS))
        )
    cert.status = "revoked"
    cert.revoked_at = utcnow()
    cert.revocation_reason = reason
    audit.append(
        session,
        AuditAction.CERT_REVOKED,
        actor_id=actor.id,
        object_type="certificate",
        object_id=cert.id,
        details={"fingerprint": cert.fingerprint, "reason": reason},
    )
    return cert


def issue_for(
    session: Session, services: Services, actor: User, username: str, passphrase: str
) -> Certificate:
    """Issue (or renew) a personal signing certificate; the previous one is superseded.

    An administrator may issue for anyone (handing over the initial passphrase); a user
    renews their own with their passphrase.
    """
    user = session.scalars(select(User).where(User.username == (username or "").strip())).first()
    if user is None:
        raise NotFoundError(_("Không tìm thấy người dùng."))
    if user.id != actor.id and not actor.has_role(Role.ADMIN):
        raise ForbiddenError(_("Chỉ quản trị hệ thống được cấp chứng thư số cho người khác."))
    if len(passphrase or "") < MIN_PASSPHRASE:
        raise InvalidInputError(
            _("Mật khẩu khóa ký số phải có ít nhất %(n)s ký tự.", n=MIN_PASSPHRASE)
        )
    signer_units = sorted(user.units_with(Role.SIGNER))
    if not signer_units:
        raise ConflictError(_("Người dùng này không có vai trò người ký; không cấp chứng thư số."))
    unit = session.get(Unit, signer_units[0])
    assert unit is not None  # noqa: S101
    pki: EmbeddedPki = services.trust_services.pki
    previous = session.scalars(
        select(Certificate).where(
            Certificate.user_id == user.id,
            Certificate.purpose == "personal",
            Certificate.status == "active",
        )
    ).all()
    for old in previous:
        old.status = "superseded"
    cert = issue_personal_certificate(
        session,
        pki,
        user.id,
        user.full_name,
        user.title,
        unit.name,
        services.settings.org_name,
        passphrase,
        services.settings.public_url,
    )
    audit.append(
        session,
        AuditAction.CERT_ISSUED,
        actor_id=actor.id,
        object_type="certificate",
        object_id=cert.id,
        details={"user": user.username, "superseded": [c.fingerprint for c in previous]},
    )
    return cert


def set_signature_image(
    session: Session, blobs: FilesystemBlobStore, actor: User, data: bytes
) -> str:
    """Store the actor's handwritten-signature image (a transparent PNG, normalised).

    :raises InvalidInputError: not a usable PNG (the reason in Vietnamese).
    """
    try:
        png = normalise_signature_png(data)
    except ImageInputError as exc:
        raise InvalidInputError(str(exc), code=f"image_{exc.code}") from exc
    staged = blobs.stage(io.BytesIO(png))
    sha = blobs.publish(staged)
    user = session.get(User, actor.id)
    assert user is not None  # noqa: S101
    user.signature_png_sha256 = sha
    audit.append(
        session,
        "user:signature_image",
        actor_id=actor.id,
        object_type="user",
        object_id=actor.id,
        details={"sha256": sha, "size": len(png)},
    )
    return sha


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
    sha = set_signature_image(db, get_services().blobs, _actor(), _uploaded_bytes())
    db.commit()
    return schemas.SignatureImage(sha256=sha).dump(), 201


@bp.get("/certificates")
@operation(responses={200: schemas.CertificateList})
def api_list() -> Any:
    """Certificates (own, or all for administrators) with expiry warnings."""
    now = utcnow()
    rows = visible_certificates(get_session(), _actor())
    return schemas.CertificateList(
        certificates=[certificate_answer(c, u, now) for c, u in rows]
    ).dump()


@bp.post("/users/<username>/certificates/personal")
@operation(body=schemas.IssueCertificateRequest, responses={201: schemas.Certificate})
def api_issue(username: str) -> Any:
    """Issue or renew a personal signing certificate (``{"passphrase"}``)."""
    passphrase = parse(schemas.IssueCertificateRequest, _json_body()).passphrase
    db = get_session()
    cert = issue_for(db, get_services(), _actor(), username, passphrase)
    db.commit()
    user = db.get(User, cert.user_id) if cert.user_id else None
    return certificate_answer(cert, user, utcnow()).dump(), 201


@bp.post("/certificates/<int:cert_id>/revoke")
@operation(body=schemas.RevokeRequest, responses={200: schemas.Certificate})
def api_revoke(cert_id: int) -> Any:
    """Revoke a certificate (administrators; ``{"reason"}`` optional)."""
    reason = parse(schemas.RevokeRequest, _json_body()).reason
    db = get_session()
    cert = revoke(db, _actor(), cert_id, reason)
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
