"""workflow: who may see and act on what (every query goes through here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from storage.models import Document, Role, Task, User
from workflow.errors import ForbiddenError, NotFoundError

NOT_FOUND = "Không tìm thấy văn bản, hoặc bạn không có quyền xem văn bản này."


def is_auditor(user: User) -> bool:
    """:returns: whether the user audits the organisation (read-only, everything)."""
    return user.has_role(Role.AUDITOR)


@dataclass(frozen=True)
class Menu:
    """The parts of the site the top bar offers a user, by role (each page still checks
    access itself; the bar only spares people links they cannot use)."""

    upload: bool
    """Upload a document (drafters)."""
    certificates: bool
    """Digital certificates (signers, administrators)."""
    admin: bool
    """Administration (administrators)."""
    clerk: bool
    """Incoming documents and classified registration (clerks)."""
    registers: bool
    """The outgoing and incoming registers (clerks, auditors, administrators)."""
    audit: bool
    """The audit log and the audit bundle (auditors, administrators)."""
    verify: bool
    """Signature verification (auditors, clerks)."""
    coverage: bool
    """The digital-transformation targets (auditors, administrators, leaders)."""


def menu_for(user: User) -> Menu:
    """:returns: what the top bar offers ``user``."""

    def any_of(*roles: Role) -> bool:
        return any(user.has_role(role) for role in roles)

    return Menu(
        upload=any_of(Role.DRAFTER),
        certificates=any_of(Role.SIGNER, Role.ADMIN),
        admin=any_of(Role.ADMIN),
        clerk=any_of(Role.CLERK),
        registers=any_of(Role.CLERK, Role.AUDITOR, Role.ADMIN),
        audit=any_of(Role.AUDITOR, Role.ADMIN),
        verify=any_of(Role.AUDITOR, Role.CLERK),
        coverage=any_of(Role.AUDITOR, Role.ADMIN, Role.APPROVER, Role.SIGNER),
    )


def visible_documents(user: User) -> Select[Document]:
    """:returns: a query of the documents ``user`` is party to."""
    query = select(Document)
    if is_auditor(user):
        return query
    party_task = exists().where(
        Task.document_id == Document.id,
        or_(Task.assignee_id == user.id, Task.acted_by_id == user.id),
    )
    return query.where(or_(Document.created_by_id == user.id, party_task))


def visible_document_ids(user: User) -> Select[int]:
    """:returns: the ids of the documents ``user`` is party to: the rule of
    :func:`visible_documents` as a union of indexed look-ups, for a filter inside a large
    query (search), where scanning every document for its tasks would be slow."""
    if is_auditor(user):
        return select(Document.id)
    query = select(Document.id).where(Document.created_by_id == user.id)
    return query.union(
        select(Task.document_id).where(Task.assignee_id == user.id),
        select(Task.document_id).where(Task.acted_by_id == user.id),
    )  # type: ignore[return-value]


def get_visible_document(session: Session, user: User, document_id: int) -> Document:
    """:returns: the document if ``user`` is party to it.

    :raises NotFoundError: no such document, or not visible (same answer, on purpose).
    """
    doc = session.scalars(visible_documents(user).where(Document.id == document_id)).first()
    if doc is None:
        raise NotFoundError(NOT_FOUND)
    return doc


def get_document_for_update(session: Session, user: User, document_id: int) -> Document:
    """:returns: the visible document, locked for a state change (see :func:`lock_document`)."""
    get_visible_document(session, user, document_id)
    return lock_document(session, document_id)


def get_own_task(session: Session, user: User, task_id: int) -> Task:
    """:returns: a task assigned to ``user``.

    :raises NotFoundError: no such task, or on a document ``user`` cannot see.
    :raises ForbiddenError: the task belongs to someone else.
    """
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError("Không tìm thấy việc cần xử lý này.")
    if task.assignee_id != user.id:
        # Do not reveal tasks on documents the caller is not party to.
        get_visible_document(session, user, task.document_id)
        raise ForbiddenError(
            "Việc này được giao cho người khác; bạn không thể xử lý thay khi chưa được ủy quyền."
        )
    lock_document(session, task.document_id)
    return task


def lock_document(session: Session, document_id: int) -> Document:
    """Lock the document's row for this transaction and re-read it (and its tasks).

    Every state change on a document takes this lock first, so concurrent actors queue
    in one order instead of deadlocking on task and document rows; whoever comes second
    then sees the first one's committed result. (SQLite transactions are already
    exclusive: there ``FOR UPDATE`` is a no-op.)
    """
    doc = session.scalars(
        select(Document)
        .where(Document.id == document_id)
        .with_for_update(of=Document)
        .execution_options(populate_existing=True)
    ).one()
    for task in doc.tasks:
        session.refresh(task)
    return doc
