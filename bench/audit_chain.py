"""bench: time verify_chain over N hash-chained audit entries.

    python -m bench.audit_chain [--entries 1000000] [--db sqlite] [--db postgresql://...]

Each target gets a scratch schema: a temporary SQLite file, or on PostgreSQL a schema
``trinhky_bench_<pid>`` created in the given database and dropped afterwards (the URL's
role needs CREATE on that database). Entries are bulk-inserted with hashes from
``storage.audit.hash_values`` (the function ``append`` and ``verify_chain`` use).
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Engine

import storage.audit_models  # noqa: F401 - registers audit_checkpoints
from storage.audit import GENESIS, AuditAction, hash_values, verify_chain
from storage.db import Base, make_engine, make_session_factory, normalise_url
from storage.models import AuditEvent, AuditHead

CHUNK = 20_000
ACTIONS = [str(a) for a in AuditAction]


def entries(n: int) -> Iterator[dict[str, Any]]:
    """:returns: ``n`` chained entries as column dicts."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = GENESIS
    for seq in range(1, n + 1):
        values: dict[str, Any] = {
            "seq": seq,
            "at": start + timedelta(milliseconds=37 * seq),
            "actor_id": None,
            "action": ACTIONS[seq % len(ACTIONS)],
            "object_type": "document",
            "object_id": str(seq % 5000),
            "details": {"via": "api", "revision": seq % 7, "ghi_chú": "Đã xem"},
            "prev_hash": prev,
        }
        values["hash"] = prev = hash_values(**values)
        yield values


def fill(engine: Engine, n: int) -> float:
    """Create the tables and insert ``n`` entries; :returns: seconds taken."""
    Base.metadata.create_all(engine)
    began = time.perf_counter()
    last = {"seq": 0, "hash": GENESIS}
    rows = entries(n)
    with engine.begin() as conn:
        while chunk := list(itertools.islice(rows, CHUNK)):
            conn.execute(insert(AuditEvent), chunk)
            last = chunk[-1]
        conn.execute(insert(AuditHead), [{"id": 1, "seq": last["seq"], "hash": last["hash"]}])
    return time.perf_counter() - began


def run(name: str, engine: Engine, n: int, batch: int) -> None:
    """Fill ``engine`` and time ``verify_chain`` over it; print the figures."""
    seconds = fill(engine, n)
    print(f"{name}: inserted {n:,} entries in {seconds:.1f} s ({n / seconds:,.0f}/s)")
    sessions = make_session_factory(engine)
    with sessions() as session:
        began = time.perf_counter()
        report = verify_chain(session, batch=batch)
        seconds = time.perf_counter() - began
    assert report.ok and report.entries == n, report
    print(
        f"{name}: verify_chain {report.entries:,} entries in {seconds:.1f} s "
        f"({report.entries / seconds:,.0f} entries/s), ok={report.ok}"
    )


def bench_sqlite(n: int, batch: int) -> None:
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        try:
            run("sqlite", engine, n, batch)
        finally:
            engine.dispose()


def bench_postgres(url: str, n: int, batch: int) -> None:
    schema = f"trinhky_bench_{os.getpid()}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = create_engine(normalise_url(url), connect_args={"options": f"-csearch_path={schema}"})
    try:
        run("postgresql", engine, n, batch)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries to chain")
    parser.add_argument(
        "--db",
        action="append",
        help="'sqlite' (a temporary file) or a PostgreSQL URL; repeatable (default: sqlite)",
    )
    parser.add_argument("--batch", type=int, default=20_000, help="verify_chain batch size")
    args = parser.parse_args(argv)
    for target in args.db or ["sqlite"]:
        if target == "sqlite":
            bench_sqlite(args.entries, args.batch)
        elif target.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
            bench_postgres(target, args.entries, args.batch)
        else:
            parser.error(f"--db: expected 'sqlite' or a postgresql:// URL, got {target!r}")


if __name__ == "__main__":
    main()
