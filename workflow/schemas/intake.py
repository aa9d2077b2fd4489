"""workflow: API schemas of the e-mail intake (``/intake``: the clerk's queue of
messages read from the office mailboxes)."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Moment, Request, Response


class IntakeQuery(Request):
    """``GET /intake`` query."""

    unit: str | None = Field(default=None, description="a unit id (default: the caller's)")
    state: str | None = Field(
        default="pending", description="pending (default), received, returned or discarded"
    )


class ReturnBody(Request):
    """``POST /intake/{id}/return``: why (sent to the sender in the reply)."""

    reason: str = Field(title="lý do", min_length=1, max_length=2000)


class DiscardBody(Request):
    """``POST /intake/{id}/discard``: optionally why (spam...)."""

    reason: str | None = Field(default=None, title="lý do", max_length=2000)


class MailEntry(Response):
    """An attachment made an incoming entry."""

    id: int
    state: str
    number: int | None
    subject: str
    sha256: str | None
    unsigned: bool
    """Received as "unsigned electronic" (no digital signature)."""
    return_reason: str | None


class MailMessage(Response):
    """One e-mail read from an office mailbox."""

    id: int
    mailbox: str
    message_id: str
    sha256: str
    size: int
    sender: str
    reply_to: str | None
    subject: str
    sent_at: Moment | None
    fetched_at: Moment
    state: str
    problems: list[str]
    reason: str | None
    entries: list[MailEntry]


class MailList(Response):
    """``GET /intake``."""

    messages: list[MailMessage]


class NoticePreferences(Response):
    """``GET /account/notices``: how the caller gets e-mail notices."""

    mode: str
    """each (every event at once), digest (once a day) or none."""
    language: str
    """vi or en."""
    email: str | None
    """Where they go (set by an administrator)."""


class NoticePreferencesBody(Request):
    """``PUT /account/notices``."""

    mode: str = Field(title="cách nhận thư", description="each, digest or none")
    language: str = Field(default="vi", title="ngôn ngữ", description="vi or en")
