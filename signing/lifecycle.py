"""Signing layer: can this certificate sign now? (validity period and revocation)."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from signing.certutil import whole_seconds
from signing.errors import CertificateUnusableError
from signing.revocation import CertStatus
from signing.stamps import vietnam_iso

_REASONS_VI = {
    "key_compromise": "lộ khóa bí mật",
    "ca_compromise": "tổ chức cấp chứng thư bị xâm phạm",
    "affiliation_changed": "thay đổi đơn vị công tác",
    "superseded": "đã được thay thế bằng chứng thư mới",
    "cessation_of_operation": "ngừng sử dụng",
    "certificate_hold": "tạm dừng",
    "privilege_withdrawn": "bị thu hồi quyền",
}


def check_signable(cert_pem: bytes, now: datetime, status: CertStatus | None = None) -> None:
    """Refuse a signer certificate that is expired, not yet valid or revoked at ``now``.

    Call it before signing: a signature made with such a certificate would not
    validate, and pyHanko would only fail later with a technical error.

    :param cert_pem: the signer certificate (PEM or DER).
    :param now: the signing time (timezone-aware; naive values are taken as UTC).
    :param status: the certificate's revocation status (from the database); None
        skips the revocation check.
    :raises CertificateUnusableError: with ``code`` ``'unreadable'``,
        ``'not_yet_valid'``, ``'expired'`` or ``'revoked'`` and a Vietnamese message.
    """
    try:
        if cert_pem.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(cert_pem)
        else:
            cert = x509.load_der_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CertificateUnusableError(
            "unreadable", "Không đọc được chứng thư số của người ký."
        ) from exc
    moment = whole_seconds(now)
    if moment < cert.not_valid_before_utc:
        raise CertificateUnusableError(
            "not_yet_valid",
            "Chứng thư số chưa có hiệu lực (hiệu lực từ "
            f"{vietnam_iso(cert.not_valid_before_utc)}); chưa thể ký.",
        )
    if moment > cert.not_valid_after_utc:
        raise CertificateUnusableError(
            "expired",
            f"Chứng thư số đã hết hạn từ {vietnam_iso(cert.not_valid_after_utc)}; "
            "hãy đề nghị cấp chứng thư mới.",
        )
    if status is not None and status.revoked:
        revoked_at = status.revoked_at
        if revoked_at is None or whole_seconds(revoked_at) <= moment:
            when = f" từ {vietnam_iso(revoked_at)}" if revoked_at is not None else ""
            reason = _REASONS_VI.get(status.reason or "")
            why = f" (lý do: {reason})" if reason else ""
            raise CertificateUnusableError(
                "revoked",
                f"Chứng thư số đã bị thu hồi{when}{why}; không thể dùng để ký.",
            )
