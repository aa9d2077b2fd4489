"""workflow: certificate lifecycle: list with expiry warnings, issue, renew, revoke
(use-cases; the API and the page are in ``certificates_web``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.images import ImageInputError, normalise_signature_png
from signing.pki import EmbeddedPki
from storage import audit, validation_cache
from storage.audit import AuditAction
from storage.blobs import BlobStore
from storage.models import Certificate, Role, Unit, User
from storage.types import utcnow
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.schemas import signatures as schemas
from workflow.services import Services
from workflow.signatures.personal_certs import issue_personal_certificate

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
    # Reports that judged signatures of this certificate are stale: every page revalidates.
    validation_cache.bump_trust_version(session)
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


def set_signature_image(session: Session, blobs: BlobStore, actor: User, data: bytes) -> str:
    """Store the actor's handwritten-signature image (a transparent PNG, normalised).

    :raises InvalidInputError: not a usable PNG (the reason in Vietnamese).
    """
    try:
        png = normalise_signature_png(data)
    except ImageInputError as exc:
        raise InvalidInputError(str(exc), code=f"image_{exc.code}") from exc
    sha = blobs.put_bytes(png)
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
