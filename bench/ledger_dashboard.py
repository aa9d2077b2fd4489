"""bench: dashboard queries of the coverage ledger on N entries (SQLite, and PostgreSQL
with --pg). ``python -m bench.ledger_dashboard --entries 1000000 [--pg URL]``"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storage import ledger
from storage.db import Base
from storage.models import Unit, User

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


def fill(engine: Engine, n: int) -> None:
    Base.metadata.create_all(
        engine, tables=[Unit.__table__, User.__table__, ledger.LedgerEntry.__table__]
    )
    rng = random.Random(2026)
    start = date(2024, 1, 1)
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
    batch: list[dict[str, Any]] = []
    for i in range(n):
        target = ("T1", "T2", "T3", "T4")[i % 4]
        batch.append(
            {
                "target": target,
                "unit_id": rng.randint(1, UNITS),
                "doc_type": rng.choice(TYPES) if target in ("T1", "T2") else None,
                "period_date": start + timedelta(days=rng.randrange(3 * 365)),
                "subject_kind": "document",
                "subject_id": i,
                "state": rng.choice(STATES[target]),
                "label": f"{i}-CV/ĐUK",
                "title": "Về việc ...",
                "evidence": {},
                "checked_at": __import__("datetime").datetime(
                    2026, 1, 1, tzinfo=__import__("datetime").UTC
                ),
            }
        )
        if len(batch) == 20_000:
            with engine.begin() as conn:
                conn.execute(insert(ledger.LedgerEntry), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(ledger.LedgerEntry), batch)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(
                "VACUUM ANALYZE ledger_entries"
                if engine.dialect.name == "postgresql"
                else "ANALYZE"
            )
        )


def queries(session: Session) -> dict[str, Callable[[], Any]]:
    q_start, q_end = date(2025, 7, 1), date(2025, 9, 30)
    return {
        "figures, quarter, whole org": lambda: ledger.count_states(session, q_start, q_end),
        "figures, quarter, one unit": lambda: ledger.count_states(session, q_start, q_end, {3}),
        "figures by doc type, year": lambda: ledger.count_states(
            session, date(2025, 1, 1), date(2025, 12, 31), by_doc_type=True
        ),
        "trend per month, year": lambda: ledger.count_months(
            session, date(2025, 1, 1), date(2025, 12, 31)
        ),
        "exemptions by reason, year": lambda: ledger.count_exempt_reasons(
            session, date(2025, 1, 1), date(2025, 12, 31)
        ),
        "misses T2 first page, year": lambda: ledger.missed_entries(
            session, "T2", date(2025, 1, 1), date(2025, 12, 31)
        ),
    }


def run(name: str, engine: Engine, n: int, repeat: int) -> dict[str, float]:
    t0 = time.perf_counter()
    fill(engine, n)
    print(f"[{name}] inserted {n} entries in {time.perf_counter() - t0:.1f} s")
    out = {}
    with Session(engine) as session:
        for label, fn in queries(session).items():
            fn()  # warm
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
            out[label] = statistics.median(times)
            print(f"[{name}] {label:32s} median {out[label]:8.1f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument(
        "--pg", help="admin URL of a PostgreSQL server (a database is created and dropped)"
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}")
        run("sqlite", engine, args.entries, args.repeat)
        engine.dispose()
    if args.pg:
        import psycopg

        admin = make_url(args.pg).set(drivername="postgresql")
        name = f"trinhky_bench_ledger_{uuid.uuid4().hex[:8]}"
        plain = admin.render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            engine = create_engine(admin.set(drivername="postgresql+psycopg", database=name))
            result = run("pg", engine, args.entries, args.repeat)
            engine.dispose()
            worst = max(result.values())
            print(
                f"[pg] slowest query {worst:.1f} ms: {'< 100 ms: OK' if worst < 100 else '>= 100 ms: TOO SLOW'}"
            )
        finally:
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
