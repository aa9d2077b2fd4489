"""workflow: API schemas of the trust list (trusted roots and intermediates)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from storage.trust_models import TrustAnchor as TrustAnchorRow
from workflow.schemas.base import Moment, Request, Response


class TrustCertificate(Response):
    """A certificate of the trust list."""

    id: int | None = Field(description="null for the server's own root (not removable)")
    list_name: str = Field(description="the list validation reports name")
    kind: str = Field(description="root or intermediate")
    subject: str
    issuer: str
    fingerprint_sha256: str
    not_before: Moment
    not_after: Moment
    expired: bool

    @classmethod
    def of(cls, row: TrustAnchorRow, expired: bool) -> TrustCertificate:
        return cls(
            id=row.id,
            list_name=row.list_name,
            kind=row.kind,
            subject=row.subject,
            issuer=row.issuer,
            fingerprint_sha256=row.fingerprint,
            not_before=row.not_before,
            not_after=row.not_after,
            expired=expired,
        )


class TrustList(Response):
    """``GET /trust/certificates``: every trusted certificate and the list's version."""

    version: int = Field(description="monotonic; bumped by every change")
    certificates: list[TrustCertificate]


class TrustImportRequest(Request):
    """``POST /trust/certificates``: one certificate or a bundle."""

    pem: str | None = Field(default=None, description="PEM text (one or several), or PKCS#7 PEM")
    der_b64: str | None = Field(default=None, description="base64 of a DER certificate or .p7b")
    list_name: str = Field(
        min_length=1,
        max_length=120,
        title="tên danh sách tin cậy",
        examples=["Ban Cơ yếu Chính phủ"],
    )
    kind: Literal["root", "intermediate"] | None = Field(
        default=None, description="default: self-signed → root, else intermediate"
    )


class TrustChange(Response):
    """What a change of the trust list did."""

    version: int
    certificates: list[TrustCertificate] = Field(description="added or removed")
    revalidated: int = Field(description="ledger entries re-validated with the new list")
