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

# Deadlines in working days: on a known Wednesday, never on the real (maybe Sunday) clock.
pytestmark = pytest.mark.usefixtures("clock")


def ids(services: Services) -> dict[str, int]:
    """:returns: the ids of the demo units (by code) and users (by username)."""
    with services.session_factory() as session:
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        users = {u.username: u.id for u in session.scalars(select(User))}
    return {**units, **users}


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


# Incoming numbers under row locks; deadlines stored as timestamps with time zone.
@pytest.mark.both_databases
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
    wf = api.post("chuyenvien", "/workfiles", json={"code": "HS-01", "title": "Chuyển đổi số 2027"})
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


def test_refusals(api: Api, services: Services) -> None:
    known = ids(services)
    doc_id = issued_document(api)
    signed = api.get("vanthu", f"/documents/{doc_id}/file").data
    pending = register_outside(api, signed).get_json()
    unit = {"unit": known["BTG"]}

    # Not yet received, or returned to the sender: 409 with the reason.
    early = api.post("chanhvp", f"/incoming/{pending['id']}/assign", json=unit)
    assert early.status_code == 409 and "chưa được tiếp nhận" in early.get_json()["detail"]
    unsigned = register_outside(api, simple_pdf("Khong ky"), original_symbol="46-CV/TU")
    returned = api.post("vanthu", f"/incoming/{unsigned.get_json()['id']}/receive").get_json()
    assert returned["state"] == "returned" and returned["handling"] is None
    refused = api.post("chanhvp", f"/incoming/{returned['id']}/assign", json=unit)
    assert refused.status_code == 409 and "trả lại nơi gửi" in refused.get_json()["detail"]

    entry = api.post("vanthu", f"/incoming/{pending['id']}/receive").get_json()
    assert entry["handling"]["state"] == "awaiting_assignment"
    path = f"/incoming/{entry['id']}"
    # Only a leader of the receiving unit assigns: not its clerk, auditor or administrator
    # (they see the entry: 403), nor a leader of another unit (not party to it: 404).
    for user in ("vanthu", "kiemtra", "admin"):
        response = api.post(user, path + "/assign", json=unit)
        assert response.status_code == 403, (user, response.get_json())
        assert api.get(user, path).status_code == 200
    for user in ("truongban", "chuyenvien"):
        assert api.post(user, path + "/assign", json=unit).status_code == 404
        assert api.get(user, path).status_code == 404
    assert api.post("chanhvp", "/incoming/99999/assign", json=unit).status_code == 404
    # Bad choices: 422 with a clear message, and nothing changes.
    bad = [
        ({}, "Hãy chọn đơn vị"),
        ({"unit": 99999}, "Không có đơn vị với mã số 99999"),
        ({"unit": "BTG"}, "phải là một số nguyên"),
        ({"unit": known["BTG"], "assignee": known["kiemtra"]}, "không phải cán bộ của"),
        ({"unit": known["BTG"], "assignee": 99999}, "Không có người dùng"),
        ({"unit": known["BTG"], "deadline_days": 0}, "từ 1 đến 365"),
        ({"unit": known["BTG"], "note": 5}, "phải là chuỗi"),
    ]
    for body, message in bad:
        response = api.post("chanhvp", path + "/assign", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert message in response.get_json()["detail"], response.get_json()
    assert api.get("vanthu", path).get_json()["handling"]["state"] == "awaiting_assignment"
    # Not assigned yet: nobody completes it.
    early_done = api.post("chanhvp", path + "/complete", json={})
    assert (
        early_done.status_code == 409
        and "chưa được lãnh đạo phân công" in (early_done.get_json()["detail"])
    )

    # Without a lead person, the board's staff (its chuyên viên) get the task; the board's
    # head is not one of them, nor the clerk or the leader who assigned it.
    assigned = api.post("chanhvp", path + "/assign", json={"unit": known["BTG"]})
    assert assigned.status_code == 200, assigned.get_json()
    info = assigned.get_json()["handling"]
    assert info["assignee"] is None and [p["username"] for p in info["waiting_for"]] == [
        "chuyenvien"
    ]
    task = api.task_for("chuyenvien", info["document_id"])
    assert task["due_at"] and task["action"] == "handle"
    for user in ("vanthu", "chanhvp", "kiemtra"):
        assert api.post(user, path + "/complete", json={}).status_code == 403, user
    assert api.post("truongban", path + "/complete", json={}).status_code == 404
    assert api.post("chuyenvien", f"/tasks/{task['id']}/approve", json={}).status_code == 409
    # Overdue like any task: in "Việc cần xử lý", the entry's handling and the register.
    with services.session_factory() as session:
        stored = session.get(Task, task["id"])
        assert stored is not None
        stored.due_at = datetime.now(UTC) - timedelta(hours=1)
        session.commit()
    assert api.task_for("chuyenvien", info["document_id"])["overdue"] is True
    assert api.get("vanthu", path).get_json()["handling"]["overdue"] is True
    rows = api.get("vanthu", "/registers/incoming").get_json()["entries"]
    (row,) = [r for r in rows if r["id"] == entry["id"]]
    assert (
        row["assigned_unit"] == "Ban Tuyên giáo Đảng ủy Khối" and "(quá hạn)" in row["state_label"]
    )
    wrong = api.post("chuyenvien", path + "/complete", json={"reply_document": 99999})
    assert wrong.status_code == 404
    assert api.get("vanthu", path).get_json()["handling"]["state"] == "in_handling"
    done = api.post("chuyenvien", path + "/complete", json={})
    assert done.status_code == 200 and done.get_json()["handling"]["state"] == "handled"
    notes = api.get("chanhvp", "/notifications").get_json()["notifications"]
    assert notes[0]["kind"] == "handled" and SUBJECT in notes[0]["message"]
    assert api.get("kiemtra", path).get_json()["handling"]["handled_by"]["username"] == (
        "chuyenvien"
    )


def test_who_leads_a_receiving_unit(api: Api, services: Services) -> None:
    """The committee's incoming documents go to the office's leader (Chánh Văn phòng); a
    board without a leader goes up to the committee; a grassroots committee is separate."""
    from workflow.registry import incoming_queries as incoming_views

    add_clerk(services, "vanthu_dl", "CS-DL")
    with services.session_factory() as session:
        by_code = {u.code: u for u in session.scalars(select(Unit))}
        assert [u.username for u in incoming_views.leaders_of(session, by_code["DUK"])] == [
            "chanhvp"
        ]
        assert [u.username for u in incoming_views.leaders_of(session, by_code["BTC"])] == [
            "chanhvp"
        ]
        assert [u.username for u in incoming_views.leaders_of(session, by_code["BTG"])] == [
            "truongban"
        ]
        assert incoming_views.leaders_of(session, by_code["CS-DL"]) == []
    routes = {r["code"]: r for r in api.get("admin", "/routes").get_json()["routes"]}
    route = routes["van-ban-den"]
    assert route["kind"] == "incoming"
    assert [s["action"] for s in route["stages"]] == ["receive", "assign", "handle"]
    # Nobody leads CS-DL: the receipt is not held up; the entry waits unassigned.
    doc_id = issued_document(api)
    signed = api.get("vanthu", f"/documents/{doc_id}/file").data
    entry = register_outside(api, signed, clerk="vanthu_dl").get_json()
    received = api.post("vanthu_dl", f"/incoming/{entry['id']}/receive").get_json()
    assert received["state"] == "received" and received["handling"] is None
    refused = api.post("admin", f"/incoming/{entry['id']}/assign", json={"unit": 1})
    assert refused.status_code == 403


def test_web_flow_with_csrf(api: Api, app: Flask, services: Services) -> None:
    known = ids(services)
    doc_id = issued_document(api)
    signed = api.get("vanthu", f"/documents/{doc_id}/file").data

    clerk = web_login(app, "vanthu")
    token = csrf(clerk, "/incoming")
    posted = closed(
        clerk.post(
            "/incoming/new",
            data={
                "csrf_token": token,
                "file": (io.BytesIO(signed), "tu.pdf"),
                "sender": "Tỉnh ủy",
                "subject": SUBJECT,
                "doc_type": "CV",
            },
            content_type="multipart/form-data",
        )
    )
    assert posted.status_code == 302
    (entry,) = api.get("vanthu", "/incoming").get_json()["incoming"]
    done = closed(clerk.post(f"/incoming/{entry['id']}/receive", data={"csrf_token": token}))
    assert done.status_code == 302
    listing = closed(clerk.get("/incoming")).get_data(as_text=True)
    assert "Chờ phân công xử lý" in listing and f"/incoming/{entry['id']}" in listing

    leader = web_login(app, "chanhvp")
    home = closed(leader.get("/")).get_data(as_text=True)
    assert "Phân công xử lý" in home and SUBJECT in home
    handling_doc = api.get("vanthu", f"/incoming/{entry['id']}").get_json()["handling"]
    detail = closed(leader.get(f"/documents/{handling_doc['document_id']}")).get_data(as_text=True)
    assert f"/incoming/handling/{handling_doc['document_id']}" in detail
    jump = closed(leader.get(f"/incoming/handling/{handling_doc['document_id']}"))
    assert jump.status_code == 302 and jump.headers["Location"].endswith(f"/incoming/{entry['id']}")
    page = closed(leader.get(f"/incoming/{entry['id']}")).get_data(as_text=True)
    assert 'name="unit"' in page and 'action="/incoming/' in page
    form = {"unit": str(known["BTG"]), "assignee": str(known["chuyenvien"]), "deadline_days": "2"}
    # Without the CSRF token: refused, nothing assigned.
    no_token = closed(leader.post(f"/incoming/{entry['id']}/assign", data=form))
    assert no_token.status_code == 400
    assert api.get("vanthu", f"/incoming/{entry['id']}").get_json()["handling"]["state"] == (
        "awaiting_assignment"
    )
    bad = closed(
        leader.post(
            f"/incoming/{entry['id']}/assign",
            data={**form, "unit": "99999", "csrf_token": csrf(leader, f"/incoming/{entry['id']}")},
        )
    )
    assert bad.status_code == 422 and "Không có đơn vị" in bad.get_data(as_text=True)
    token = csrf(leader, f"/incoming/{entry['id']}")
    ok = closed(leader.post(f"/incoming/{entry['id']}/assign", data={**form, "csrf_token": token}))
    assert ok.status_code == 302
    after = closed(leader.get(ok.headers["Location"])).get_data(as_text=True)
    assert "Đã phân công xử lý văn bản đến." in after and "Ban Tuyên giáo" in after
    # The clerk cannot load someone else's form into action.
    stranger = web_login(app, "truongban")
    assert closed(stranger.get(f"/incoming/{entry['id']}")).status_code == 404

    handler = web_login(app, "chuyenvien")
    home = closed(handler.get("/")).get_data(as_text=True)
    assert "Xử lý văn bản đến" in home
    page = closed(handler.get(f"/incoming/{entry['id']}")).get_data(as_text=True)
    assert 'name="reply_document"' in page and "Đỗ Quang Huy" in page
    token = csrf(handler, f"/incoming/{entry['id']}")
    finished = closed(
        handler.post(
            f"/incoming/{entry['id']}/complete",
            data={"csrf_token": token, "comment": "Đã báo cáo Thường trực."},
        )
    )
    assert finished.status_code == 302
    listing = closed(clerk.get("/incoming")).get_data(as_text=True)
    assert "Đã xử lý" in listing
    register = closed(clerk.get("/registers/incoming")).get_data(as_text=True)
    assert "Nguyễn Thị Hồng Nhung (chủ trì)" in register and "Đã xử lý ngày" in register
    english = web_login(app, "chuyenvien")
    english.set_cookie("lang", "en")
    page = closed(english.get(f"/incoming/{entry['id']}")).get_data(as_text=True)
    assert "Handling" in page and "Handled" in page
