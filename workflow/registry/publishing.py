"""workflow: publishing issued documents on the public portal (công khai văn bản): the
rules, who may, and the audit. Never a classified document, never by default, never a
recalled one; a recall takes a published document down."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage import audit
from storage.models import Document, Role, User
from storage.types import utcnow
from workflow.accounts import access
from workflow.errors import ConflictError, ForbiddenError
from workflow.webhooks import events as webhook_events

PUBLISHED = "document:published"
UNPUBLISHED = "document:unpublished"


def may_publish(actor: User, doc: Document) -> bool:
    """:returns: whether ``actor`` decides publication of ``doc`` (which they can see):
    a clerk, a signer or an administrator, as for a recall."""
    return actor.has_role(Role.ADMIN) or actor.has_role(Role.CLERK) or actor.has_role(Role.SIGNER)


def set_public(
    session: Session, actor: User, doc: Document, public: bool, *, now: datetime | None = None
) -> Document:
    """Publish or unpublish ``doc`` (the caller commits); a change is audited, and a
    publication makes a ``published`` webhook event.

    :raises ForbiddenError: the actor does not decide for this document.
    :raises ConflictError: not issued, classified, without a file, or recalled.
    """
    if not may_publish(actor, doc):
        raise ForbiddenError(
            "Chỉ văn thư, người ký của đơn vị ban hành hoặc quản trị được công khai văn bản."
        )
    if public == (doc.published_at is not None):
        return doc
    at = now or utcnow()
    if public:
        if doc.classification:
            raise ConflictError("Văn bản mật không bao giờ được công khai.")
        if doc.issued_at is None or doc.symbol is None or not doc.has_content:
            raise ConflictError("Chỉ công khai văn bản đã ban hành (có số, ký hiệu và tệp đã ký).")
        if doc.recalled_at is not None:
            raise ConflictError("Văn bản đã bị thu hồi; không công khai được.")
        doc.published_at, doc.published_by_id = at, actor.id
    else:
        doc.published_at, doc.published_by_id = None, None
    audit.append(
        session,
        PUBLISHED if public else UNPUBLISHED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"symbol": doc.symbol},
        at=at,
    )
    if public:
        webhook_events.emit(session, "published", {}, document=doc, now=at)
    return doc


def publish(session: Session, actor: User, document_id: int, public: bool) -> Document:
    """:func:`set_public` on a document the actor can see (the caller commits).

    :raises NotFoundError: the actor cannot see it.
    """
    doc = access.get_document_for_update(session, actor, document_id)
    return set_public(session, actor, doc, public)


def taken_down_by_recall(session: Session, actor: User, doc: Document) -> None:
    """After a recall: a published document leaves the portal's list (its page then
    says it was recalled, with the date); audited as an unpublication."""
    if doc.published_at is None:
        return
    audit.append(
        session,
        UNPUBLISHED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"symbol": doc.symbol, "reason": "recalled"},
        at=doc.recalled_at,
    )
