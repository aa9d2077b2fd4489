"""Bulk signing (ký hàng loạt): one passphrase, a background thread, per-item outcomes."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from pyhanko.sign.signers import Signer
from sqlalchemy import select, update

from storage.job_models import BulkJob, BulkJobItem
from storage.models import AuditEvent, Certificate, Document, Revision, Signature, Task
from storage.types import utcnow
from tests import servers
from tests.conftest import DEMO_PASSWORD, Api, blob_files
from tests.factories import awaiting_signature, submitted_document, user
from tests.test_web import csrf_token, login
from workflow.documents import actions
from workflow.services import Services
from workflow.signatures import bulk
from workflow.signatures import flow as signing_flow

SIGNER = "bithu"


class GatedRunner(bulk.BulkRunner):
    """Holds every job until the test opens the gate (to change documents meanwhile)."""

    def __init__(self, app: Flask, services: Services) -> None:
        super().__init__(app, services)
        self.gate = threading.Event()

    def _run(self, job_id: str, signer: Signer) -> None:
        self.gate.wait(60)
        super()._run(job_id, signer)


@pytest.fixture
def bulk_app(app: Flask) -> Iterator[Flask]:
    """The app; waits for its background jobs before the engine is disposed."""
    yield app
    runner = app.extensions.get(bulk.RUNNER_KEY)
    if isinstance(runner, GatedRunner):
        runner.gate.set()
    if runner is not None:
        assert runner.join(120)


def wait_done(api: Api, job_id: str, timeout: float = 240) -> tuple[dict[str, Any], list[int]]:
    """Poll the API until the job ends; :returns: its last body and the progress seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(SIGNER, f"/bulk-sign/{job_id}")
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        seen.append(body["done"])
        if body["status"] in ("done", "failed"):
            return body, seen
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def assert_no_half_state(services: Services, instance: Path, before: set[Path]) -> None:
    """Every signature has its revision and vice versa; every new blob has its row."""
    with services.session_factory() as session:
        signed_revs = session.scalars(select(Revision).where(Revision.kind == "signed")).all()
        sigs = session.scalars(select(Signature)).all()
        shas = set(session.scalars(select(Revision.blob_sha256)))
    assert {s.revision_id for s in sigs} == {r.id for r in signed_revs}
    new = set(blob_files(instance)) - before
    assert not [p for p in new if p.parent.name == "tmp"], "temporary files left behind"
    assert {p.name for p in new} <= shas, "a published blob without its revision"


@pytest.mark.slow
def test_bulk_signs_fifty_documents(
    bulk_app: Flask, api: Api, services: Services, instance: Path
) -> None:
    tasks = awaiting_signature(services, 50)
    before = set(blob_files(instance))
    started = time.monotonic()
    response = api.post(SIGNER, "/bulk-sign", json={"task_ids": tasks, "passphrase": DEMO_PASSWORD})
    assert response.status_code == 202, response.get_json()
    accepted = response.get_json()
    assert accepted["total"] == 50
    assert accepted["status_url"] == f"/api/v1/bulk-sign/{accepted['job_id']}"
    body, seen = wait_done(api, accepted["job_id"])
    elapsed = time.monotonic() - started
    print(f"bulk signing of 50 documents took {elapsed:.1f} s")
    assert body["status"] == "done", body
    assert (body["done"], body["succeeded"], body["failed"]) == (50, 50, 0)
    assert seen == sorted(seen) and seen[-1] == 50
    assert [i["task_id"] for i in body["items"]] == tasks
    assert all(i["state"] == "signed" and i["error"] is None for i in body["items"])

    with services.session_factory() as session:
        docs = session.scalars(
            select(Document).where(Document.id.in_([i["document_id"] for i in body["items"]]))
        ).all()
        assert {d.state for d in docs} == {"signed"}
        signed_docs = list(session.scalars(select(Signature.document_id)))
        assert sorted(signed_docs) == sorted(d.id for d in docs)  # one signature each
        assert {t.state for t in session.scalars(select(Task).where(Task.id.in_(tasks)))} == {
            "done"
        }
    for doc_id in (body["items"][0]["document_id"], body["items"][-1]["document_id"]):
        report = api.get(SIGNER, f"/documents/{doc_id}/validation").get_json()
        assert report["verdict"] == "valid", report
    assert_no_half_state(services, instance, before)


