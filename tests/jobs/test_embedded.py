"""The embedded default (SQLite) as `make run` starts it: the scheduler runs beside
gunicorn and every job runs with nobody pressing a button; a report that becomes
overdue is a T4 miss within one scheduler interval; the scheduler stops with the server."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from storage.db import make_engine, make_session_factory
from storage.models import Unit
from storage.registry_models import ReportObligation
from storage.scheduler_models import JobRun
from storage.types import utcnow
from tests.conftest import DEMO_PASSWORD
from tests.jobs.conftest import JOB_NAMES
from tests.servers import free_port
from tests.test_serving import Server
from workflow.vocab import VN_TZ

OVERDUE_EVERY = 5
"""Seconds between two runs of the overdue job in this test; the others run at start,
then hourly (the ledger refresh of ``revalidation`` would enter the report too)."""
INTERVALS = json.dumps(
    {"overdue": OVERDUE_EVERY, "obligations": 3600, "reminders": 3600, "revalidation": 3600}
    | {"bulk-sweep": 3600, "webhooks": 3600, "log-witnesses": 3600, "cleanup": 3600}
    | {"archival": 3600}
)
JOBS = set(JOB_NAMES)


def token(base: str, username: str) -> dict[str, str]:
    r = requests.post(
        base + "/api/v1/auth/token",
        json={"username": username, "password": DEMO_PASSWORD},
        timeout=30,
    )
    assert r.ok, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def poll(check: Any, timeout: float, what: str) -> Any:
    """Call ``check`` every 0.5 s until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("TRINHKY_JOB_INTERVALS", INTERVALS)
    monkeypatch.setenv("TRINHKY_CHECKPOINT_INTERVAL", "3600")
    srv = Server(tmp_path / "instance", free_port())
    try:
        srv.wait(timeout=180)
        yield srv
    finally:
        srv.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_runs_the_jobs_and_overdue_reports_reach_t4(
    server: Server, tmp_path: Path
) -> None:
    base, auditor = server.base, token(server.base, "kiemtra")

    def all_ran() -> Any:
        body = requests.get(base + "/api/v1/jobs", headers=auditor, timeout=30).json()
        done = {j["name"] for j in body["jobs"] if (j["last_run"] or {}).get("outcome") == "ok"}
        return body if done == JOBS else None

    body = poll(all_ran, 120, "every job's first run")
    assert body["flagged"] == 0
    started = re.search(r"scheduler [^:\s]+:(\d+): ", server.log.read_text())
    assert started, server.log.read_text()
    scheduler_pid = int(started.group(1))

    # A report's due date passes while the server runs (the deadline was yesterday).
    engine = make_engine(f"sqlite:///{tmp_path / 'instance' / 'trinhky.sqlite3'}")
    yesterday = utcnow().astimezone(VN_TZ).date() - timedelta(days=1)
    with make_session_factory(engine)() as session:
        unit = session.scalars(select(Unit).where(Unit.code == "CS-GDDT")).one()
        obligation = ReportObligation(
            unit_id=unit.id,
            report_type="cong-tac-dang-dot-xuat",
            title="Báo cáo đột xuất về công tác đảng",
            period=f"{yesterday.year}-{yesterday.month:02d}",
            due_date=yesterday,
            classified=False,
        )
        session.add(obligation)
        session.commit()
        inserted = utcnow()
        ob_id = obligation.id

    def listed() -> bool:
        r = requests.get(
            base + "/api/v1/coverage/misses",
            params={"target": "T4", "period": str(yesterday.year), "unit": "CS-GDDT"},
            headers=auditor,
            timeout=30,
        )
        assert r.ok, r.text
        return any(i["kind"] == "report" and i["id"] == ob_id for i in r.json()["items"])

    poll(listed, 60, "the overdue report among the T4 misses")

    def recorded() -> list[JobRun]:  # the outcome is written just after the work commits
        with make_session_factory(engine)() as session:
            return [
                r
                for r in session.scalars(select(JobRun).where(JobRun.job == "overdue"))
                if (r.summary or "").startswith("1 nghĩa vụ")
            ]

    (run,) = poll(recorded, 30, "the overdue job's record")
    # Entered by the run of the first due time after the deadline passed (or the one
    # just starting then): within one interval, with no button pressed.
    assert run.outcome == "ok"
    assert run.due_at - inserted <= timedelta(seconds=OVERDUE_EVERY), (run.due_at, inserted)
    figures = requests.get(
        base + "/api/v1/coverage",
        params={"period": str(yesterday.year), "unit": "CS-GDDT"},
        headers=auditor,
        timeout=30,
    ).json()
    assert figures["T4"]["denominator"] >= 1 and figures["T4"]["met"] is False
    engine.dispose()

    assert alive(scheduler_pid)
    server.stop()
    poll(lambda: not alive(scheduler_pid), 20, "the scheduler to stop with the server")
