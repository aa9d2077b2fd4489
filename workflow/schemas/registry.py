"""workflow: API schemas of the registry: dispatch (phát hành), incoming documents
(văn bản đến) and their handling, the registers (sổ đăng ký)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from storage.registry_models import Dispatch as DispatchRow
from storage.registry_models import IncomingEntry as EntryRow
from workflow.schemas.base import MAX_LIST, Day, Form, Int, IntLike, Moment, Request, Response
from workflow.schemas.documents import UnitRef

# --- dispatch --------------------------------------------------------------------------


class OutsideRecipientRequest(Request):
    """A recipient outside the system, reached by a one-time download link by e-mail."""

    name: str | None = Field(default=None, description="required")
    email: str | None = Field(default=None, description="required, a valid address")


class DispatchRequest(Request):
    """``POST /documents/{document_id}/dispatch``: at least one recipient."""

    recipients: list[Int] | None = Field(
        default=None, max_length=MAX_LIST, description="recipient unit ids"
    )
    external: list[OutsideRecipientRequest] | None = Field(default=None, max_length=MAX_LIST)


class DispatchToUnit(Response):
    """A recipient unit (its incoming register)."""

    type: Literal["unit"]
    id: int
    code: str
    name: str


class DispatchOutside(Response):
    """A recipient outside the system."""

    type: Literal["external"]
    name: str | None
    email: str | None


class Person(Response):
    """A user, by name."""

    username: str
    full_name: str


class Dispatch(Response):
    """One recipient of an issued document, and whether they received it."""

    id: int
    document_id: int
    recipient: Annotated[DispatchToUnit | DispatchOutside, Field(discriminator="type")]
    state: str = Field(description="sent, received, returned, link, not_sent, mail_failed, ...")
    form: str = Field(description="electronic, or paper")
    dispatched_at: Moment
    received_at: Moment | None
    received_by: Person | None
    downloaded_at: Moment | None
    mail_status: str | None = Field(description="outside recipients: the e-mail's outcome")
    download_url: str | None = Field(
        default=None, description="only when no e-mail could be sent: hand the link over"
    )

    @classmethod
    def of(cls, row: DispatchRow, mail_status: str | None, link: str | None = None) -> Dispatch:
        unit = row.recipient_unit
        extra: dict[str, Any] = {} if link is None else {"download_url": link}
        return cls(
            id=row.id,
            document_id=row.document_id,
            recipient=DispatchToUnit(type="unit", id=unit.id, code=unit.code, name=unit.name)
            if unit
            else DispatchOutside(type="external", name=row.external_name, email=row.external_email),
            state=row.state,
            form=row.form,
            dispatched_at=row.dispatched_at,
            received_at=row.received_at,
            received_by=Person(
                username=row.received_by.username, full_name=row.received_by.full_name
            )
            if row.received_by
            else None,
            downloaded_at=row.downloaded_at,
            mail_status=mail_status,
            **extra,
        )


class DispatchList(Response):
    """The recipients of a document."""

    document_id: int
    dispatches: list[Dispatch]


# --- incoming documents ----------------------------------------------------------------


class PersonRef(Response):
    """A user, with their id."""

    id: int
    username: str
    full_name: str


class Handling(Response):
    """Where the handling of a received entry stands (null before it starts)."""

    document_id: int = Field(description="the entry's handling document (its tasks)")
    state: str
    state_label: str
    assigned_unit: UnitRef | None
    assignee: PersonRef | None = Field(description="the lead person (chủ trì)")
    assigned_by: PersonRef | None
    assigned_at: Moment | None
    note: str | None = Field(description="the leader's note (ý kiến chỉ đạo)")
    waiting_for: list[PersonRef | None]
    due_at: Moment | None
    overdue: bool
    handled_by: PersonRef | None
    handled_at: Moment | None
    comment: str | None
    reply_document_id: int | None


class IncomingEntry(Response):
    """An entry of a unit's incoming register (văn bản đến)."""

    id: int
    unit: UnitRef
    number: int | None = Field(description="số đến, given on receipt")
    year: int | None
    source: str = Field(description="internal or external")
    state: str = Field(description="pending, received or returned")
    form: str = Field(description="electronic, or paper (received on paper)")
    sender: str
    sender_unit_id: int | None = Field(description="the sending unit, when of the bloc")
    classification: str | None = Field(description="mat, toi_mat or tuyet_mat")
    original_symbol: str | None
    original_date: Day | None
    subject: str
    doc_type: str | None
    document_id: int | None
    sha256: str | None = Field(description="the file (null: on paper, no scan)")
    created_at: Moment
    received_at: Moment | None
    received_by: str | None
    return_reason: str | None
    validation: dict[str, Any] | None = Field(description="the signature check on receipt")
    handling: Handling | None

    @classmethod
    def of(cls, entry: EntryRow, handling: dict[str, Any] | None) -> IncomingEntry:
        return cls(
            id=entry.id,
            unit=UnitRef(id=entry.unit.id, code=entry.unit.code, name=entry.unit.name),
            number=entry.number,
            year=entry.year,
            source=entry.source,
            state=entry.state,
            form=entry.form,
            sender=entry.sender,
            sender_unit_id=entry.sender_unit_id,
            classification=entry.classification,
            original_symbol=entry.original_symbol,
            original_date=entry.original_date,
            subject=entry.subject,
            doc_type=entry.doc_type,
            document_id=entry.document_id,
            sha256=entry.blob_sha256,
            created_at=entry.created_at,
            received_at=entry.received_at,
            received_by=entry.received_by.username if entry.received_by else None,
            return_reason=entry.return_reason,
            validation=entry.validation,
            handling=None if handling is None else Handling.model_validate(handling),
        )