def test_mixed_run_fails_only_the_changed_documents(
    bulk_app: Flask, api: Api, services: Services, instance: Path
) -> None:
    runner = GatedRunner(bulk_app, services)
    bulk_app.extensions[bulk.RUNNER_KEY] = runner
    tasks = awaiting_signature(services, 6)
    before = set(blob_files(instance))
    response = api.post(SIGNER, "/bulk-sign", json={"task_ids": tasks, "passphrase": DEMO_PASSWORD})
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]
    queued = api.get(SIGNER, f"/bulk-sign/{job_id}").get_json()
    assert (queued["status"], queued["done"]) == ("queued", 0)
    assert {i["state"] for i in queued["items"]} == {"pending"}

    # Meanwhile: one document is rejected by the signer elsewhere, one signed one by one.
    with services.session_factory() as session:
        actions.reject(session, user(session, SIGNER), tasks[1], "Cần sửa lại trích yếu")
        session.commit()
        signing_flow.sign(
            session,
            services.blobs,
            services.trust,
            user(session, SIGNER),
            tasks[4],
            DEMO_PASSWORD,
            key_max_failures=5,
            key_lock_seconds=60,
        )
        session.commit()
    runner.gate.set()
    body, _ = wait_done(api, job_id)

    assert body["status"] == "done"
    assert (body["done"], body["succeeded"], body["failed"]) == (6, 4, 2)
    states = {i["task_id"]: i for i in body["items"]}
    for failed in (tasks[1], tasks[4]):
        assert states[failed]["state"] == "failed"
        assert "đã được xử lý" in states[failed]["error"]
    assert [t for t in tasks if states[t]["state"] == "signed"] == [
        tasks[0],
        tasks[2],
        tasks[3],
        tasks[5],
    ]
    with services.session_factory() as session:
        signed_docs = list(session.scalars(select(Signature.document_id)))
    by_task = {t: states[t]["document_id"] for t in tasks}
    assert by_task[tasks[1]] not in signed_docs  # rejected: nothing half signed
    assert signed_docs.count(by_task[tasks[4]]) == 1  # signed once, not twice
    assert len(signed_docs) == 5
    with services.session_factory() as session:
        audited = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "document:sign_failed")
            .order_by(AuditEvent.seq)
        ).all()
    assert sorted(e.details["task"] for e in audited if e.details["bulk_job"] == job_id) == [
        tasks[1],
        tasks[4],
    ]
    assert_no_half_state(services, instance, before)


def test_wrong_passphrase_is_403_counted_and_makes_no_job(
    bulk_app: Flask, api: Api, services: Services, count_rows: Any
) -> None:
    tasks = awaiting_signature(services, 2)
    response = api.post(SIGNER, "/bulk-sign", json={"task_ids": tasks, "passphrase": "sai-roi"})
    assert response.status_code == 403
    assert response.get_json()["code"] == "wrong_passphrase"
    assert count_rows(BulkJob) == 0 and count_rows(BulkJobItem) == 0
    with services.session_factory() as session:
        cert = session.scalars(
            select(Certificate).where(Certificate.user_id == user(session, SIGNER).id)
        ).first()
        assert cert is not None and cert.failed_unlocks == 1
        assert {t.state for t in session.scalars(select(Task).where(Task.id.in_(tasks)))} == {
            "open"
        }


@pytest.mark.usefixtures("clock")
def test_locked_key_is_429(bulk_app: Flask, api: Api, services: Services) -> None:
    tasks = awaiting_signature(services, 1)
    with services.session_factory() as session:
        session.execute(
            update(Certificate)
            .where(Certificate.user_id == user(session, SIGNER).id)
            .values(locked_until=utcnow() + timedelta(minutes=5))
        )
        session.commit()
    response = api.post(SIGNER, "/bulk-sign", json={"task_ids": tasks, "passphrase": DEMO_PASSWORD})
    assert response.status_code == 429


