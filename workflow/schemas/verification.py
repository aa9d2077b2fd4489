"""workflow: API schemas of verification: the validation report of an uploaded PDF and
the public record of a verification code (``/v/<code>``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from workflow.schemas.base import Form, Request, Response


class Indication(Response):
    """An ETSI EN 319 102-1 indication."""

    indication: str = Field(description="TOTAL-PASSED, TOTAL-FAILED or INDETERMINATE")
    sub_indication: str | None


class CertInfo(Response):
    """A certificate of a signature's chain."""

    subject: str
    issuer: str
    serial: str
    not_before: str | None = Field(json_schema_extra={"format": "date-time"})
    not_after: str | None = Field(json_schema_extra={"format": "date-time"})
    fingerprint_sha256: str
    trust_anchor: bool


class SignatureDetail(Response):
    """Everything checked about one signature (or document timestamp)."""

    field_name: str
    kind: str = Field(description="signature or document_timestamp")
    signer: dict[str, Any] = Field(description="name, subject")
    certificate_chain: list[CertInfo]
    trust: dict[str, Any] = Field(description="trusted, root, root_fingerprint_sha256")
    revocation: dict[str, Any] = Field(
        description="status, revoked_at, at_signing_time, embedded, embedded_kinds"
    )
    signing_time: str | None = Field(json_schema_extra={"format": "date-time"})
    timestamp: dict[str, Any] | None = Field(
        description="time, authority, authority_fingerprint_sha256, valid"
    )
    coverage: dict[str, Any] = Field(
        description="level, whole_file, signed_revision, total_revisions"
    )
    modifications: dict[str, Any] = Field(description="level, pyhanko_level, docmdp_ok")
    pades_level: str
    subfilter: str
    certification: dict[str, Any] | None = Field(description="permission, docmdp_ok")
    intact: bool
    valid: bool
    bottom_line: bool
    problems: list[str]
    summary: str
    etsi: Indication


class UploadedFile(Response):
    """The file that was checked (nothing of it is stored)."""

    name: str
    sha256: str
    size: int


class FileReport(Response):
    """``POST /validate``: the validation report of an uploaded PDF."""

    file: UploadedFile
    verdict: str = Field(description="valid, invalid or unsigned")
    error: str | None
    indication: Indication
    revisions: int | None = Field(description="revisions of the file (null: unsigned)")
    signatures: list[SignatureDetail]
    validated_at: str = Field(json_schema_extra={"format": "date-time"})
    active_content: list[str] = Field(
        default_factory=list,
        description="active content in the file (JavaScript, XFA, launch actions, embedded "
        "files, automatic actions), each in Vietnamese with where it is; empty: none",
    )


class ValidateQuery(Request):
    """``POST /validate`` query."""

    format: str | None = Field(
        default=None, description="json (default), html, or pdf (a report signed with the seal)"
    )


class ValidateForm(Form):
    """``POST /validate`` (multipart): the PDF to check."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}


class PublicRegisterEntry(Response):
    """What anyone may learn of an issued document (no subject if classified)."""

    symbol: str | None
    number: int | None
    issued_at: str | None = Field(json_schema_extra={"format": "date-time"})
    issuer: str | None
    doc_type: str
    doc_type_label: str
    state: str
    state_label: str
    recalled: bool
    recalled_at: str | None = Field(json_schema_extra={"format": "date-time"})
    classified: bool
    subject: str | None


class PublicSignature(Response):
    """A signature, without personal names."""

    kind: str = Field(description="seal, personal or document_timestamp")
    label: str
    signed_at: str | None = Field(json_schema_extra={"format": "date-time"})
    pades_level: str
    intact: bool
    trusted: bool
    coverage: str
    modifications: str
    valid: bool
    etsi: Indication


class PublicRecord(Response):
    """``GET /verify/{code}`` (public): the register entry and the live validity."""

    code: str
    register_: PublicRegisterEntry = Field(alias="register")
    status: str = Field(description="valid, invalid, recalled or no_content")
    file: dict[str, Any] | None = Field(description="sha256, size (null: metadata only)")
    indication: Indication | None
    signatures: list[PublicSignature]
    validated_at: str | None = Field(
        default=None, json_schema_extra={"format": "date-time"}, description="with content"
    )
