"""workflow: JSON API of the e-mail intake (the receiving unit's clerks): the queue, the
message as evidence (``.eml``), receive, return to the sender, discard."""

from __future__ import annotations

from typing import Any

from flask import request

from storage.intake_models import MailMessage
from workflow.http import actor, api_blueprint, json_body
from workflow.intake import service
from workflow.mail import mailer_for
from workflow.schemas import intake as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import File, operation
from workflow.services import get_services, get_session
from workflow.uploads import send_blob

bp = api_blueprint("intake_api", __name__)


def message_json(message: MailMessage) -> dict[str, Any]:
    entries = service.entries_of(get_session(), message)
    return schemas.MailMessage(
        id=message.id,
        mailbox=message.mailbox,
        message_id=message.message_id,
        sha256=message.sha256,
        size=message.size,
        sender=message.sender,
        reply_to=message.reply_to,
        subject=message.subject,
        sent_at=message.sent_at,
        fetched_at=message.fetched_at,
        state=message.state,
        problems=[str(p) for p in message.problems or []],
        reason=message.reason,
        entries=[
            schemas.MailEntry(
                id=e.id,
                state=e.state,
                number=e.number,
                subject=e.subject,
                sha256=e.blob_sha256,
                unsigned=bool((e.validation or {}).get("unsigned_electronic")),
                return_reason=e.return_reason,
            )
            for e in entries
        ],
    ).dump()


@bp.get("/intake")
@operation(query=schemas.IntakeQuery, responses={200: schemas.MailList})
def queue() -> Any:
    """The e-mails of a unit's intake (pending by default), newest first."""
    query = parse_form(schemas.IntakeQuery, request.args)
    unit = int(query.unit) if query.unit and query.unit.isdigit() else None
    rows = service.queue(get_session(), actor(), unit, query.state or None)
    return {"messages": [message_json(m) for m in rows]}


@bp.get("/intake/<int:message_id>")
@operation(responses={200: schemas.MailMessage})
def show(message_id: int) -> Any:
    """One e-mail and its entries."""
    return message_json(service.get_message(get_session(), actor(), message_id))


@bp.get("/intake/<int:message_id>/eml")
@operation(responses={200: File(("message/rfc822",), "the message as received")})
def eml(message_id: int) -> Any:
    """The message exactly as read from the mailbox (evidence; its SHA-256 is audited)."""
    message = service.get_message(get_session(), actor(), message_id)
    return send_blob(message.sha256, f"thu-{message.id}.eml", mimetype="message/rfc822")


@bp.post("/intake/<int:message_id>/receive")
@operation(responses={200: schemas.MailMessage}, errors=(409,))
def receive(message_id: int) -> Any:
    """Receive the message's PDF attachments (numbers in the incoming register)."""
    db = get_session()
    services = get_services()
    service.receive(db, services.blobs, services.trust, actor(), message_id)
    db.commit()
    return message_json(service.get_message(db, actor(), message_id))


@bp.post("/intake/<int:message_id>/return")
@operation(body=schemas.ReturnBody, responses={200: schemas.MailMessage}, errors=(409,))
def return_to_sender(message_id: int) -> Any:
    """Return the message to its sender with a reason (a reply e-mail)."""
    body = parse(schemas.ReturnBody, json_body())
    db = get_session()
    settings = get_services().settings
    message = service.return_to_sender(
        db, mailer_for(settings), actor(), message_id, body.reason, settings.org_name
    )
    db.commit()
    return message_json(message)


@bp.post("/intake/<int:message_id>/discard")
@operation(body=schemas.DiscardBody, responses={200: schemas.MailMessage}, errors=(409,))
def discard(message_id: int) -> Any:
    """Discard the message as spam (kept as evidence, nothing registered)."""
    body = parse(schemas.DiscardBody, json_body())
    db = get_session()
    message = service.discard(db, actor(), message_id, body.reason)
    db.commit()
    return message_json(message)
