"""workflow: the events TrinhKy pushes to webhooks, and :func:`emit`, which puts one in
the outbox of every endpoint that wants it, in the caller's transaction.

An event is written with the change that caused it: when the transaction commits, both
are there; when it rolls back, neither is. The outbox rows are then delivered by the
``webhooks`` job (and, inside a web request, right after the commit: see
:mod:`workflow.webhooks.delivery`). Classified documents never make an event.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Document
from storage.types import utcnow
from storage.webhook_models import WebhookDelivery, WebhookEndpoint
from workflow.i18n import N_
from workflow.vocab import vn_iso

EVENTS: Mapping[str, str] = {
    "issued": N_("Văn bản được ban hành"),
    "published": N_("Văn bản được công khai trên cổng thông tin"),
    "dispatched": N_("Văn bản được phát hành đến nơi nhận"),
    "received": N_("Văn bản đến được tiếp nhận"),
    "task_assigned": N_("Có việc mới được giao"),
    "overdue": N_("Việc quá hạn xử lý"),
    "recalled": N_("Văn bản bị thu hồi"),
}
"""Every event name and what it means (Vietnamese; English in the catalogue)."""
PENDING_KEY = "webhook_deliveries"
"""``session.info`` key: ids of the deliveries added in this transaction."""


def document_facts(doc: Document) -> dict[str, Any]:
    """:returns: what an event says of a document (never its file or recipients)."""
    return {
        "id": doc.id,
        "symbol": doc.symbol,
        "subject": doc.subject,
        "doc_type": doc.doc_type,
        "issuer": doc.issuer_unit.name if doc.issuer_unit is not None else None,
        "issued_at": vn_iso(doc.issued_at) if doc.issued_at else None,
        "path": f"/public/documents/{doc.id}" if doc.published_at else f"/documents/{doc.id}",
    }


def emit(
    session: Session,
    event: str,
    data: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    document: Document | None = None,
    now: datetime | None = None,
) -> str | None:
    """Queue ``event`` for every active endpoint subscribed to it.

    :param data: the event's own fields (JSON-serialisable), or a function giving them
        (called only when an endpoint wants the event, after the session is flushed, so
        new rows have their ids).
    :param document: the document it is about (its facts are added; a classified
        document makes no event at all).
    :returns: the event's id, or ``None`` when no endpoint wants it.
    :raises ValueError: an unknown event name (a programming error).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if document is not None and document.classification:
        return None
    endpoints = [
        e
        for e in session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)))
        if event in e.events
    ]
    if not endpoints:
        return None
    at = now or utcnow()
    event_id = secrets.token_hex(16)
    payload: dict[str, Any] = {"event": event, "id": event_id, "occurred_at": vn_iso(at)}
    if document is not None:
        facts = document_facts(document)
        payload["document"] = facts
        payload["symbol"] = facts["symbol"]
    payload.update(data() if callable(data) else data)
    rows = [
        WebhookDelivery(
            endpoint_id=e.id,
            event=event,
            event_id=event_id,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        for e in endpoints
    ]
    session.add_all(rows)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).extend(r.id for r in rows)
    return event_id
