"""Real concurrent requests against gunicorn: one transition per stage, gapless numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from storage.models import Document, Task
from tests import servers
from tests.conftest import DEMO_PASSWORD
from tests.factories import ISSUING_ROUTE, awaiting_issue, open_task, submitted_document, user
from workflow.documents import actions
from workflow.services import EXTENSION_KEY, Services

ISSUANCES = 50

# Row locks, numbering under contention and isolation are the database's: both of them.
pytestmark = pytest.mark.both_databases


@pytest.fixture
def gunicorn(instance: Path, app: Flask) -> Iterator[str]:
    """gunicorn (4 workers) serving this test's instance (SQLite or PostgreSQL)."""
    with servers.gunicorn(instance, workers=4) as base:
        yield base


def token(base: str, user: str) -> dict[str, str]:
    r = requests.post(
        base + "/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD}, timeout=30
    )
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["token"]}


@pytest.mark.slow
def test_fifty_concurrent_issuances_number_one_to_fifty(app: Flask, gunicorn: str) -> None:
    services: Services = app.extensions[EXTENSION_KEY]
    tasks = awaiting_issue(services, ISSUANCES)
    headers = token(gunicorn, "vanthu")

    def issue(task_id: int) -> requests.Response:
        return requests.post(
            f"{gunicorn}/api/v1/tasks/{task_id}/issue", headers=headers, json={}, timeout=300
        )

    with ThreadPoolExecutor(max_workers=ISSUANCES) as pool:
        responses = list(pool.map(issue, tasks))
    assert [r.status_code for r in responses] == [200] * ISSUANCES, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == list(range(1, ISSUANCES + 1))
    symbols = Counter(r.json()["symbol"] for r in responses)
    assert max(symbols.values()) == 1 and "01-CV/ĐUK" in symbols and "50-CV/ĐUK" in symbols
    with services.session_factory() as session:
        stored = sorted(
            session.scalars(select(Document.number).where(Document.number.is_not(None)))
        )
    assert stored == list(range(1, ISSUANCES + 1))


def test_two_people_on_one_stage_make_exactly_one_transition(app: Flask, gunicorn: str) -> None:
    services: Services = app.extensions[EXTENSION_KEY]
    head, auditor = token(gunicorn, "truongban"), token(gunicorn, "kiemtra")
    rounds = 6
    for _ in range(rounds):
        doc_id = submitted_document(services, route=ISSUING_ROUTE, subject="Văn bản thử đồng thời")
        with services.session_factory() as session:
            own = open_task(session, "truongban", doc_id)
            delegate_task = actions.delegate_task(
                session,
                user(session, "truongban"),
                own.id,
                "kiemtra",
                datetime.now(UTC) + timedelta(hours=1),
                "Ủy quyền khi đi họp",
            )
            session.commit()
            pair = [(head, own.id), (auditor, delegate_task.id)]

        def approve(item: tuple[dict[str, str], int]) -> requests.Response:
            return requests.post(
                f"{gunicorn}/api/v1/tasks/{item[1]}/approve", headers=item[0], json={}, timeout=60
            )

        with ThreadPoolExecutor(max_workers=2) as pool:
            codes = sorted(r.status_code for r in pool.map(approve, pair))
        assert codes == [200, 409], codes
        with services.session_factory() as session:
            reviews = session.scalars(
                select(Task).where(Task.document_id == doc_id, Task.stage_position == 2)
            ).all()
            approvals = session.scalars(
                select(Task).where(
                    Task.document_id == doc_id, Task.stage_position == 1, Task.state == "done"
                )
            ).all()
        assert len(approvals) == 1 and len(reviews) == 1  # one transition, one next stage


def test_concurrent_paper_and_classified_registrations_keep_two_gapless_series(
    app: Flask, gunicorn: str
) -> None:
    """Hand-signed documents take numbers of the ordinary series while classified ones
    take the classified series, all at once: each series 1..n, no 409 between them."""
    headers = token(gunicorn, "vanthu")
    paper, secret = 20, 10

    def register(i: int) -> requests.Response:
        if i < paper:
            return requests.post(
                f"{gunicorn}/api/v1/outgoing/paper",
                headers=headers,
                json={
                    "doc_type": "CV",
                    "subject": f"Công văn ký tay {i}",
                    "signer": "bithu",
                    "signed_on": "2026-01-05",
                },
                timeout=300,
            )
        return requests.post(
            f"{gunicorn}/api/v1/documents",
            headers=headers,
            json={"classification": "mat", "doc_type": "CV", "subject": f"Công văn mật {i}"},
            timeout=300,
        )

    with ThreadPoolExecutor(max_workers=paper + secret) as pool:
        responses = list(pool.map(register, range(paper + secret)))
    assert [r.status_code for r in responses] == [201] * (paper + secret), [
        r.text for r in responses if r.status_code != 201
    ][:3]
    assert sorted(r.json()["number"] for r in responses[:paper]) == list(range(1, paper + 1))
    services: Services = app.extensions[EXTENSION_KEY]
    with services.session_factory() as session:
        rows = session.execute(
            select(Document.register, Document.number, Document.symbol).where(
                Document.number.is_not(None)
            )
        ).all()
    ordinary = sorted(n for r, n, _s in rows if r == "outgoing")
    classified = sorted(n for r, n, _s in rows if r == "outgoing_classified")
    assert ordinary == list(range(1, paper + 1)) and classified == list(range(1, secret + 1))
    assert Counter(s for _r, _n, s in rows)["01-CV/ĐUK"] == 2  # one per series
