"""lock_document reads the document and its tasks afresh in one locked query (no refresh
per task): what another transaction committed meanwhile is what the caller sees."""

from __future__ import annotations

from sqlalchemy import event, select

from storage.db import make_session_factory
from storage.models import Task
from tests import factories
from workflow.accounts.access import get_own_task, lock_document
from workflow.services import Services


def test_lock_document_sees_tasks_changed_and_added_meanwhile(services: Services) -> None:
    (task_id,) = factories.awaiting_signature(services, 1)
    reader = make_session_factory(services.engine, deferred=True)()
    try:
        task = reader.get(Task, task_id)
        assert task is not None
        doc = task.document
        before = [t.id for t in doc.tasks]
        reader.commit()  # the caller's earlier transaction ends (as flow.run does)
        with services.session_factory() as other:
            changed = other.get(Task, task_id)
            assert changed is not None
            changed.stage_name = "Đổi tên trong lúc chờ"
            extra = Task(
                document_id=changed.document_id,
                stage_position=changed.stage_position + 1,
                stage_name="Bước thêm",
                action=changed.action,
                assignee_id=changed.assignee_id,
                state="open",
            )
            other.add(extra)
            other.commit()
            extra_id = extra.id
        locked = lock_document(reader, doc.id)
        assert locked is doc
        assert task.stage_name == "Đổi tên trong lúc chờ"
        assert [t.id for t in locked.tasks] == [*before, extra_id]
        reader.rollback()
    finally:
        reader.close()


def test_own_task_holds_its_locked_document(services: Services) -> None:
    """task.document is the document lock_document read: no second load."""
    (task_id,) = factories.awaiting_signature(services, 1)
    with services.session_factory() as session:
        task = session.get(Task, task_id)
        assert task is not None
        owner = factories.user(session, "bithu")
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        own = get_own_task(session, owner, task_id)
        event.listen(services.engine, "before_cursor_execute", count)
        try:
            doc = own.document
            assert doc.id == own.document_id and doc.tasks
        finally:
            event.remove(services.engine, "before_cursor_execute", count)
        assert statements == []
        assert session.scalars(select(Task).where(Task.id == task_id)).one() is own
