"""PostgreSQL only: the migrations give the models' schema, and the audit head lock
serialises concurrent appends. Skipped without TRINHKY_TEST_POSTGRES_URL."""

from __future__ import annotations

import importlib
import os
import pkgutil
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

import storage
from storage import audit
from storage.db import Base, make_engine, make_session_factory
from storage.models import AuditEvent
from tests.conftest import POSTGRES_URL, PgCluster
from workflow.setup.bootstrap import migrate

# Every model module registers its tables on Base.metadata: import them all.
for _module in pkgutil.iter_modules(storage.__path__):
    importlib.import_module(f"storage.{_module.name}")

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="PostgreSQL tests need TRINHKY_TEST_POSTGRES_URL (make test starts a server)",
)


@pytest.fixture
def empty_engine(pg_cluster: PgCluster) -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL database (dropped afterwards)."""
    name = f"trinhky_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    engine = make_engine(pg_cluster.create(name))
    try:
        yield engine
    finally:
        engine.dispose()
        pg_cluster.drop(name)


def test_migrations_on_empty_postgres_give_the_models_schema(empty_engine: Engine) -> None:
    assert empty_engine.dialect.name == "postgresql"
    migrate(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs: list[Any] = compare_metadata(context, Base.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diffs == []
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_concurrent_audit_appends_wait_for_the_head_lock(empty_engine: Engine) -> None:
    migrate(empty_engine)
    sessions = make_session_factory(empty_engine)
    with sessions() as session:  # the head row exists once the chain has an entry
        audit.append(session, audit.AuditAction.SYSTEM_INIT, actor_id=None, object_type="system")
        session.commit()

    first = sessions()
    second = sessions()
    try:
        appended = audit.append(
            first, audit.AuditAction.LOGIN, actor_id=None, object_type="user", object_id=1
        )
        assert appended.seq == 2
        # `first` holds the head row lock; `second` must wait for it, then continue.
        done = threading.Event()
        errors: list[BaseException] = []
        seqs: list[int] = []

        def other() -> None:
            try:
                event = audit.append(
                    second, audit.AuditAction.LOGOUT, actor_id=None, object_type="user", object_id=2
                )
                seqs.append(event.seq)
                second.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=other)
        thread.start()
        deadline = time.monotonic() + 10
        waiting = False
        with empty_engine.connect() as probe:
            while time.monotonic() < deadline and not waiting and not done.is_set():
                waiting = bool(
                    probe.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                )
                probe.rollback()  # pg_stat_activity is a snapshot per transaction
                if not waiting:
                    time.sleep(0.02)
        assert not errors, errors
        assert waiting, "the second append did not wait for the head row lock"
        assert not done.is_set()
        first.commit()
        assert done.wait(10), "the second append never finished"
        thread.join()
        assert errors == []
        assert seqs == [3]
    finally:
        first.close()
        second.close()

    with sessions() as session:
        rows = session.execute(select(AuditEvent.seq, AuditEvent.action).order_by(AuditEvent.seq))
        assert [tuple(r) for r in rows] == [
            (1, str(audit.AuditAction.SYSTEM_INIT)),
            (2, str(audit.AuditAction.LOGIN)),
            (3, str(audit.AuditAction.LOGOUT)),
        ]
        report = audit.verify_chain(session)
    assert report.ok, report
    assert report.entries == 3


def test_many_concurrent_appends_keep_one_chain(empty_engine: Engine) -> None:
    migrate(empty_engine)
    sessions = make_session_factory(empty_engine)
    with sessions() as session:
        audit.append(session, audit.AuditAction.SYSTEM_INIT, actor_id=None, object_type="system")
        session.commit()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait(10)
            for i in range(5):
                with sessions() as session:
                    audit.append(
                        session,
                        audit.AuditAction.VIEWED,
                        actor_id=None,
                        object_type="document",
                        object_id=f"{n}-{i}",
                    )
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with sessions() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        report = audit.verify_chain(session)
    assert seqs == list(range(1, 42))
    assert report.ok, report
