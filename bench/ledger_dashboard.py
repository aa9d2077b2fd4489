"""bench: the coverage dashboard's queries on N ledger entries, on SQLite and PostgreSQL.

``python -m bench.ledger_dashboard --entries 1000000 --pg postgresql://USER@HOST:PORT/postgres``

Per query, the median of ``--repeat`` runs, timed round-robin in the same run:
*before*, grouping the entries (what the queries did before the summary counts; still
what they do for a range that is not whole months), and *after*, as the dashboard runs
now (sums of ``ledger_counts`` rows over whole months). On PostgreSQL every *after*
time is checked against the target (< 100 ms per dashboard query). ``--explain`` prints
the plans (``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on
SQLite). The PostgreSQL server comes from ``--pg``, else ``TRINHKY_TEST_POSTGRES_URL``;
a throwaway database is created on it and dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.served import postgres_engine
from storage import ledger, ledger_counts
from storage.db import Base
from storage.models import Unit
from storage.tlog_models import LogLeaf, LogNode, LogState

TARGET_MS = 100.0
TLOG_TABLES = tuple(m.__tablename__ for m in (LogLeaf, LogNode, LogState))
OUT_DIR = Path(__file__).resolve().parent / "out"
UNITS = 9
TYPES = [
    "NQ",
    "QĐ",
    "CT",
    "KL",
    "QC",
    "QĐi",
    "HD",
    "BC",
    "KH",
    "ĐA",
    "CTr",
    "TB",
    "TTr",
    "CV",
    "BB",
]
STATES = {
    "T1": (["electronic"] * 90 + ["missing"] * 7 + ["exempt"] * 3),
    "T2": (["signed_valid"] * 92 + ["signed_invalid"] * 2 + ["missing"] * 3 + ["exempt"] * 3),
    "T3": (["online"] * 75 + ["offline"] * 23 + ["exempt"] * 2),
    "T4": (["submitted"] * 80 + ["late"] * 10 + ["missing"] * 8 + ["exempt"] * 2),
}
REASONS = ["Mật", "Tối mật", "Văn bản theo quy chế đặc thù"]


def fill(engine: Engine, n: int) -> dict[str, float]:
    """``n`` entries over 2024-2026 in 9 units (bulk insert), then the summary counts
    rebuilt from them (as migration 0012 does). :returns: the two durations (s)."""
    Base.metadata.create_all(
        engine,
        tables=[
            Base.metadata.tables[name]
            # audit_events: the dashboard's "as of" is the ledger's last full refresh; the
            # audit head and the log tables: every ledger entry is a leaf of the
            # transparency log (storage.tlog), appended when it is flushed.
            for name in (
                "units",
                "users",
                "ledger_entries",
                "ledger_counts",
                "audit_events",
                "audit_head",
                *TLOG_TABLES,
            )
        ],
    )
    rng = random.Random(2026)
    start = date(2024, 1, 1)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(Unit),
            [
                {
                    "id": i,
                    "code": f"U{i}",
                    "name": f"Đơn vị {i}",
                    "symbol": "ĐUK",
                    "kind": "board" if i <= 5 else "grassroots",
                    "parent_id": None if i == 1 else 1,
                }
                for i in range(1, UNITS + 1)
            ],
        )
    checked = datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[dict[str, Any]] = []
    for i in range(n):
        target = ("T1", "T2", "T3", "T4")[i % 4]
        state = rng.choice(STATES[target])
        batch.append(
            {
                "target": target,
                "unit_id": rng.randint(1, UNITS),
                "doc_type": rng.choice(TYPES) if target in ("T1", "T2") else None,
                "period_date": start + timedelta(days=rng.randrange(3 * 365)),
                "subject_kind": "document",
                "subject_id": i,
                "state": state,
                "label": f"{i}-CV/ĐUK",
                "title": "Về việc ...",
                "exempt_reason": rng.choice(REASONS) if state == "exempt" else None,
                "evidence": {},
                "checked_at": checked,
            }
        )
        if len(batch) == 20_000:
            with engine.begin() as conn:
                conn.execute(insert(ledger.LedgerEntry), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(ledger.LedgerEntry), batch)
    inserted = time.perf_counter() - t0
    t0 = time.perf_counter()
    with engine.begin() as conn:
        rows = ledger_counts.rebuild_counts(conn, ledger.LedgerEntry.__table__)
    rebuilt = time.perf_counter() - t0
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    return {"insert_s": inserted, "rebuild_counts_s": rebuilt, "count_rows": rows}


@contextlib.contextmanager
def entries_only() -> Iterator[None]:
    """Group the entries for every period, as before the summary counts."""
    saved = ledger.whole_months
    ledger.whole_months = lambda start, end: None
    try:
        yield
    finally:
        ledger.whole_months = saved


def queries(session: Session) -> dict[str, Callable[[], Any]]:
    """The dashboard's queries (storage API), then a whole dashboard page's data."""
    from workflow.coverage import ledger as coverage

    q_start, q_end = date(2025, 7, 1), date(2025, 9, 30)
    year = coverage.Period("2025", date(2025, 1, 1), date(2025, 12, 31))
    scope = coverage.resolve_scope(session, None)

    def dashboard() -> Any:  # what coverage_views._dashboard_data runs
        return coverage.dashboard(session, scope, year)

    return {
        "figures, quarter, whole org": lambda: ledger.count_states(session, q_start, q_end),
        "figures, quarter, one unit": lambda: ledger.count_states(session, q_start, q_end, {3}),
        "figures by doc type, year": lambda: ledger.count_states(
            session, year.start, year.end, by_doc_type=True
        ),
        "trend per month, year": lambda: ledger.count_months(session, year.start, year.end),
        "exemptions by reason, year": lambda: ledger.count_exempt_reasons(
            session, year.start, year.end
        ),
        "misses T2 first page, year": lambda: ledger.missed_entries(
            session, "T2", year.start, year.end
        ),
        PAGE: dashboard,
    }


PAGE = "whole dashboard page data, year"
"""Not one query: everything a dashboard page of a year runs (for information)."""
UNCHANGED = {"exemptions by reason, year", "misses T2 first page, year"}
"""Queries that still read the entries (the same query before and after)."""


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def measure(session: Session, repeat: int) -> dict[str, dict[str, float]]:
    """:returns: per query, the median ms before and after (round-robin, after a warm-up)."""
    out: dict[str, dict[str, float]] = {}
    for label, fn in queries(session).items():
        with entries_only():
            fn()  # warm
        fn()
        before: list[float] = []
        after: list[float] = []
        for _ in range(repeat):
            with entries_only():
                before.append(_timed(fn))
            after.append(_timed(fn))
        out[label] = {
            "before_ms": statistics.median(before),
            "after_ms": statistics.median(after),
        }
    return out


def measure_write(session: Session, repeat: int) -> float:
    """:returns: the median ms of one entry's state change + commit (counts maintained)."""
    ids = list(session.scalars(select(ledger.LedgerEntry.id).limit(repeat)))
    times = []
    for entry_id in ids:
        entry = session.get(ledger.LedgerEntry, entry_id)
        assert entry is not None  # noqa: S101 - just selected
        t = time.perf_counter()
        entry.state = "exempt" if entry.state != "exempt" else "missing"
        session.commit()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def explain(engine: Engine, session: Session) -> None:
    """Print the plan of every statement of every query (before and after)."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    pg = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
    for label, fn in queries(session).items():
        if label == PAGE:
            continue
        for variant in ("before", "after"):
            if variant == "before" and label in UNCHANGED:
                continue
            seen.clear()
            event.listen(engine, "before_cursor_execute", capture)
            try:
                with entries_only() if variant == "before" else contextlib.nullcontext():
                    fn()
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            for statement, params in seen:
                cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
                cursor.execute(prefix + statement, params)
                plan = [" | ".join(str(c) for c in row) for row in cursor.fetchall()]
                print(f"  --- {label} ({variant}) ---")
                for line in plan:
                    print(f"    {line}")


def run(name: str, engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    built = fill(engine, args.entries)
    print(
        f"[{name}] {args.entries} entries inserted in {built['insert_s']:.1f} s; summary counts "
        f"rebuilt in {built['rebuild_counts_s']:.1f} s ({built['count_rows']} rows)",
        flush=True,
    )
    with Session(engine) as session:
        times = measure(session, args.repeat)
        pg = name == "pg"
        print(f"[{name}] median of {args.repeat} runs, ms: before (grouping the entries) -> now")
        for label, t in times.items():
            status = ""
            if pg:
                status = "  < 100 ms: OK" if t["after_ms"] < TARGET_MS else "  >= 100 ms: TOO SLOW"
            same = " (same query)" if label in UNCHANGED else ""
            same = " (3 queries + Python: not one query)" if label == PAGE else same
            print(
                f"[{name}] {label:34s} {t['before_ms']:8.1f} -> {t['after_ms']:7.1f}{status}{same}",
                flush=True,
            )
        session.rollback()
        write_ms = measure_write(session, 30)
        print(f"[{name}] write: one entry's state change + commit, counts kept: {write_ms:.1f} ms")
        if args.explain:
            explain(engine, session)
            session.rollback()
    return {**built, "queries": times, "write_ms": write_ms}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument(
        "--pg",
        default=os.environ.get("TRINHKY_TEST_POSTGRES_URL"),
        help="admin URL of a PostgreSQL server (a database is created and dropped); "
        "default: $TRINHKY_TEST_POSTGRES_URL",
    )
    parser.add_argument(
        "--backends", default="sqlite,pg", help="comma-separated: sqlite, pg (default both)"
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    result: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "entries": args.entries,
        "repeat": args.repeat,
        "target_ms_pg": TARGET_MS,
    }
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            engine = create_engine(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}")
            result["sqlite"] = run("sqlite", engine, args)
            engine.dispose()
    if "pg" in backends:
        if not args.pg:
            print("[pg] skipped: no --pg URL and TRINHKY_TEST_POSTGRES_URL is not set")
        else:
            with postgres_engine(args.pg) as engine:
                result["pg"] = run("pg", engine, args)
            after = {k: v["after_ms"] for k, v in result["pg"]["queries"].items() if k != PAGE}
            slow = {k: v for k, v in after.items() if v >= TARGET_MS}
            worst = max(after, key=lambda k: after[k])
            verdict = "MET" if not slow else f"NOT MET ({', '.join(slow)})"
            result["pg"]["target_met"] = not slow
            print(
                f"[pg] target < {TARGET_MS:.0f} ms per dashboard query on {args.entries} "
                f"entries: {verdict}; slowest {after[worst]:.1f} ms ({worst})"
            )
    out = args.out
    if out is None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        out = OUT_DIR / f"ledger-dashboard-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