def test_tasks_that_are_not_the_callers_open_sign_tasks_are_422(
    bulk_app: Flask, api: Api, services: Services, count_rows: Any
) -> None:
    mine = awaiting_signature(services, 1)
    doc_id = submitted_document(services, subject="Chưa duyệt")
    with services.session_factory() as session:
        others = session.scalars(select(Task.id).where(Task.document_id == doc_id)).one()
    response = api.post(
        SIGNER,
        "/bulk-sign",
        json={"task_ids": [mine[0], others, 987654], "passphrase": DEMO_PASSWORD},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_tasks"
    assert [i["task_id"] for i in body["invalid"]] == [others, 987654]
    assert str(others) in body["detail"]
    assert count_rows(BulkJob) == 0
    assert (
        api.post(SIGNER, "/bulk-sign", json={"task_ids": [], "passphrase": "x"}).status_code == 422
    )
    too_many = list(range(1, bulk.MAX_ITEMS + 2))
    response = api.post(SIGNER, "/bulk-sign", json={"task_ids": too_many, "passphrase": "x"})
    assert response.status_code == 422


@pytest.mark.usefixtures("clock")
def test_only_the_owner_reads_the_job_and_a_stale_job_fails(
    bulk_app: Flask, api: Api, services: Services
) -> None:
    runner = GatedRunner(bulk_app, services)
    bulk_app.extensions[bulk.RUNNER_KEY] = runner
    tasks = awaiting_signature(services, 2)
    response = api.post(SIGNER, "/bulk-sign", json={"task_ids": tasks, "passphrase": DEMO_PASSWORD})
    job_id = response.get_json()["job_id"]
    assert api.get("truongban", f"/bulk-sign/{job_id}").status_code == 404
    assert api.get(SIGNER, "/bulk-sign/not-a-job").status_code == 404
    other = bulk_app.test_client()
    login(other, "truongban")
    assert other.get(f"/bulk/{job_id}/progress.json").status_code == 404

    # The worker died: no heartbeat for longer than STALE_AFTER.
    with services.session_factory() as session:
        session.execute(
            update(BulkJob)
            .where(BulkJob.id == job_id)
            .values(updated_at=utcnow() - bulk.STALE_AFTER - timedelta(minutes=1))
        )
        session.commit()
    body = api.get(SIGNER, f"/bulk-sign/{job_id}").get_json()
    assert body["status"] == "failed" and "nhập lại mật khẩu" in body["error"]
    runner.gate.set()
    assert runner.join(30)
    body = api.get(SIGNER, f"/bulk-sign/{job_id}").get_json()
    assert {i["state"] for i in body["items"]} == {"pending"}  # never resumed without a key
    with services.session_factory() as session:
        assert {t.state for t in session.scalars(select(Task).where(Task.id.in_(tasks)))} == {
            "open"
        }


def test_web_inbox_starts_a_job_and_shows_progress(bulk_app: Flask, services: Services) -> None:
    tasks = awaiting_signature(services, 3)
    browser = bulk_app.test_client()
    login(browser, SIGNER)
    inbox = browser.get("/").get_data(as_text=True)
    boxes = re.findall(r'name="task_ids" value="(\d+)"', inbox)
    assert sorted(int(b) for b in boxes) == sorted(tasks) and 'action="/bulk/confirm"' in inbox
    assert not re.search(r'name="task_ids" value="\d+" checked', inbox)  # nothing ticked
    assert "passphrase" not in inbox  # the passphrase only on the confirmation page
    query = "&".join(f"task_ids={b}" for b in boxes[:2])
    confirm = browser.get(f"/bulk/confirm?{query}").get_data(as_text=True)
    assert "Bạn sắp ký 2 văn bản" in confirm and 'name="confirm_count" value="2"' in confirm
    assert browser.get("/bulk/confirm").headers["Location"] == "/"  # nothing ticked
    token = csrf_token(browser, "/")
    response = browser.post(  # not confirmed: back to the confirmation, nothing signed
        "/bulk", data={"csrf_token": token, "passphrase": DEMO_PASSWORD, "task_ids": boxes}
    )
    assert response.status_code == 302 and "/bulk/confirm" in response.headers["Location"]
    confirmed = {"confirm_count": str(len(boxes))}
    response = browser.post(
        "/bulk", data={"csrf_token": token, "passphrase": "sai", "task_ids": boxes, **confirmed}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Mật khẩu khóa ký số không đúng" in browser.get("/").get_data(as_text=True)
    response = browser.post(
        "/bulk",
        data={"csrf_token": token, "passphrase": DEMO_PASSWORD, "task_ids": boxes, **confirmed},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page_url = response.headers["Location"]
    job_id = page_url.rsplit("/", 1)[-1]
    runner = bulk_app.extensions[bulk.RUNNER_KEY]
    assert runner.join(120)
    page = browser.get(page_url).get_data(as_text=True)
    assert "<progress" in page and "Đã ký" in page and "js/bulk.js" in page
    body = browser.get(f"/bulk/{job_id}/progress.json").get_json()
    assert (body["status"], body["succeeded"]) == ("done", 3)

    response = browser.post(
        "/bulk",
        data={"csrf_token": token, "passphrase": DEMO_PASSWORD, "task_ids": boxes, **confirmed},
    )
    assert response.headers["Location"] == "/"  # already signed: refused, listed
    assert "không phải việc ký" in browser.get("/").get_data(as_text=True)


@pytest.fixture
def bulk_gunicorn(instance: Path, app: Flask) -> Iterator[tuple[str, Path]]:
    """gunicorn (3 sync workers) on this test's instance: (base URL, its log file)."""
    with servers.gunicorn(instance, workers=3) as base:
        yield base, next(instance.parent.glob("gunicorn-*.log"))


# A job written by one worker process and read by the others.
@pytest.mark.both_databases
@pytest.mark.slow
def test_gunicorn_worker_runs_the_job_and_any_worker_reports_it(
    bulk_gunicorn: tuple[str, Path], services: Services, instance: Path, db_backend: str
) -> None:
    base, log = bulk_gunicorn
    tasks = awaiting_signature(services, 8)
    token = requests.post(
        base + "/api/v1/auth/token",
        json={"username": SIGNER, "password": DEMO_PASSWORD},
        timeout=30,
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.post(
        base + "/api/v1/bulk-sign",
        headers=headers,
        json={"task_ids": tasks, "passphrase": DEMO_PASSWORD},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    status_url = base + response.json()["status_url"]
    deadline = time.monotonic() + 240
    while True:  # answered by whichever worker takes the request
        body = requests.get(status_url, headers=headers, timeout=30).json()
        if body["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.3)
    assert (body["status"], body["succeeded"], body["failed"]) == ("done", 8, 0), body
    # The passphrase is never stored: not in the log, not in the database files.
    secret = DEMO_PASSWORD.encode()
    assert secret not in log.read_bytes()
    if db_backend == "sqlite":
        for path in instance.glob("trinhky.sqlite3*"):
            assert secret not in path.read_bytes(), path
