"""storage: the SQLAlchemy 2 models of TrinhKy."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What a person may do in a unit."""

    DRAFTER = "drafter"
    APPROVER = "approver"
    SIGNER = "signer"
    CLERK = "clerk"
    AUDITOR = "auditor"
    ADMIN = "admin"


class UnitKind(enum.StrEnum):
    """Kinds of units in the bloc."""

    COMMITTEE = "committee"
    STANDING = "standing"
    OFFICE = "office"
    BOARD = "board"
    GRASSROOTS = "grassroots"


class Unit(Base):
    """A unit of the organisation; units form a tree."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    symbol: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Number and symbol format of documents this unit issues (Party style by default).
    number_format: Mapped[str | None] = mapped_column(String(64))
    # The red seal image (a blob) for the organisation's signature; a default is drawn.
    seal_png_sha256: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255))
    # A deactivated unit keeps its history but gets no new roles, routes or documents.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class User(Base):
    """A person who logs in. Defines flask-login's attributes without importing it."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(255))
    # E-mail notices: "each" event, a daily "digest", or "none"; in this language.
    notify_mode: Mapped[str] = mapped_column(String(8), default="each", server_default="each")
    language: Mapped[str] = mapped_column(String(8), default="vi", server_default="vi")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # The transparent PNG of the person's handwritten signature (a blob), if uploaded.
    signature_png_sha256: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Raised on logout and password change: a session cookie carrying an older value is
    # no longer accepted (cookies are signed, not stored, so this is how they end).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # flask-login's protocol, spelled out so that storage does not import flask_login.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, role: Role, unit_id: int | None = None) -> bool:
        """:returns: whether the user holds ``role`` (in ``unit_id`` if given)."""
        return any(r.role == role and (unit_id is None or r.unit_id == unit_id) for r in self.roles)

    def units_with(self, role: Role) -> set[int]:
        """:returns: the ids of the units in which the user holds ``role``."""
        return {r.unit_id for r in self.roles if r.role == role}


class RoleAssignment(Base):
    """One role of one user in one unit."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="roles")
    unit: Mapped[Unit] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Failed logins counted under one key (a source address, or an account from one
    source), in the database so that every worker and host shares them."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Certificate(Base):
    """A signing certificate and its private key, encrypted at rest (PKCS#8)."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # For the organisation's seal certificate: the issuing unit.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default="personal")
    serial: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    cert_pem: Mapped[str] = mapped_column(Text)
    encrypted_key_pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="active")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(64))
    failed_unlocks: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Route(Base):
    """A route template (tuyến trình), versioned: a document keeps its version."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the route is for: "outgoing" documents, "report"s, "incoming" documents.
    kind: Mapped[str] = mapped_column(String(16), default="outgoing", server_default="outgoing")
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    stages: Mapped[list[RouteStage]] = relationship(
        back_populates="route",
        order_by="RouteStage.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class RouteStage(Base):
    """One ordered stage of a route template."""

    __tablename__ = "route_stages"
    __table_args__ = (UniqueConstraint("route_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    assignee_role: Mapped[str] = mapped_column(String(16))
    # None: the drafter's own unit; otherwise the code of a fixed unit.
    assignee_unit_code: Mapped[str | None] = mapped_column(String(32))
    # A named person instead of a role (takes precedence over the role when set).
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mode: Mapped[str] = mapped_column(String(8), default="any")
    deadline_days: Mapped[int | None] = mapped_column(Integer)
    # Conditions: the stage applies only to these doc types / urgencies / drafting units.
    when_doc_types: Mapped[list[str] | None] = mapped_column(JSON)
    when_urgencies: Mapped[list[str] | None] = mapped_column(JSON)
    when_units: Mapped[list[str] | None] = mapped_column(JSON)

    route: Mapped[Route] = relationship(back_populates="stages")


class Document(Base):
    """A document travelling on a route. ``version`` guards concurrent transitions."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint(
            "issuer_unit_id", "register", "year", "number", name="uq_documents_number"
        ),
        # Classified documents have their own series (register ``outgoing_classified``)
        # with the ordinary symbol format: a symbol is unique within one series only.
        UniqueConstraint(
            "issuer_unit_id", "register", "year", "symbol", name="uq_documents_symbol"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(Text)
    doc_type: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(24), index=True)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    current_stage: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    urgency: Mapped[str | None] = mapped_column(String(16))
    classification: Mapped[str | None] = mapped_column(String(16))
    metadata_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The stage a returned document resumes at when resubmitted.
    resume_stage: Mapped[int | None] = mapped_column(Integer)
    # Issuance (ban hành): number, symbol and date in the issuer's register.
    issuer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    register: Mapped[str | None] = mapped_column(String(24))
    year: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)
    symbol: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    copies: Mapped[int | None] = mapped_column(Integer)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recall_reason: Mapped[str | None] = mapped_column(Text)
    # Công khai: listed on the public portal (never a classified document, never by default).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Incoming documents: their origin ("internal" dispatch or "external" upload).
    direction: Mapped[str] = mapped_column(
        String(16), default="outgoing", server_default="outgoing"
    )
    # Hình thức: "electronic" (điện tử), or "paper" (giấy: signed by hand and registered
    # by the clerk; classified documents registered as metadata only are paper too).
    form: Mapped[str] = mapped_column(String(16), default="electronic", server_default="electronic")

    unit: Mapped[Unit] = relationship(lazy="joined", foreign_keys=[unit_id])
    created_by: Mapped[User] = relationship(lazy="joined", foreign_keys=[created_by_id])
    issuer_unit: Mapped[Unit | None] = relationship(foreign_keys=[issuer_unit_id])
    route: Mapped[Route | None] = relationship()
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="document", order_by="Revision.number", lazy="selectin"
    )
    tasks: Mapped[list[Task]] = relationship(
        back_populates="document", order_by="Task.id", lazy="selectin"
    )
    # Nơi nhận dự kiến: what the drafter proposes; the clerk confirms them when dispatching.
    planned_recipients: Mapped[list[PlannedRecipient]] = relationship(
        order_by="PlannedRecipient.id", lazy="selectin"
    )

    __mapper_args__: dict[str, Any] = {"version_id_col": version}

    @property
    def current_revision(self) -> Revision:
        """:returns: the newest revision (metadata-only documents have none: check)."""
        return self.revisions[-1]

    @property
    def has_content(self) -> bool:
        """:returns: whether a PDF is stored (classified documents are metadata only)."""
        return bool(self.revisions)


