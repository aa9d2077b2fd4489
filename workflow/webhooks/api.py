"""workflow: JSON API of outbound webhooks (administrators): register, list, switch off,
the delivery log, redeliver."""

from __future__ import annotations

from typing import Any

from flask import request

from storage.webhook_models import WebhookDelivery, WebhookEndpoint
from workflow.http import actor, api_blueprint, json_body
from workflow.schemas import webhooks as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import operation
from workflow.services import get_session
from workflow.webhooks import service
from workflow.webhooks.runtime import vault_of

bp = api_blueprint("webhooks_api", __name__)


def webhook_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return schemas.Webhook(
        id=endpoint.id,
        url=endpoint.url,
        kind=endpoint.kind,
        events=list(endpoint.events),
        description=endpoint.description,
        active=endpoint.active,
        created_at=endpoint.created_at,
    ).dump()


def delivery_json(row: WebhookDelivery) -> dict[str, Any]:
    return schemas.Delivery(
        id=row.id,
        event=row.event,
        event_id=row.event_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    ).dump()


@bp.post("/webhooks")
@operation(body=schemas.WebhookCreate, responses={201: schemas.Webhook}, errors=(409,))
def create() -> Any:
    """Register an endpoint: events are POSTed to it as JSON signed with
    `X-TrinhKy-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    body = parse(schemas.WebhookCreate, json_body())
    db = get_session()
    endpoint = service.register(
        db,
        vault_of(),
        actor(),
        url=body.url,
        secret=body.secret,
        events_wanted=body.events,
        kind=body.kind,
        options=body.options,
        description=body.description,
    )
    db.commit()
    return webhook_json(endpoint), 201


@bp.get("/webhooks")
@operation(responses={200: schemas.WebhookList})
def list_webhooks() -> Any:
    """Every endpoint, active first."""
    return {"webhooks": [webhook_json(e) for e in service.endpoints(get_session(), actor())]}


@bp.delete("/webhooks/<int:endpoint_id>")
@operation(responses={200: schemas.Webhook})
def deactivate(endpoint_id: int) -> Any:
    """Switch an endpoint off (its delivery log stays; pending deliveries are dropped)."""
    db = get_session()
    endpoint = service.deactivate(db, actor(), endpoint_id)
    db.commit()
    return webhook_json(endpoint)


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@operation(query=schemas.DeliveryQuery, responses={200: schemas.DeliveryList})
def deliveries(endpoint_id: int) -> Any:
    """The endpoint's latest 100 deliveries, newest first."""
    query = parse_form(schemas.DeliveryQuery, request.args)
    rows = service.deliveries(get_session(), actor(), endpoint_id, query.status)
    return {"deliveries": [delivery_json(r) for r in rows]}


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@operation(responses={202: schemas.Delivery}, errors=(409,))
def redeliver(endpoint_id: int, delivery_id: int) -> Any:
    """Send a delivery again now (attempts counted afresh)."""
    db = get_session()
    row = service.redeliver(db, actor(), endpoint_id, delivery_id)
    db.commit()
    return delivery_json(row), 202
