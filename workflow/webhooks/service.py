"""workflow: administering webhook endpoints: register, list, switch off, read the
delivery log, redeliver (administrators only; every change audited)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Role, User
from storage.types import utcnow
from storage.webhook_models import WebhookDelivery, WebhookEndpoint
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.webhooks import events, wire
from workflow.webhooks.vault import Vault

MIN_SECRET = 16
MAX_ENDPOINTS = 50


def require_admin(actor: User) -> None:
    """:raises ForbiddenError: the actor is not a system administrator."""
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được quản lý webhook.")


def check_url(url: str) -> str:
    """:returns: ``url`` if it is an absolute http(s) URL without credentials.

    :raises InvalidInputError: anything else.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("Địa chỉ webhook phải là URL http:// hoặc https:// đầy đủ.")
    if parts.username or parts.password:
        raise InvalidInputError("Không ghi tên đăng nhập, mật khẩu trong URL; dùng khoá bí mật.")
    return url.strip()


def check_options(kind: str, options: Mapping[str, str]) -> dict[str, str]:
    """:returns: the adapter options of ``kind``, checked.

    :raises InvalidInputError: an unknown kind or a missing option.
    """
    if kind not in wire.KINDS:
        raise InvalidInputError(f"Loại điểm nhận phải là một trong: {', '.join(wire.KINDS)}.")
    clean = {str(k): str(v).strip() for k, v in options.items() if str(v).strip()}
    for group in wire.REQUIRED_OPTIONS[kind]:
        if not any(clean.get(key) for key in group):
            raise InvalidInputError(
                f"Điểm nhận {wire.KINDS[kind]} cần tham số {' hoặc '.join(group)}."
            )
    return clean


def register(
    session: Session,
    vault: Vault,
    actor: User,
    *,
    url: str,
    secret: str,
    events_wanted: Sequence[str],
    kind: str = "generic",
    options: Mapping[str, str] | None = None,
    description: str = "",
) -> WebhookEndpoint:
    """Register an endpoint (the caller commits).

    :raises InvalidInputError: a bad URL, a short secret, no or unknown events, missing
        adapter options.
    """
    require_admin(actor)
    url = check_url(url)
    if len(secret) < MIN_SECRET:
        raise InvalidInputError(f"Khoá bí mật cần ít nhất {MIN_SECRET} ký tự.")
    wanted = list(dict.fromkeys(events_wanted))
    unknown = [e for e in wanted if e not in events.EVENTS]
    if not wanted or unknown:
        raise InvalidInputError(
            "Hãy chọn sự kiện trong: "
            + ", ".join(events.EVENTS)
            + (f" (không có: {', '.join(unknown)})" if unknown else "")
        )
    clean = check_options(kind, options or {})
    count = len(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.active)).all())
    if count >= MAX_ENDPOINTS:
        raise ConflictError(f"Đã có {MAX_ENDPOINTS} điểm nhận đang hoạt động; hãy tắt bớt.")
    endpoint = WebhookEndpoint(
        url=url,
        kind=kind,
        events=wanted,
        secret_encrypted=vault.seal(secret),
        options_encrypted=vault.seal_options(clean),
        description=" ".join(description.split())[:200],
        active=True,
        created_by=actor.id,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    audit.append(
        session,
        "webhook:created",
        actor_id=actor.id,
        object_type="webhook",
        object_id=endpoint.id,
        details={"url": url, "kind": kind, "events": wanted, "options": sorted(clean)},
    )
    return endpoint


def endpoints(session: Session, actor: User) -> list[WebhookEndpoint]:
    """:returns: every endpoint, active first, newest first."""
    require_admin(actor)
    return list(
        session.scalars(
            select(WebhookEndpoint).order_by(
                WebhookEndpoint.active.desc(), WebhookEndpoint.id.desc()
            )
        )
    )


def get_endpoint(session: Session, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """:raises NotFoundError: no such endpoint."""
    require_admin(actor)
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFoundError("Không tìm thấy điểm nhận webhook.")
    return endpoint


def deactivate(session: Session, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """Switch an endpoint off (its log stays); pending deliveries to it are dropped."""
    endpoint = get_endpoint(session, actor, endpoint_id)
    if endpoint.active:
        endpoint.active = False
        for row in session.scalars(
            select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending"
            )
        ):
            row.status, row.last_error = "failed", "điểm nhận đã bị tắt"
        audit.append(
            session,
            "webhook:deactivated",
            actor_id=actor.id,
            object_type="webhook",
            object_id=endpoint.id,
            details={"url": endpoint.url},
        )
    return endpoint


def deliveries(
    session: Session, actor: User, endpoint_id: int, status: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    """:returns: the endpoint's latest deliveries (newest first)."""
    endpoint = get_endpoint(session, actor, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status is not None:
        if status not in ("pending", "delivered", "failed"):
            raise InvalidInputError("Trạng thái phải là pending, delivered hoặc failed.")
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def redeliver(
    session: Session, actor: User, endpoint_id: int, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Queue a delivery again (due now, its attempt count reset).

    :raises NotFoundError: no such delivery of this endpoint.
    :raises ConflictError: the endpoint is switched off.
    """
    endpoint = get_endpoint(session, actor, endpoint_id)
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.endpoint_id != endpoint.id:
        raise NotFoundError("Không tìm thấy lần gửi này của điểm nhận.")
    if not endpoint.active:
        raise ConflictError("Điểm nhận đã bị tắt; không gửi lại được.")
    row.status, row.attempts = "pending", 0
    row.next_attempt_at = now or utcnow()
    row.delivered_at = None
    session.flush()
    session.info.setdefault(events.PENDING_KEY, []).append(row.id)
    audit.append(
        session,
        "webhook:redelivered",
        actor_id=actor.id,
        object_type="webhook",
        object_id=endpoint.id,
        details={"delivery": row.id, "event": row.event},
    )
    return row
