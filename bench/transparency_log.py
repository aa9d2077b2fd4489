"""bench: the transparency log at a million entries: append, then inclusion and
consistency proofs (time, size, queries), on SQLite and PostgreSQL.

    python -m bench.transparency_log [--entries 1000000] [--db sqlite] [--db postgresql://...]

Each target gets a scratch schema (a temporary SQLite file; on PostgreSQL a schema
``trinhky_bench_log_<pid>`` dropped afterwards). The leaves are appended by
``storage.tlog.append_rows`` (what every audit entry's transaction runs) in chunks of
10,000 per transaction, then 1,000 more one per transaction (an entry's real cost at
that size). Every proof is checked with ``storage.merkle`` against the root.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from storage import merkle, tlog
from storage.db import Base, make_engine, make_session_factory, normalise_url
from storage.models import AuditHead
from storage.tlog_models import LogLeaf, LogNode, LogState

CHUNK = 10_000
SINGLE = 1_000
PROOFS = 1_000


def leaves(start: int, n: int) -> Iterator[tlog.NewLeaf]:
    """``n`` audit leaves from sequence number ``start + 1``."""
    for seq in range(start + 1, start + n + 1):
        yield tlog.audit_leaf(seq, hashlib.sha256(seq.to_bytes(8, "big")).hexdigest())


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[int(len(values) * 0.9) - 1]
    return f"median {statistics.median(values) * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms"


class Counter:
    """Statements executed on an engine."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def run(name: str, engine: Engine, n: int) -> None:
    tables = [t.__table__ for t in (LogLeaf, LogNode, LogState, AuditHead)]
    Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    began = time.perf_counter()
    done = 0
    while done < n:
        size = min(CHUNK, n - done)
        with engine.begin() as conn:
            tlog.append_rows(conn, leaves(done, size))
        done += size
    seconds = time.perf_counter() - began
    print(f"{name}: appended {n:,} entries in {seconds:.1f} s ({n / seconds:,.0f} entries/s)")

    sessions = make_session_factory(engine)
    single: list[float] = []
    for seq in leaves(n, SINGLE):
        t0 = time.perf_counter()
        with sessions() as session:
            tlog.append_leaves(session, [seq])
            session.commit()
        single.append(time.perf_counter() - t0)
    total = n + SINGLE
    print(f"{name}: one entry per transaction at {total:,} entries: {_ms(single)}")

    counter = Counter(engine)
    rng = random.Random(9162)
    with sessions() as session:
        size, root = tlog.current_root(session)
        assert size == total
        times: list[float] = []
        lengths: list[int] = []
        queries: list[int] = []
        for _ in range(PROOFS):
            index = rng.randrange(size)
            before = counter.count
            t0 = time.perf_counter()
            proof = tlog.inclusion_proof(session, index, size)
            times.append(time.perf_counter() - t0)
            queries.append(counter.count - before)
            lengths.append(len(proof.path))
            assert merkle.verify_inclusion(index, size, proof.leaf_hash, proof.path, root)
        print(
            f"{name}: inclusion proof at {size:,} entries: {_ms(times)}; "
            f"{statistics.mean(lengths):.1f} hashes on average (max {max(lengths)}, "
            f"{max(lengths) * 32} bytes); {max(queries)} queries each"
        )
        times, lengths, queries = [], [], []
        for _ in range(PROOFS // 10):
            old = rng.randrange(1, size)
            before = counter.count
            t0 = time.perf_counter()
            old_root = tlog.root_at(session, old)
            proof_c = tlog.consistency_proof(session, old, size)
            times.append(time.perf_counter() - t0)
            queries.append(counter.count - before)
            lengths.append(len(proof_c))
            assert merkle.verify_consistency(old, size, old_root, root, proof_c)
        print(
            f"{name}: consistency proof to {size:,} entries (with the old root): {_ms(times)}; "
            f"{statistics.mean(lengths):.1f} hashes on average (max {max(lengths)}); "
            f"{max(queries)} queries each"
        )


def bench_sqlite(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        try:
            run("sqlite", engine, n)
            print(f"sqlite: database file {path.stat().st_size / 1e6:.0f} MB")
        finally:
            engine.dispose()


def bench_postgres(url: str, n: int) -> None:
    schema = f"trinhky_bench_log_{os.getpid()}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = create_engine(normalise_url(url), connect_args={"options": f"-csearch_path={schema}"})
    try:
        run("postgresql", engine, n)
        with admin.connect() as conn:
            size = conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s "
                "ON s.oid = c.relnamespace WHERE s.nspname = %(schema)s AND c.relkind = 'r'",
                {"schema": schema},
            ).scalar()
        print(f"postgresql: tables and indexes {int(size or 0) / 1e6:.0f} MB")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries to append")
    parser.add_argument(
        "--db",
        action="append",
        help="'sqlite' (a temporary file) or a PostgreSQL URL; repeatable (default: sqlite)",
    )
    args = parser.parse_args(argv)
    for target in args.db or ["sqlite"]:
        if target == "sqlite":
            bench_sqlite(args.entries)
        elif target.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
            bench_postgres(target, args.entries)
        else:
            parser.error(f"--db: expected 'sqlite' or a postgresql:// URL, got {target!r}")


if __name__ == "__main__":
    main()
