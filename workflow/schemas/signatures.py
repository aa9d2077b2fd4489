"""workflow: API schemas of signatures: certificates, signing off the server (external
signing devices and plugins), bulk signing."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from storage.models import Certificate as CertificateRow
from storage.models import User
from workflow.schemas.base import Form, IntLike, Moment, Request, Response

# --- certificates ----------------------------------------------------------------------


class Certificate(Response):
    """A certificate (chứng thư số), never its key."""

    id: int
    owner: str | None = Field(description="the holder's username (null: the organisation)")
    purpose: str = Field(description="personal, seal, external, ...")
    subject: str
    serial: str
    fingerprint_sha256: str
    not_before: Moment
    not_after: Moment
    status: str = Field(description="active or revoked")
    revoked_at: Moment | None
    revocation_reason: str | None
    expires_in_days: int
    warning: str | None = Field(description="Vietnamese: expired, or expires within 30 days")

    @classmethod
    def of(
        cls, cert: CertificateRow, owner: User | None, now: datetime, warning: str | None
    ) -> Certificate:
        return cls(
            id=cert.id,
            owner=owner.username if owner else None,
            purpose=cert.purpose,
            subject=cert.subject,
            serial=cert.serial,
            fingerprint_sha256=cert.fingerprint,
            not_before=cert.not_before,
            not_after=cert.not_after,
            status=cert.status,
            revoked_at=cert.revoked_at,
            revocation_reason=cert.revocation_reason,
            expires_in_days=(cert.not_after - now).days,
            warning=warning,
        )


class CertificateList(Response):
    """``GET /certificates``: the caller's (every one for administrators)."""

    certificates: list[Certificate]


class IssueCertificateRequest(Request):
    """``POST /users/{username}/certificates/personal``."""

    passphrase: str = Field(title="mật khẩu bảo vệ khóa ký số mới")


class RevokeRequest(Request):
    """``POST /certificates/{cert_id}/revoke`` (administrators)."""

    reason: str | None = None


class SignatureImageForm(Form):
    """``POST /me/signature-image`` (multipart): a transparent PNG."""

    files: ClassVar[dict[str, str]] = {"file": "image/png"}


class SignatureImage(Response):
    """The stored signature image."""

    sha256: str


class RegisterCertificateRequest(Request):
    """``POST /users/{username}/certificates`` (administrators): the certificate of a
    user's signing token (no key is stored)."""

    certificate_pem: str | None = Field(default=None, description="required (PEM)")
    chain_pem: list[str] | None = Field(
        default=None, max_length=10, description="intermediate CAs (PEM)"
    )


# --- external signing ------------------------------------------------------------------


class ExternalPrepareRequest(Request):
    """``POST /tasks/{task_id}/external/prepare``."""

    mode: Literal["signature", "plugin"] | None = Field(
        default=None,
        description="signature (default): the server hands out the data to sign; "
        "plugin: a local plugin signs the whole PDF",
    )
    certificate_pem: str | None = Field(
        default=None, description="signature mode: the device's certificate (PEM)"
    )
    chain_pem: list[str] | None = Field(default=None, max_length=10)


class ExternalPrepared(Response):
    """A signing session: in signature mode the data to sign, in plugin mode the PDF."""

    session_id: str
    mode: str
    task_id: int
    document_id: int
    field_name: str
    level: str
    expires_at: Moment
    document_url: str
    data_to_sign_b64: str | None = Field(default=None, description="signature mode")
    digest_algorithm: str | None = Field(default=None, description="signature mode")
    signature_mechanism: str | None = Field(default=None, description="signature mode")
    complete_url: str | None = Field(default=None, description="signature mode")
    source_sha256: str | None = Field(default=None, description="plugin mode")
    upload_url: str | None = Field(default=None, description="plugin mode")


class ExternalSession(Response):
    """``GET /external/{session_id}``."""

    mode: str
    task_id: int
    document_id: int
    expires_at: Moment
    used: bool
    outcome: str | None


class ExternalCompleteRequest(Request):
    """``POST /external/{session_id}/complete``: exactly one of the two."""

    signature_b64: str | None = Field(default=None, description="a raw signature (base64)")
    cms_b64: str | None = Field(default=None, description="a CMS SignedData (base64)")


class ExternalUploadForm(Form):
    """``POST /external/{session_id}/upload`` (multipart): the PDF signed by the plugin."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}


# --- bulk signing ----------------------------------------------------------------------


class BulkSignRequest(Request):
    """``POST /bulk-sign``: many signing tasks, one passphrase."""

    task_ids: list[IntLike] | None = Field(
        default=None,
        max_length=200,  # workflow.signatures.bulk.MAX_ITEMS: refused before any work
        description="the signing tasks (at least one, at most 200)",
    )
    passphrase: str = Field(min_length=1, title="mật khẩu của khóa ký số")


class BulkAccepted(Response):
    """A bulk signing job accepted (202); it runs in the background."""

    job_id: str
    total: int
    status_url: str


class BulkItem(Response):
    """One task of a bulk job."""

    task_id: int
    document_id: int
    subject: str
    state: str = Field(description="pending, signed or failed")
    error: str | None


class BulkJob(Response):
    """``GET /bulk-sign/{job_id}``: the progress of a bulk job."""

    job_id: str
    status: str = Field(description="running, done or failed")
    total: int
    done: int
    succeeded: int
    failed: int
    error: str | None
    created_at: Moment
    finished_at: Moment | None
    items: list[BulkItem]
