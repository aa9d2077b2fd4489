"""workflow: who may see and act on what (every query goes through here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, defaultload, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import ORMOption

from storage.models import Document, Revision, Role, Task, Unit, User
from workflow.errors import ForbiddenError, NotFoundError

NOT_FOUND = "Không tìm thấy văn bản, hoặc bạn không có quyền xem văn bản này."


def is_auditor(user: User) -> bool:
    """:returns: whether the user audits the organisation (reads every document)."""
    return user.has_role(Role.AUDITOR)


def oversees(user: User) -> bool:
    """:returns: whether the user oversees the records of every unit: the registers and
    incoming entries, the audit log, the jobs, the coverage ledger's actions, every unit's
    reports (auditors and administrators; an administrator still reads no document itself:
    see :func:`visible_documents`)."""
    return user.has_role(Role.AUDITOR) or user.has_role(Role.ADMIN)


def reads_coverage(user: User) -> bool:
    """:returns: whether the user reads the coverage figures (overseers and leaders; the
    drill-down's subjects further by :func:`check_drill_down`)."""
    return oversees(user) or user.has_role(Role.APPROVER) or user.has_role(Role.SIGNER)


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


def visible_documents(user: User, *, party_only: bool = False) -> Select[Document]:
    """:returns: a query of the documents ``user`` may see: those they are party to, and
    for an auditor every document (``party_only``: only those they are party to)."""
    query = select(Document)
    if is_auditor(user) and not party_only:
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


def check_visible(session: Session, user: User, document_id: int) -> None:
    """Whether ``user`` may see the document, in one indexed query that loads nothing (a
    view is recorded in the transaction that checks it; the page loads the document
    afterwards, outside the write lock).

    :raises NotFoundError: no such document, or not visible (same answer, on purpose).
    """
    query = visible_documents(user).where(Document.id == document_id)
    if session.scalar(query.with_only_columns(Document.id)) is None:
        raise NotFoundError(NOT_FOUND)


def get_visible_document(
    session: Session, user: User, document_id: int, options: Sequence[ORMOption] = ()
) -> Document:
    """:returns: the document if ``user`` is party to it.

    :param options: how to load it (loader options of the caller's page).
    :raises NotFoundError: no such document, or not visible (same answer, on purpose).
    """
    query = visible_documents(user).where(Document.id == document_id).options(*options)
    doc = session.scalars(query).first()
    if doc is None:
        raise NotFoundError(NOT_FOUND)
    return doc


def issued_by_their_unit(doc: Document, clerk_units: set[int]) -> bool:
    """:returns: whether ``doc`` has been issued (numbered) by a unit whose registers
    the caller keeps (``clerk_units``): its dispatch is theirs to see and do. A draft, a
    document in review or another unit's classified entry is not, whoever the clerk."""
    return (
        doc.issued_at is not None
        and doc.issuer_unit_id is not None
        and doc.issuer_unit_id in clerk_units
    )


def get_dispatchable_document(
    session: Session, user: User, document_id: int, clerk_units: set[int]
) -> Document:
    """:returns: the document whose recipients ``user`` may see: one they are party to,
    or one their unit issued (see :func:`issued_by_their_unit`). An administrator has no
    more than that: administration is of users and units, not of documents.

    :raises NotFoundError: no such document, or not theirs to see (same answer).
    """
    doc = session.get(Document, document_id)
    if doc is not None and issued_by_their_unit(doc, clerk_units):
        return doc
    return get_visible_document(session, user, document_id)


# --- the coverage drill-down ------------------------------------------------------------

OVERSEER_KINDS = frozenset({"committee", "standing"})
"""A leader of the bloc committee itself or of its Standing Committee oversees every unit."""


def overseen_units(session: Session, user: User) -> frozenset[int] | None:
    """:returns: the units whose documents' subjects ``user`` may list in the coverage
    drill-down: ``None`` for everything (auditors, administrators, leaders of the
    committee or its Standing Committee), else the subtrees of the units where they lead
    (approver, signer); empty when they lead nowhere."""
    if is_auditor(user) or user.has_role(Role.ADMIN):
        return None
    led = user.units_with(Role.APPROVER) | user.units_with(Role.SIGNER)
    units = {u.id: u for u in session.scalars(select(Unit))}
    if any(units[u].kind in OVERSEER_KINDS for u in led if u in units):
        return None
    ids = set(led)
    grew = True
    while grew:
        more = {u.id for u in units.values() if u.parent_id in ids} - ids
        ids |= more
        grew = bool(more)
    return frozenset(ids)


def drill_down_default(session: Session, user: User) -> str | None:
    """:returns: the unit (id) the drill-down shows ``user`` when they name none: theirs
    if they oversee only part of the organisation, else ``None`` (everything)."""
    if overseen_units(session, user) is None:
        return None
    led = sorted(user.units_with(Role.APPROVER) | user.units_with(Role.SIGNER))
    return str(led[0]) if led else None


def check_drill_down(
    session: Session, user: User, unit_ids: frozenset[int] | None
) -> frozenset[int] | None:
    """:returns: the units the drill-down lists for ``user`` asking for ``unit_ids``
    (``None``: the whole organisation).

    :raises ForbiddenError: they ask for units outside those they oversee.
    """
    allowed = overseen_units(session, user)
    if allowed is None:
        return unit_ids
    if unit_ids is None or not unit_ids <= allowed:
        raise ForbiddenError(
            "Bạn chỉ xem được danh sách văn bản chưa đạt chỉ tiêu của đơn vị mình; "
            "hãy chọn đơn vị của bạn (tham số 'unit')."
        )
    return unit_ids


def get_party_document(session: Session, user: User, document_id: int) -> Document:
    """:returns: a document ``user`` is party to, for an action that writes (a comment):
    an auditor reads everything but writes only where they take part.

    :raises NotFoundError: not visible to ``user``.
    :raises ForbiddenError: visible (an auditor) but not party to it.
    """
    doc = get_visible_document(session, user, document_id)
    query = visible_documents(user, party_only=True).where(Document.id == document_id)
    if session.scalars(query).first() is None:
        raise ForbiddenError(
            "Cán bộ kiểm tra chỉ được xem văn bản này; chỉ người tham gia xử lý được ghi ý kiến."
        )
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
    # Two columns first: the task itself is read with its document's tasks, under the lock.
    row = session.execute(
        select(Task.document_id, Task.assignee_id).where(Task.id == task_id)
    ).first()
    if row is None:
        raise NotFoundError("Không tìm thấy việc cần xử lý này.")
    doc = None
    if row.assignee_id == user.id:
        doc = lock_document(session, row.document_id)
    task = next((t for t in doc.tasks if t.id == task_id), None) if doc is not None else None
    if task is None or task.assignee_id != user.id:
        # Do not reveal tasks on documents the caller is not party to.
        get_visible_document(session, user, row.document_id)
        raise ForbiddenError(
            "Việc này được giao cho người khác; bạn không thể xử lý thay khi chưa được ủy quyền."
        )
    # Hold the document just read and locked (the identity map keeps only weak
    # references): task.document would otherwise load it and its collections again.
    set_committed_value(task, "document", doc)
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
        .options(*_LOCK_LOADS)
        .execution_options(populate_existing=True)
    ).one()
    # populate_existing reaches the eager (selectin) loads too: the document's tasks were
    # just read afresh with it (no refresh per task, each with its own eager loads).
    return doc


_LOCK_LOADS = (
    # The role assignments of the people on the document are loaded when used (a state
    # change rarely needs them), not with every lock; the route (every state change reads
    # its stages) comes in the same query, and the planned recipients with the rest (the
    # answer of every action shows them: loaded here, not lazily after the commit).
    joinedload(Document.route),
    defaultload(Document.created_by).lazyload(User.roles),
    defaultload(Document.revisions).defaultload(Revision.created_by).lazyload(User.roles),
    defaultload(Document.tasks).defaultload(Task.assignee).lazyload(User.roles),
    defaultload(Document.tasks).defaultload(Task.acted_by).lazyload(User.roles),
    defaultload(Document.tasks).defaultload(Task.on_behalf_of).lazyload(User.roles),
)
