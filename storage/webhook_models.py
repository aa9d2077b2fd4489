"""storage: outbound webhooks: the endpoints administrators register and the outbox of
deliveries (one row per event and endpoint, written in the event's own transaction, so
an event is never lost and never sent for a change that was rolled back)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class WebhookEndpoint(Base):
    """Where events are pushed: a URL, its shared secret (encrypted at rest) and the
    events it wants, in a format (``generic`` JSON, ``zalo`` or ``facebook``)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(16), default="generic")
    """``generic`` (TrinhKy's JSON event), ``zalo`` (Zalo OA message) or ``facebook``
    (a Page post through the Graph API)."""
    events: Mapped[list[str]] = mapped_column(JSON)
    """The event names delivered to it."""
    secret_encrypted: Mapped[str] = mapped_column(Text)
    """The HMAC secret, encrypted with a key derived from the app's secret key."""
    options_encrypted: Mapped[str | None] = mapped_column(Text)
    """The adapter's settings (access token, page or recipient id), encrypted alike."""
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deliveries: Mapped[list[WebhookDelivery]] = relationship(back_populates="endpoint")


class WebhookDelivery(Base):
    """One event to one endpoint, and how its delivery went."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(32), index=True)
    """The event's random id (the same for every endpoint it goes to)."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    """``pending`` (due at ``next_attempt_at``), ``delivered`` or ``failed`` (gave up)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)
    """The HTTP status of the last attempt (none: no answer)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")
