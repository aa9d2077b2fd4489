"""Handling of incoming documents after receipt (xử lý văn bản đến): the clerk receives,
a leader of the receiving unit assigns it to a board (lead person, deadline, note), the
board handles it; tasks in "Việc cần xử lý", refusals, the audit log, the register and
the web pages with CSRF."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import AuditEvent, Task, Unit, User
from storage.registry_models import IncomingEntry, WorkFileItem
from tests.conftest import Api, closed
from tests.pdfs import simple_pdf
from tests.test_dispatch_registers import add_clerk, csrf, issued_document, web_login

from workflow.services import Services

SUBJECT = "Về việc triển khai Nghị quyết của Tỉnh ủy về chuyển đổi số"


def ids(services: Services) -> dict[str, int]:
    """:returns: the ids of the demo units (by code) and users (by username)."""
    with services.session_factory() as session:
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        users = {u.username: u.id for u in session.scalars(select(User))}
    return {**units, **users}


@pytest.fixture(scope="module")
def signed_pdf() -> bytes:
    """Filled in by the first test that issues a document (signing is slow)."""
    return b""


def register_outside(api: Api, data: bytes, clerk: str = "vanthu", **extra: str) -> Any:
    form = {
        "file": (io.BytesIO(data), "van-ban-den.pdf"),
        "sender": "Tỉnh ủy",
        "original_symbol": "45-CV/TU",
        "original_date": "2026-11-20",
        "subject": SUBJECT,
        "doc_type": "CV",
        **extra,
    }
    return api.post(clerk, "/incoming", data=form, content_type="multipart/form-data")


def received_entry(api: Api) -> dict[str, Any]:
    """An outside document signed by the committee, registered and received by Văn phòng's
    clerk in the committee's register (the demo's natural receiving unit)."""
    doc_id = issued_document(api)
    signed = api.get("vanthu", f"/documents/{doc_id}/file").data
    entry = register_outside(api, signed).get_json()
    received = api.post("vanthu", f"/incoming/{entry['id']}/receive")
    assert received.status_code == 200, received.get_json()
    return dict(received.get_json())


def audit_actions(services: Services, document_id: int) -> list[tuple[str, dict[str, Any]]]:
    with services.session_factory() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "document", AuditEvent.object_id == str(document_id))
            .order_by(AuditEvent.seq)
        ).all()
        return [(r.action, r.details) for r in rows]


def test_full_flow_through_the_api(api: Api, services: Services) -> None:
    known = ids(services)
    entry = received_entry(api)
    assert entry["state"] == "received" and entry["number"] == 1
    handling = entry["handling"]
    assert handling["state"] == "awaiting_assignment" and handling["assigned_unit"] is None
    assert [p["username"] for p in handling["waiting_for"]] == ["chanhvp"]
    doc_id = handling["document_id"]

    # The leader (Chánh Văn phòng) has the assign task in "Việc cần xử lý", due in 1 day.
    task = api.task_for("chanhvp", doc_id)
    assert task["action"] == "assign" and task["due_at"].endswith("+07:00")
    assert task["overdue"] is False and task["subject"] == SUBJECT
    assert api.get("chuyenvien", "/tasks").get_json()["tasks"] == []
    # The generic approve endpoint does not assign.
    assert api.post("chanhvp", f"/tasks/{task['id']}/approve", json={}).status_code == 409

    body = {
        "unit": known["BTG"],
        "assignee": known["chuyenvien"],
        "deadline_days": 3,
        "note": "Ban Tuyên giáo chủ trì, tham mưu văn bản triển khai.",
    }
    assigned = api.post("chanhvp", f"/incoming/{entry['id']}/assign", json=body)
    assert assigned.status_code == 200, assigned.get_json()
    info = assigned.get_json()["handling"]
    assert info["state"] == "in_handling" and info["assigned_unit"]["code"] == "BTG"
    assert info["assignee"]["username"] == "chuyenvien"
    assert info["assigned_by"]["username"] == "chanhvp" and info["note"] == body["note"]
    assert [p["username"] for p in info["waiting_for"]] == ["chuyenvien"]
    assert api.get("chanhvp", "/tasks").get_json()["tasks"] == []

    # The lead person's task, with the 3-working-day deadline.
    handle = api.task_for("chuyenvien", doc_id)
    assert handle["action"] == "handle" and handle["due_at"] == info["due_at"]
    due = datetime.fromisoformat(handle["due_at"])
    assert timedelta(days=3) <= due - datetime.now(UTC) <= timedelta(days=5, minutes=1)
    assert api.get("truongban", "/tasks").get_json()["tasks"] == []
    # The handler reads the received PDF through the handling document.
    pdf = api.get("chuyenvien", f"/documents/{doc_id}/file")
    assert pdf.status_code == 200 and pdf.headers["X-Content-SHA256"] == entry["sha256"]

    # The clerk sees who handles it, in the entry and in the register.
    seen = api.get("vanthu", f"/incoming/{entry['id']}").get_json()["handling"]
    assert seen["state"] == "in_handling" and seen["assignee"]["full_name"]
    (row,) = api.get("vanthu", "/registers/incoming").get_json()["entries"]
    assert row["assigned_unit"].startswith("Ban Tuyên giáo Đảng ủy Khối - Nguyễn Thị Hồng Nhung")
    assert "Đang xử lý, hạn" in row["state_label"]

    # A reply document drafted by the board, and a work file, are linked when done.
    reply = api.upload("chuyenvien", simple_pdf("Tra loi"), subject="Trả lời Tỉnh ủy")
    reply_id = reply.get_json()["id"]
    wf = api.post(
        "chuyenvien", "/workfiles", json={"code": "HS-01", "title": "Chuyển đổi số 2027"}
    )
    assert wf.status_code == 201, wf.get_json()
    done = api.post(
        "chuyenvien",
        f"/incoming/{entry['id']}/complete",
        json={"comment": "Đã tham mưu.", "reply_document": reply_id, "work_file": wf.json["id"]},
    )
    assert done.status_code == 200, done.get_json()
    info = done.get_json()["handling"]
    assert info["state"] == "handled" and info["handled_by"]["username"] == "chuyenvien"
    assert info["reply_document_id"] == reply_id and info["comment"] == "Đã tham mưu."
    assert info["waiting_for"] == [] and info["overdue"] is False
    assert api.get("chuyenvien", "/tasks").get_json()["tasks"] == []
    with services.session_factory() as session:
        items = session.scalars(
            select(WorkFileItem).where(WorkFileItem.incoming_entry_id == entry["id"])
        ).all()
        assert [i.work_file_id for i in items] == [wf.json["id"]]
        stored = session.get(IncomingEntry, entry["id"])
        assert stored is not None and stored.assigned_unit_id == known["BTG"]
        assert stored.lead_user_id == known["chuyenvien"] and stored.reply_document_id == reply_id

    (row,) = api.get("vanthu", "/registers/incoming").get_json()["entries"]
    assert "Đã xử lý ngày" in row["state_label"]
    csv_text = api.get("vanthu", "/registers/incoming?format=csv").data.decode("utf-8-sig")
    assert "Nguyễn Thị Hồng Nhung (chủ trì)" in csv_text and "Đã xử lý" in csv_text

    # Every step is in the audit log, on the handling document's history.
    actions = audit_actions(services, doc_id)
    names = [a for a, _ in actions]
    assert names[:1] == ["incoming:opened"]
    assert "incoming:assigned" in names and names[-1] == "incoming:handled"
    details = dict(actions)
    assert details["incoming:opened"]["entry"] == entry["id"]
    assert details["incoming:opened"]["leaders"] == ["chanhvp"]
    assert details["incoming:assigned"]["unit"] == "BTG"
    assert details["incoming:assigned"]["assignee"] == "chuyenvien"
    assert details["incoming:assigned"]["deadline_days"] == 3
    assert details["incoming:handled"]["reply_document"] == reply_id
    history = api.get("chuyenvien", f"/documents/{doc_id}").get_json()["history"]
    assert {"incoming:assigned", "incoming:handled"} <= {h["action"] for h in history}

    # Twice: refused.
    again = api.post("chanhvp", f"/incoming/{entry['id']}/assign", json=body)
    assert again.status_code == 409 and "đã được phân công" in again.get_json()["detail"]
    twice = api.post("chuyenvien", f"/incoming/{entry['id']}/complete", json={})
    assert twice.status_code == 409 and "đã được xử lý" in twice.get_json()["detail"]
