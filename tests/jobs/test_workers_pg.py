"""The scale-out: two scheduler processes (two app hosts) on one PostgreSQL database.
Both fire every job at every due time; the database lets exactly one of them run it.
Skipped without ``TRINHKY_TEST_POSTGRES_URL``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.audit import verify_chain
from storage.audit_models import AuditCheckpoint
from storage.heads import LEDGER_HEAD
from storage.models import AuditEvent
from storage.scheduler_models import JobRun
from tests.conftest import REPO
from tests.jobs.conftest import JOB_NAMES
from workflow.services import Services

EVERY = 2
"""Seconds between two due times of every job here."""
RUNS = 3
"""Due times of every job to see run (each fired by both schedulers)."""
JOBS = JOB_NAMES


@pytest.fixture
def db_backend() -> str:
    """This module runs on PostgreSQL only (the ``instance`` fixture skips without it)."""
    return "pg"


def start_scheduler(instance: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRINHKY_INSTANCE_PATH": str(instance),  # its config.py names the database
        "TRINHKY_CHECKPOINT_INTERVAL": str(EVERY),
        "TRINHKY_JOB_INTERVALS": "{" + ", ".join(f'"{j}": {EVERY}' for j in JOBS) + "}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TRINHKY_DATABASE_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def enough(services: Services, logs: list[Path]) -> bool:
    """Both schedulers started, every job ran :data:`RUNS` due times, and the loser of a
    claim has skipped every job at least once."""
    texts = [log.read_text() for log in logs]
    if not all(re.search(r"scheduler \S+: ", text) for text in texts):
        return False
    with services.session_factory() as session:
        done = Counter(session.scalars(select(JobRun.job).where(JobRun.outcome != "running")))
    skipped = "\n".join(line for text in texts for line in text.splitlines() if "skipped" in line)
    return all(done[job] >= RUNS and f"job {job} due " in skipped for job in JOBS)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_two_schedulers_run_each_due_job_once(
    instance: Path, services: Services, tmp_path: Path
) -> None:
    assert services.engine.dialect.name == "postgresql"
    logs = [tmp_path / "host-a.log", tmp_path / "host-b.log"]
    procs = [start_scheduler(instance, log) for log in logs]
    try:
        deadline = time.monotonic() + 120
        while not enough(services, logs):  # a bounded poll: several due times of every job
            assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.5)
    finally:
        for proc in procs:
            stop(proc)
    texts = [log.read_text() for log in logs]
    workers = [re.search(r"scheduler (\S+): ", text).group(1) for text in texts]  # type: ignore[union-attr]
    assert workers[0] != workers[1]

    with services.session_factory() as session:
        rows = session.scalars(select(JobRun).order_by(JobRun.job, JobRun.due_at)).all()
        per_slot = Counter((r.job, r.due_at) for r in rows)
        checkpoint_seqs = Counter(session.scalars(select(AuditCheckpoint.seq)))
        heads = session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == LEDGER_HEAD)
            .order_by(AuditEvent.seq)
        ).all()
        generated = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "report:obligations_generated")
        )
        chain = verify_chain(session)

    print({w: sum(1 for r in rows if r.worker == w) for w in workers})
    # Every due time of every job ran exactly once, and ran well.
    assert set(per_slot.values()) == {1}
    assert {r.worker for r in rows} <= set(workers)
    assert all(r.outcome == "ok" for r in rows), [(r.job, r.error) for r in rows if r.error]
    for job in JOBS:
        assert sum(1 for r in rows if r.job == job) >= RUNS, job  # several due times each
        # ... though both schedulers fired it: the one that lost the claim skipped.
        skipped = sum(text.count(f"job {job} due ") for text in texts) - sum(
            1 for r in rows if r.job == job
        )
        assert skipped >= 1, (job, texts)
        assert any(
            f"job {job} due " in line and "claimed by another scheduler, skipped" in line
            for text in texts
            for line in text.splitlines()
        ), job
    # Nothing was done twice: one checkpoint per head, a ledger head only when it changed,
    # the current periods' obligations generated once each, an intact audit chain.
    assert set(checkpoint_seqs.values()) == {1}
    assert all(a != b for a, b in zip(heads, heads[1:], strict=False))
    assert generated == 3
    assert chain.ok and chain.checkpoints_ok
