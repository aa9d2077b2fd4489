"""The document page: its cost does not grow with its signatures, readers or views (#15)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from storage.models import AuditEvent
from tests.conftest import Api, closed
from tests.factories import approved, awaiting_issue, signed, submitted_document, user
from tests.test_web import login
from workflow.services import Services

pytestmark = pytest.mark.both_databases

MAX_STATEMENTS = 30
"""What one view of the page may cost in SQL statements, whatever the document."""


class Statements:
    """The SQL statements the app's engine runs while counting."""

    def __init__(self, services: Services) -> None:
        self.engine = services.engine
        self.seen: list[str] = []

    def _count(self, *args: Any) -> None:
        statement = str(args[2])
        # The transparency log stores a node on every second leaf or so: the log's size
        # decides, not the page.
        if not statement.startswith("INSERT INTO log_nodes"):
            self.seen.append(statement)

    def during(self, client: FlaskClient, path: str) -> tuple[int, str]:
        """:returns: the statements one GET of ``path`` runs, and the page."""
        self.seen = []
        event.listen(self.engine, "before_cursor_execute", self._count)
        try:
            page = closed(client.get(path))
        finally:
            event.remove(self.engine, "before_cursor_execute", self._count)
        assert page.status_code == 200
        return len(self.seen), page.get_data(as_text=True)


@pytest.fixture
def statements(services: Services) -> Iterator[Statements]:
    yield Statements(services)


def reader(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def test_the_page_runs_a_bounded_number_of_queries_whatever_its_signatures_and_views(
    app: Flask, services: Services, api: Api, statements: Statements
) -> None:
    one = submitted_document(services)
    approved(services, one, "truongban")
    signed(services, one)
    (issue_task,) = awaiting_issue(services, 1)
    issued = api.post("vanthu", f"/tasks/{issue_task}/issue", json={})
    assert issued.status_code == 200, issued.get_json()
    two = issued.get_json()["document"]["id"]
    drafter = reader(app, "chuyenvien")
    for doc_id in (one, two):
        closed(drafter.get(f"/documents/{doc_id}"))  # the first view of each

    first, page = statements.during(drafter, f"/documents/{one}")
    assert page.count("Hợp lệ") >= 1 and first <= MAX_STATEMENTS
    second, page = statements.during(drafter, f"/documents/{two}")
    assert page.count("Hợp lệ") >= 2 and second <= MAX_STATEMENTS  # the signer's and the seal

    signer = reader(app, "bithu")
    for _ in range(5):
        closed(signer.get(f"/documents/{one}"))
        closed(drafter.get(f"/documents/{one}"))
    again, _page = statements.during(drafter, f"/documents/{one}")
    assert again == first  # nor with the views and the readers
    closed(signer.get(f"/documents/{two}"))
    again, _page = statements.during(drafter, f"/documents/{two}")
    assert again == second


def test_the_views_are_summed_up_per_reader_and_each_stays_in_the_audit_log(
    app: Flask, services: Services
) -> None:
    doc_id = submitted_document(services)
    approved(services, doc_id, "truongban")
    drafter, head = reader(app, "chuyenvien"), reader(app, "truongban")
    for _ in range(3):
        closed(drafter.get(f"/documents/{doc_id}"))
    page = closed(head.get(f"/documents/{doc_id}")).get_data(as_text=True)

    with services.session_factory() as session:
        names = {u: user(session, u).full_name for u in ("chuyenvien", "truongban")}
        recorded = session.scalar(
            select(func.count()).where(
                AuditEvent.action == "document:viewed", AuditEvent.object_id == str(doc_id)
            )
        )
    assert recorded == 4
    summary = page[page.index("<details><summary>") :]
    assert "4 lượt xem</summary>" in summary
    lines = re.findall(r"<li><time[^>]*>[^<]*</time> ([^<]*)</li>", summary)
    assert lines == [names["truongban"], f"{names['chuyenvien']} (3 lượt xem)"]  # latest first
