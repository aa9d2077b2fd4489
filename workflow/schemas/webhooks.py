"""workflow: API schemas of outbound webhooks (``/webhooks``, administrators)."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Int, Moment, Request, Response


class WebhookCreate(Request):
    """``POST /webhooks``: where to push which events, and the shared secret."""

    url: str = Field(title="địa chỉ URL", max_length=2000, description="http(s) URL")
    secret: str = Field(
        title="khoá bí mật",
        min_length=16,
        max_length=256,
        description="HMAC-SHA256 key of the X-TrinhKy-Signature header (at least 16 characters)",
    )
    events: list[str] = Field(
        title="sự kiện",
        min_length=1,
        max_length=20,
        description="issued, dispatched, received, task_assigned, overdue, recalled",
    )
    kind: str = Field(
        default="generic",
        title="loại điểm nhận",
        description="generic (TrinhKy JSON), zalo (Zalo OA message), facebook (Page post)",
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        title="tham số",
        max_length=10,
        description="zalo: access_token and user_id or group_id; facebook: access_token",
    )
    description: str = Field(default="", title="mô tả", max_length=200)


class Webhook(Response):
    """A registered endpoint (its secret and tokens are never shown again)."""

    id: int
    url: str
    kind: str
    events: list[str]
    description: str
    active: bool
    created_at: Moment


class WebhookList(Response):
    """``GET /webhooks``."""

    webhooks: list[Webhook]


class DeliveryQuery(Request):
    """``GET /webhooks/{id}/deliveries``: optionally only one status."""

    status: str | None = Field(default=None, description="pending, delivered or failed")


class Delivery(Response):
    """One event sent (or being sent) to one endpoint."""

    id: int
    event: str
    event_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: Int
    next_attempt_at: Moment | None
    last_status: int | None = Field(description="HTTP status of the last attempt")
    last_error: str | None
    created_at: Moment
    delivered_at: Moment | None


class DeliveryList(Response):
    """``GET /webhooks/{id}/deliveries``: the latest 100."""

    deliveries: list[Delivery]