class IncomingList(Response):
    """``GET /incoming``."""

    incoming: list[IncomingEntry]


class IncomingQuery(Request):
    """``GET /incoming`` query."""

    unit: str | None = Field(default=None, description="a unit id (default: the caller's)")
    state: str | None = Field(default=None, description="pending, received or returned")


class IncomingForm(Form):
    """``POST /incoming`` (multipart): a PDF received from outside, registered."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}
    sender: str | None = Field(default=None, description="required")
    original_symbol: str | None = None
    original_date: str | None = Field(default=None, description="YYYY-MM-DD")
    subject: str | None = Field(default=None, description="required")
    doc_type: str | None = None
    unit: str | None = Field(default=None, description="a unit id (default: the caller's)")


class AssignRequest(Request):
    """``POST /incoming/{entry_id}/assign``: a leader's decision (bút phê)."""

    unit: IntLike | None = Field(default=None, description="required: the unit in charge")
    assignee: IntLike | None = Field(
        default=None, description="the lead person, a member of that unit"
    )
    deadline_days: IntLike | None = Field(default=None, description="working days, 1..365")
    note: str | None = None


class CompleteRequest(Request):
    """``POST /incoming/{entry_id}/complete``: handled (đã xử lý)."""

    comment: str | None = None
    reply_document: IntLike | None = Field(default=None, description="a reply document's id")
    work_file: IntLike | None = Field(default=None, description="file it in this work file")


# --- registers -------------------------------------------------------------------------


class RegisterColumn(Response):
    """A column of a register, as printed."""

    key: str
    title: str


class Register(Response):
    """``GET /registers/{kind}``: the outgoing or incoming register of a unit for a year."""

    kind: Literal["outgoing", "incoming"]
    title: str
    unit: UnitRef
    year: int
    columns: list[RegisterColumn]
    entries: list[dict[str, Any]] = Field(description="one object per row, keyed by column")


class RegisterQuery(Request):
    """``GET /registers/{kind}`` query."""

    unit: str | None = Field(default=None, description="a unit id (default: the caller's)")
    year: str | None = Field(default=None, description="default: this year")
    q: str | None = Field(default=None, description="words of the subject")
    doc_type: str | None = None
    date_from: str | None = Field(default=None, alias="from", description="YYYY-MM-DD")
    date_to: str | None = Field(default=None, alias="to", description="YYYY-MM-DD")
    format: Literal["json", "csv", "xlsx", "pdf"] | None = Field(
        default=None, description="json (default) or an export file"
    )


# --- the paper side --------------------------------------------------------------------


class HandSignedRequest(Request):
    """``POST /outgoing/paper`` (JSON, or multipart with a ``file``: the scan, PDF)."""

    doc_type: str | None = Field(default=None, description="required: NQ, QĐ, CV...")
    subject: str | None = Field(default=None, description="required (trích yếu)")
    signer: str | None = Field(default=None, description="required: username or name")
    signed_on: str | None = Field(default=None, description="required: YYYY-MM-DD, not later")
    unit: str | int | None = Field(default=None, description="unit code (default: the clerk's)")
    copies: str | int | None = Field(default=None, description="số lượng bản (integer)")


class HandSignedForm(HandSignedRequest, Form):
    """``POST /outgoing/paper`` as multipart, with the scan."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}


class HandSigned(Response):
    """A document signed by hand, numbered in the same yearly series."""

    id: int
    number: int | None
    symbol: str | None
    issued_at: Moment | None
    series: str | None
    series_label: str | None
    form: str
    form_label: str
    doc_type: str
    subject: str
    unit: UnitRef
    issuer: str | None
    signer: str | None
    signer_username: str | None
    signed_on: Day | None
    scan_sha256: str | None


class PaperIncomingRequest(Request):
    """``POST /incoming/paper`` (JSON, or multipart with a ``file``: the scan)."""

    sender: str | None = Field(default=None, description="the outside organisation's name")
    sender_unit: str | None = Field(default=None, description="or the sending unit's code")
    original_symbol: str | None = None
    original_date: str | None = Field(default=None, description="YYYY-MM-DD")
    subject: str | None = Field(default=None, description="trích yếu (empty for tuyet_mat)")
    doc_type: str | None = None
    classification: str | None = Field(default=None, description="mat, toi_mat, tuyet_mat")
    unit: str | int | None = Field(default=None, description="unit id or code (receiving)")


class PaperIncomingForm(PaperIncomingRequest, Form):
    """``POST /incoming/paper`` as multipart, with the scan."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}


class PaperDispatchRequest(Request):
    """``POST /documents/{document_id}/paper-dispatches``: sent on paper (a T1 miss)."""

    recipients: list[Int] | None = Field(
        default=None, max_length=MAX_LIST, description="recipient unit ids"
    )
    external: list[str] | None = Field(
        default=None, max_length=MAX_LIST, description="outside recipients' names"
    )
    sent_on: str | None = Field(default=None, description="YYYY-MM-DD (default: today)")


class PaperRecipientOutside(Response):
    """A paper recipient outside the bloc."""

    type: Literal["external"]
    name: str | None


class PaperDispatch(Response):
    """One paper recipient of a document."""

    id: int
    document_id: int
    recipient: Annotated[DispatchToUnit | PaperRecipientOutside, Field(discriminator="type")]
    form: str
    sent_on: Day | None


class PaperDispatchList(Response):
    """The paper recipients of a document."""

    document_id: int
    paper_dispatches: list[PaperDispatch]