class PlannedRecipient(Base):
    """A recipient the drafter intends for a document: a unit, or an outside name and
    e-mail address (exactly one of the two)."""

    __tablename__ = "planned_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))

    unit: Mapped[Unit | None] = relationship(lazy="joined")


class Revision(Base):
    """An immutable revision of a document's PDF, addressed by its SHA-256."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    blob_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """Who made it; none for the system's own (an archival timestamp renewal)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    original_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    """The file as uploaded, kept beside a repaired or decrypted revision."""
    conversion: Mapped[str | None] = mapped_column(String(16), default=None)
    """``'repaired'`` (rewritten by qpdf) or ``'decrypted'`` (empty password); None."""
    conversion_note: Mapped[str | None] = mapped_column(Text, default=None)
    """What the repairer recovered from (its warnings)."""

    document: Mapped[Document] = relationship(back_populates="revisions")
    created_by: Mapped[User | None] = relationship(lazy="joined")


class Task(Base):
    """A person's task on one stage of a document's route."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_assignee_state", "assignee_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    stage_position: Mapped[int] = mapped_column(Integer)
    stage_name: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(16))
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    # A consultation's answer: dong_y / khong_dong_y / y_kien_khac.
    answer: Mapped[str | None] = mapped_column(String(16))
    # Set when a delegate acted: the task's assignee on whose behalf they acted.
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    document: Mapped[Document] = relationship(back_populates="tasks")
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id], lazy="joined")
    acted_by: Mapped[User | None] = relationship(foreign_keys=[acted_by_id], lazy="joined")
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id], lazy="joined")


class Signature(Base):
    """A signature TrinhKy applied, validated before it was stored."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), unique=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    field_name: Mapped[str] = mapped_column(String(128))
    pades_level: Mapped[str] = mapped_column(String(8))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    signer: Mapped[User] = relationship(lazy="joined")
    certificate: Mapped[Certificate] = relationship(lazy="joined")


class AuditEvent(Base):
    """One entry of the append-only, hash-chained audit log."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)


class AuditHead(Base):
    """The single row holding the chain head; locked to serialise appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
