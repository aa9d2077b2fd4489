"""Phase 3 of a signature (flow.record) re-checks under the document's lock that nothing
moved since phase 1. When the document's version and its tasks' rows are as phase 1 read
them, what phase 1 loaded is used as it is (no second load of the document, its revisions
and tasks); any change, even one that did not bump the version, reads everything afresh
and decides on that."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from storage.db import begin_write, make_session_factory
from storage.models import Certificate, Task
from tests import factories
from tests.conftest import DEMO_PASSWORD
from workflow.errors import ConflictError
from workflow.services import Services
from workflow.signatures import flow

pytestmark = pytest.mark.both_databases


@contextmanager
def _statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(services.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(services.engine, "before_cursor_execute", count)


def _phases(
    services: Services, task_id: int, meanwhile: Callable[[Session], None] | None = None
) -> tuple[flow.SignOutcome, list[str]]:
    """Phases 1 and 2 of ``task_id``, ``meanwhile`` in another session, then phase 3:
    the outcome and the statements phase 3 ran."""
    factory = make_session_factory(services.engine, deferred=True)
    with factory() as session:
        actor = factories.user(session, "bithu")
        plan = flow.prepare(session, actor, task_id, lambda unit, doc_type: "B-B", services.blobs)
        session.commit()
        produced = flow.produce(services.blobs, services.trust, plan, DEMO_PASSWORD)
        if meanwhile is not None:
            with services.session_factory() as other:
                meanwhile(other)
                other.commit()
        with _statements(services) as seen:
            try:
                begin_write(session)
                outcome = flow.record(session, services.blobs, actor, plan, produced)
                session.commit()
            except BaseException:
                session.rollback()
                services.blobs.discard(produced.staged)
                raise
        return outcome, seen


def test_unchanged_document_is_not_read_again(services: Services) -> None:
    (task_id,) = factories.awaiting_signature(services, 1)
    outcome, seen = _phases(services, task_id)
    assert outcome.task.state == "done" and outcome.revision.kind == "signed"
    reads = [s for s in seen if s.startswith("SELECT")]
    # The version and the tasks' rows (light), nothing of the document, its revisions
    # or its tasks as objects.
    assert not any(s.startswith("SELECT documents.id") for s in reads), reads
    assert not any(s.startswith("SELECT revisions.") for s in reads), reads
    assert any(s.startswith("SELECT documents.version FROM documents") for s in reads), reads


def test_a_task_changed_without_a_version_bump_reads_afresh_and_refuses(
    services: Services,
) -> None:
    (task_id,) = factories.awaiting_signature(services, 1)

    def cancel(other: Session) -> None:  # a change behind the document's back
        other.execute(update(Task).where(Task.id == task_id).values(state="cancelled"))

    with pytest.raises(ConflictError):
        _phases(services, task_id, cancel)
    with services.session_factory() as session:
        task = session.get(Task, task_id)
        assert task is not None and task.state == "cancelled"
        assert len(task.document.revisions) == 1  # nothing stored


def test_a_task_added_meanwhile_is_seen(services: Services) -> None:
    """A task added without a version bump sends phase 3 to the full read: the new task
    is in the document's tasks when the route advances (here, cancelled with its stage)."""
    (task_id,) = factories.awaiting_signature(services, 1)
    added: list[int] = []

    def add(other: Session) -> None:
        task = other.get(Task, task_id)
        assert task is not None
        extra = Task(
            document_id=task.document_id,
            stage_position=task.stage_position,
            stage_name=task.stage_name,
            action=task.action,
            assignee_id=factories.user(other, "truongban").id,
            state="open",
        )
        other.add(extra)
        other.flush()
        added.append(extra.id)

    outcome, seen = _phases(services, task_id, add)
    assert any(s.startswith("SELECT documents.id") for s in seen)
    assert added[0] in {t.id for t in outcome.task.document.tasks}


def test_a_good_passphrase_ends_the_count_of_wrong_ones_made_meanwhile(
    services: Services,
) -> None:
    (task_id,) = factories.awaiting_signature(services, 1)
    cert_id: list[int] = []

    def wrong_twice(other: Session) -> None:
        bithu = factories.user(other, "bithu")
        other.execute(
            update(Certificate)
            .where(Certificate.user_id == bithu.id, Certificate.purpose == "personal")
            .values(failed_unlocks=2)
        )
        cert = other.query(Certificate).filter_by(user_id=bithu.id, purpose="personal").one()
        cert_id.append(cert.id)

    outcome, _seen = _phases(services, task_id, wrong_twice)
    assert outcome.signature.certificate_id == cert_id[0]
    with services.session_factory() as session:
        cert = session.get(Certificate, cert_id[0])
        assert cert is not None and cert.failed_unlocks == 0 and cert.locked_until is None


def test_rows_are_committed_only_once_the_blob_is_durable(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flow.run publishes the signed blob beside phase 3's database work; its commit
    waits for the publication."""
    (task_id,) = factories.awaiting_signature(services, 1)
    events: list[str] = []
    publish = services.blobs.publish

    def slow_publish(staged: Any) -> str:
        time.sleep(0.3)  # longer than phase 3's rows
        key = publish(staged)
        events.append("published")
        return key

    def committed(_session: Session) -> None:
        events.append("committed")

    monkeypatch.setattr(services.blobs, "publish", slow_publish)
    event.listen(Session, "after_commit", committed)
    try:
        outcome = factories.run_signing(services, task_id)
    finally:
        event.remove(Session, "after_commit", committed)
    assert events.index("published") < len(events) - 1
    assert events[-1] == "committed" and events.count("published") == 1
    assert services.blobs.exists(outcome.revision.blob_sha256)


def test_the_ledger_reads_the_signed_file_only_once_it_is_published(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coverage ledger checks the new revision's file in the store: it runs after the
    publication (a slow one here), never beside it (T2 once counted a document as a miss,
    "file not found", when it ran first)."""
    (task_id,) = factories.awaiting_signature(services, 1)
    publish = services.blobs.publish
    record_signature = flow.coverage.record_signature
    found: list[bool] = []

    def slow_publish(staged: Any) -> str:
        time.sleep(0.3)
        return publish(staged)

    def watched(session: Session, blobs: Any, trust: Any, doc: Any, **kwargs: Any) -> None:
        found.append(blobs.exists(doc.current_revision.blob_sha256))
        record_signature(session, blobs, trust, doc, **kwargs)

    monkeypatch.setattr(services.blobs, "publish", slow_publish)
    monkeypatch.setattr(flow.coverage, "record_signature", watched)
    factories.run_signing(services, task_id)
    assert found == [True]


def test_a_failed_publication_commits_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    (task_id,) = factories.awaiting_signature(services, 1)

    def broken(_staged: Any) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(services.blobs, "publish", broken)
    with pytest.raises(OSError, match="disk full"):
        factories.run_signing(services, task_id)
    with services.session_factory() as session:
        task = session.get(Task, task_id)
        assert task is not None and task.state == "open"
        assert len(task.document.revisions) == 1
    assert not list(services.blobs.temporaries())  # the staged file is gone too
