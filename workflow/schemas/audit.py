"""workflow: API schemas of the audit log (its hash chain, its entries) and the audit
bundle export."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from workflow.schemas.base import Moment, Request, Response


class CheckpointsChecked(Response):
    """The checkpoints compared with the recomputed chain."""

    checked: int
    ok: bool


class ChainReport(Response):
    """``GET /audit/verify``: the chain recomputed (a broken chain is a result)."""

    ok: bool
    entries: int
    first_broken: int | None
    reason: str | None = Field(description="why that entry fails (English)")
    head_hash: str
    checkpoints: CheckpointsChecked


class VerifyQuery(Request):
    """``GET /audit/verify`` query."""

    start: str | None = Field(
        default=None, alias="from", description="genesis (default) or latest (checkpoint)"
    )


class AuditEvent(Response):
    """An audit log entry, Vietnam time."""

    seq: int
    at: Moment
    actor_id: int | None
    actor: str | None = Field(description="username")
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditEvents(Response):
    """``GET /audit/events``."""

    events: list[AuditEvent]
    next_after: int | None = Field(description="the next page's ``after`` (null: the last page)")


class EventsQuery(Request):
    """``GET /audit/events`` query."""

    after: str | None = Field(default=None, description="entries with seq > after (default 0)")
    limit: str | None = Field(default=None, description="1..1000, default 100")


class BundleRequest(Request):
    """``POST /bundles``: the audit bundle (ZIP) of a unit and a period."""

    unit: str | int | None = Field(
        default=None, description="a unit's code or id (default: the whole organisation)"
    )
    period: str | None = Field(default=None, examples=["2026", "2026-Q3", "2026-09"])
