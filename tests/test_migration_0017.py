"""Migration 0017 (paper registers, per-series symbols) on SQLite and PostgreSQL: existing
rows survive, classified metadata-only documents become paper, and it goes down and up."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.db import make_engine
from tests.conftest import BACKENDS, PgCluster
from workflow.setup.bootstrap import alembic_config


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (SQLite file, or a new PostgreSQL database)."""
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
        yield made
        made.dispose()
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"trinhky_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    made = make_engine(cluster.create(name))
    try:
        yield made
    finally:
        made.dispose()
        cluster.drop(name)


def migrate_to(engine: Engine, revision: str, down: bool = False) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_0017_up_down_up_keeps_the_rows(engine: Engine) -> None:
    migrate_to(engine, "0016")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO units (id, code, name, symbol, kind, active) "
                "VALUES (1, 'DUK', 'Đảng ủy Khối', 'ĐUK', 'committee', true)"
            )
        )
        c.execute(
            text(
                "INSERT INTO users (id, username, full_name, title, password_hash, active, "
                "failed_logins, created_at) VALUES (1, 'vt', 'Văn thư', '', 'x', true, 0, "
                "'2026-01-01 00:00:00')"
            )
        )
        for doc_id, register, metadata_only, doc_type in (
            (1, "outgoing", False, "CV"),
            (2, "outgoing_classified", True, "QĐ"),
        ):
            c.execute(
                text(
                    "INSERT INTO documents (id, unit_id, created_by_id, subject, doc_type, state, "
                    "version, created_at, updated_at, metadata_only, issuer_unit_id, register, "
                    "year, number, symbol, direction) VALUES (:id, 1, 1, 's', 'CV', 'issued', 1, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00', :mo, 1, :reg, 2026, 1, "
                    ":symbol, 'outgoing')"
                ),
                {
                    "id": doc_id,
                    "reg": register,
                    "mo": metadata_only,
                    "symbol": f"01-{doc_type}/ĐUK",
                },
            )
    migrate_to(engine, "head")
    with engine.begin() as c:
        forms = dict(c.execute(text("SELECT id, form FROM documents ORDER BY id")).all())
        assert forms == {1: "electronic", 2: "paper"}
        c.execute(
            text(
                "INSERT INTO incoming_entries (unit_id, year, number, source, form, sender, "
                "subject, state, created_at) VALUES (1, 2026, 1, 'external', 'paper', "
                "'UBND tỉnh', 'Giấy mời', 'received', '2026-02-01 00:00:00')"
            )
        )
    migrate_to(engine, "0016", down=True)
    with engine.begin() as c:
        assert c.scalar(text("SELECT count(*) FROM incoming_entries")) == 1
        assert c.scalar(text("SELECT blob_sha256 FROM incoming_entries")) == ""
    migrate_to(engine, "head")
    with engine.begin() as c:
        assert c.scalar(text("SELECT count(*) FROM documents")) == 2
