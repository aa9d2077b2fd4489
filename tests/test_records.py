"""Work files (T3), the reporting regime (T4) and their pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from storage.models import AuditEvent, Role, RoleAssignment, Unit, User
from storage.registry_models import ReportObligation
from tests.conftest import DEMO_PASSWORD, Api, closed
from tests.pdfs import simple_pdf
from tests.test_web import csrf_token, login
from workflow.records.reporting import obligation_status, parse_period
from workflow.services import Services

# Report periods and due dates: on a known clock.
pytestmark = pytest.mark.usefixtures("clock")


def upload(
    api: Api, route: str | None = None, doc_type: str = "CV", user: str = "chuyenvien"
) -> int:
    data: dict[str, Any] = {
        "file": (BytesIO(simple_pdf()), "van-ban.pdf"),
        "subject": "Về việc triển khai chuyển đổi số trong công tác đảng",
        "doc_type": doc_type,
    }
    if route:
        data["route"] = route
    response = api.post(user, "/documents", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    doc_id: int = response.get_json()["id"]
    return doc_id


def submit(api: Api, doc_id: int) -> None:
    response = api.post("chuyenvien", f"/documents/{doc_id}/submit")
    assert response.status_code == 200, response.get_json()


def process_fully(api: Api, doc_id: int) -> None:
    """Default route: the board head approves, the secretary signs."""
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()


def new_workfile(api: Api, user: str = "chuyenvien", **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Hồ sơ tổ chức Hội nghị sơ kết chuyển đổi số")
    response = api.post(user, "/workfiles", json=body)
    assert response.status_code == 201, response.get_json()
    wf: dict[str, Any] = response.get_json()
    return wf


def audit_actions(services: Services, object_type: str, object_id: int | str) -> list[str]:
    with services.session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(
                    AuditEvent.object_type == object_type, AuditEvent.object_id == str(object_id)
                )
                .order_by(AuditEvent.seq)
            )
        )


# --- work files -----------------------------------------------------------------------


def test_workfile_processed_online_end_to_end(api: Api, services: Services) -> None:
    # A hand-ticked flag is ignored: the flag is derived.
    wf = new_workfile(api, processed_online=True)
    assert wf["code"].startswith("HS-BTG-") and wf["code"].endswith("-001")
    assert wf["unit"]["code"] == "BTG" and wf["state"] == "open"
    assert wf["processed_online"] is False and wf["items"] == []

    doc_id = upload(api)
    submit(api, doc_id)
    attached = api.post("chuyenvien", f"/workfiles/{wf['id']}/items", json={"document_id": doc_id})
    assert attached.status_code == 201, attached.get_json()
    body = attached.get_json()
    assert body["processed_online"] is False  # live: the route is not finished yet
    assert body["items"][0]["reason"] == "Văn bản chưa xử lý xong trên hệ thống."
    again = api.post("chuyenvien", f"/workfiles/{wf['id']}/items", json={"document_id": doc_id})
    assert again.status_code == 409

    process_fully(api, doc_id)
    live = api.get("chuyenvien", f"/workfiles/{wf['id']}").get_json()
    assert live["processed_online"] is True and live["items"][0]["online"] is True

    closed_wf = api.post("chuyenvien", f"/workfiles/{wf['id']}/close")
    assert closed_wf.status_code == 200, closed_wf.get_json()
    assert closed_wf.get_json()["processed_online"] is True
    assert closed_wf.get_json()["state"] == "closed"
    assert closed_wf.get_json()["closed_at"].endswith("+07:00")
    late = api.post("chuyenvien", f"/workfiles/{wf['id']}/items", json={"offline_note": "Họp"})
    assert late.status_code == 409 and "đã đóng" in late.get_json()["detail"]
    assert api.post("chuyenvien", f"/workfiles/{wf['id']}/close").status_code == 409
    assert audit_actions(services, "workfile", wf["id"]) == [
        "workfile:created",
        "workfile:attached",
        "workfile:closed",
    ]


def test_offline_step_or_no_item_means_not_online(api: Api) -> None:
    doc_id = upload(api)
    submit(api, doc_id)
    process_fully(api, doc_id)
    wf = new_workfile(api, title="Hồ sơ kết nạp đảng viên")
    api.post("chuyenvien", f"/workfiles/{wf['id']}/items", json={"document_id": doc_id})
    noted = api.post(
        "chuyenvien",
        f"/workfiles/{wf['id']}/items",
        json={"offline_note": "Biên bản họp chi bộ ký trên giấy"},
    )
    assert noted.status_code == 201
    items = noted.get_json()["items"]
    assert [i["online"] for i in items] == [True, False]
    assert items[1]["kind"] == "offline" and "trên giấy" in items[1]["reason"]
    closed_wf = api.post("truongban", f"/workfiles/{wf['id']}/close")  # a leader of the unit
    assert closed_wf.status_code == 200 and closed_wf.get_json()["processed_online"] is False

    empty = new_workfile(api, title="Hồ sơ chưa có thành phần")
    result = api.post("chuyenvien", f"/workfiles/{empty['id']}/close").get_json()
    assert result["processed_online"] is False

    # A draft never submitted, and a classified metadata-only document, are not online.
    draft = upload(api)
    wf2 = new_workfile(api, title="Hồ sơ có dự thảo")
    body = api.post(
        "chuyenvien", f"/workfiles/{wf2['id']}/items", json={"document_id": draft}
    ).get_json()
    assert body["items"][0]["reason"] == "Văn bản chưa được trình qua hệ thống."


def test_classified_workfile_is_exempt(api: Api) -> None:
    wf = new_workfile(api, title="Hồ sơ mật", classified=True)
    assert wf["classified"] and wf["exempt"] and wf["processed_online"] is None
    api.post(
        "chuyenvien", f"/workfiles/{wf['id']}/items", json={"offline_note": "Xử lý ngoài mạng"}
    )
    result = api.post("chuyenvien", f"/workfiles/{wf['id']}/close").get_json()
    assert result["processed_online"] is None and result["exempt"] is True


def test_workfile_permissions_and_input(api: Api) -> None:
    wf = new_workfile(api)
    # Same unit: visible; another unit: not found; auditors see everything, read-only.
    assert api.get("truongban", f"/workfiles/{wf['id']}").status_code == 200
    assert api.get("vanthu", f"/workfiles/{wf['id']}").status_code == 404
    assert all(w["id"] != wf["id"] for w in api.get("vanthu", "/workfiles").get_json()["workfiles"])
    assert [w["id"] for w in api.get("kiemtra", "/workfiles").get_json()["workfiles"]] == [wf["id"]]
    denied = api.post("kiemtra", f"/workfiles/{wf['id']}/items", json={"offline_note": "x"})
    assert denied.status_code == 403 and "cán bộ của đơn vị" in denied.get_json()["detail"]
    assert api.post("kiemtra", f"/workfiles/{wf['id']}/close").status_code == 403
    assert api.post("vanthu", f"/workfiles/{wf['id']}/close").status_code == 404
    # A document the caller is not party to cannot be attached.
    draft = upload(api)
    hidden = api.post("truongban", f"/workfiles/{wf['id']}/items", json={"document_id": draft})
    assert hidden.status_code == 404
    # Bad input, in Vietnamese.
    both = api.post(
        "chuyenvien",
        f"/workfiles/{wf['id']}/items",
        json={"document_id": draft, "offline_note": "x"},
    )
    assert both.status_code == 422 and "Cần đúng một" in both.get_json()["detail"]
    assert api.post("chuyenvien", "/workfiles", json={"title": " "}).status_code == 422
    foreign = api.post("chuyenvien", "/workfiles", json={"title": "Hồ sơ", "unit": "VP"})
    assert foreign.status_code == 403 and "đơn vị mình" in foreign.get_json()["detail"]
    dup = api.post("chuyenvien", "/workfiles", json={"title": "Hồ sơ", "code": wf["code"]})
    assert dup.status_code == 409
    assert api.post("kiemtra", "/workfiles", json={"title": "Hồ sơ"}).status_code == 403


# --- reporting regime -----------------------------------------------------------------


def count_obligations(services: Services, period: str) -> int:
    with services.session_factory() as session:
        query = select(func.count()).where(ReportObligation.period == period)
        return int(session.scalar(query.select_from(ReportObligation)) or 0)


def test_generate_obligations_is_idempotent(app: Flask, services: Services) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["generate-obligations", "--period", "2026-Q4"])
    assert first.exit_code == 0, first.output
    assert "3 obligations created" in first.output
    second = runner.invoke(args=["generate-obligations", "--period", "2026-Q4"])
    assert "0 obligations created, 3 already present" in second.output
    assert count_obligations(services, "2026-Q4") == 3
    with services.session_factory() as session:
        quarterly = session.scalars(select(ReportObligation)).all()
    assert {o.unit.code for o in quarterly} == {"CS-GDDT", "CS-DL", "CS-NH"}
    assert {o.due_date for o in quarterly} == {date(2027, 1, 10)}
    assert quarterly[0].title == "Báo cáo công tác đảng quý IV năm 2026"

    runner.invoke(args=["generate-obligations", "--period", "2026-09"])
    assert count_obligations(services, "2026-09") == 3  # the three boards
    runner.invoke(args=["generate-obligations", "--period", "2026"])
    assert count_obligations(services, "2026") == 9  # 6 yearly + 3 classified
    bad = runner.invoke(args=["generate-obligations", "--period", "2026-13"])
    assert bad.exit_code != 0 and "Kỳ báo cáo không hợp lệ" in bad.output


def test_period_parsing() -> None:
    assert parse_period("2026-Q3").end == date(2026, 9, 30)
    assert parse_period("2024-02").end == date(2024, 2, 29)
    assert parse_period("2026").start == date(2026, 1, 1)


def test_status_with_fixed_dates() -> None:
    due = date(2026, 10, 5)
    ob = ReportObligation(due_date=due, classified=False, submitted_at=None)
    # 23:59 Vietnam time on the due date is on time; 00:00 the next day is late.
    ob.submitted_at = datetime(2026, 10, 5, 16, 59, tzinfo=UTC)
    assert obligation_status(ob, datetime(2026, 12, 1, tzinfo=UTC)) == "submitted"
    ob.submitted_at = datetime(2026, 10, 5, 17, 0, tzinfo=UTC)
    assert obligation_status(ob, datetime(2026, 12, 1, tzinfo=UTC)) == "late"
    ob.submitted_at = None
    assert obligation_status(ob, datetime(2026, 10, 5, 16, 59, tzinfo=UTC)) == "pending"
    assert obligation_status(ob, datetime(2026, 10, 5, 17, 0, tzinfo=UTC)) == "missing"
    ob.classified = True
    assert obligation_status(ob, datetime(2026, 12, 1, tzinfo=UTC)) == "exempt"


def statuses(api: Api, user: str, query: str) -> dict[tuple[str, str], str]:
    response = api.get(user, "/reports/obligations" + query)
    assert response.status_code == 200, response.get_json()
    return {
        (o["unit"]["code"], o["period"]): o["status"] for o in response.get_json()["obligations"]
    }


def obligation_id(api: Api, unit: str, period: str) -> int:
    rows = api.get("kiemtra", f"/reports/obligations?unit={unit}&period={period}").get_json()
    found: int = rows["obligations"][0]["id"]
    return found


def board_signer(services: Services, code: str = "BTG") -> None:
    """The demo secretary also signs for a board (the report route's signing stage is
    the drafting unit's signer; the demo has none in the boards)."""
    with services.session_factory() as session:
        bithu = session.scalars(select(User).where(User.username == "bithu")).one()
        unit = session.scalars(select(Unit).where(Unit.code == code)).one()
        session.add(RoleAssignment(user_id=bithu.id, unit_id=unit.id, role=Role.SIGNER))
        session.commit()


def signed_report(api: Api) -> int:
    """A report taken through the report route: approved by the board head, signed."""
    doc_id = upload(api, "bao-cao-dinh-ky", "BC")
    submit(api, doc_id)
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    assert api.get("kiemtra", f"/documents/{doc_id}").get_json()["state"] == "signed"
    return doc_id


def test_reports_sent_to_the_superior_and_received(
    app: Flask, api: Api, services: Services
) -> None:
    runner = app.test_cli_runner()
    for period in ("2020-01", "2099-01", "2099-02"):
        assert runner.invoke(args=["generate-obligations", "--period", period]).exit_code == 0
    board_signer(services)

    # On time: due 2099-02-05; late: due 2020-02-05. Sent now, once signed.
    on_time, late = signed_report(api), signed_report(api)
    not_signed = upload(api, "bao-cao-dinh-ky", "BC")
    submit(api, not_signed)  # on its route, not signed yet
    wrong_route = upload(api)
    submit(api, wrong_route)
    future, past = obligation_id(api, "BTG", "2099-01"), obligation_id(api, "BTG", "2020-01")

    def send(user: str, ob: int, doc: int) -> Any:
        return api.post(user, f"/reports/obligations/{ob}/submit", json={"document_id": doc})

    assert send("chuyenvien", future, wrong_route).status_code == 422
    unsigned = send("chuyenvien", future, not_signed)
    assert unsigned.status_code == 409 and "chưa được ký số" in unsigned.get_json()["detail"]
    assert send("truongban", future, on_time).status_code == 403  # neither drafter nor clerk
    ok = send("chuyenvien", future, on_time)
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    # Delivered to the bloc committee's incoming register; not submitted until received.
    assert body["status"] == "sent" and body["document_id"] == on_time
    assert body["sent_at"] and body["submitted_at"] is None and body["incoming_entry_id"]
    assert send("chuyenvien", future, late).status_code == 409  # already sent
    assert send("chuyenvien", obligation_id(api, "BTG", "2099-02"), on_time).status_code == 409
    assert send("chuyenvien", past, late).get_json()["status"] == "missing"  # overdue, unreceived
    # Another unit's obligation is invisible to the drafter.
    assert send("chuyenvien", obligation_id(api, "BTC", "2020-01"), late).status_code == 404

    # The bloc committee's clerk (Văn phòng keeps the committee's registers) receives both.
    pending = api.get("vanthu", "/incoming?state=pending").get_json()["incoming"]
    reports = {e["document_id"]: e for e in pending if e["document_id"] in (on_time, late)}
    assert set(reports) == {on_time, late}
    assert reports[on_time]["unit"]["code"] == "DUK"
    assert reports[on_time]["sender"] == "Ban Tuyên giáo Đảng ủy Khối"
    for doc in (on_time, late):
        received = api.post("vanthu", f"/incoming/{reports[doc]['id']}/receive")
        assert received.status_code == 200 and received.get_json()["state"] == "received"

    mine = statuses(api, "chuyenvien", "")
    assert mine == {
        ("BTG", "2020-01"): "late",
        ("BTG", "2099-01"): "submitted",
        ("BTG", "2099-02"): "pending",
    }
    everything = statuses(api, "kiemtra", "?period=2020-01")
    assert everything == {
        ("BTC", "2020-01"): "missing",
        ("BTG", "2020-01"): "late",
        ("BKT", "2020-01"): "missing",
    }
    assert statuses(api, "kiemtra", "?unit=BTC&period=2099-01") == {("BTC", "2099-01"): "pending"}
    bad = api.get("kiemtra", "/reports/obligations?period=quy-3")
    assert bad.status_code == 422 and "Kỳ báo cáo" in bad.get_json()["detail"]
    assert audit_actions(services, "report_obligation", future) == [
        "report:sent",
        "report:received",
    ]
    with services.session_factory() as session:
        ob = session.get(ReportObligation, future)
        assert ob is not None and ob.incoming_entry is not None
        assert ob.submitted_at == ob.incoming_entry.received_at


def test_classified_report_is_exempt(app: Flask, api: Api) -> None:
    app.test_cli_runner().invoke(args=["generate-obligations", "--period", "2026"])
    rows = api.get("kiemtra", "/reports/obligations?unit=CS-DL&period=2026").get_json()
    by_type = {o["report_type"]: o for o in rows["obligations"]}
    assert by_type["bao-ve-chinh-tri-nam"]["status"] == "exempt"
    assert by_type["tong-ket-nam"]["status"] == "pending"


# --- pages ----------------------------------------------------------------------------


def test_pages(client: FlaskClient, app: Flask) -> None:
    app.test_cli_runner().invoke(args=["generate-obligations", "--period", "2020-01"])
    login(client, "chuyenvien")
    token = csrf_token(client, "/workfiles/new")
    created = closed(
        client.post(
            "/workfiles/new",
            data={"csrf_token": token, "title": "Hồ sơ Đại hội chi bộ", "unit": "BTG"},
        )
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    detail_path = created.headers["Location"]
    token = csrf_token(client, detail_path)
    no_csrf = closed(client.post(detail_path + "/items", data={"offline_note": "Họp"}))
    assert no_csrf.status_code == 400
    noted = closed(
        client.post(
            detail_path + "/items", data={"csrf_token": token, "offline_note": "Họp trên giấy"}
        )
    )
    assert noted.status_code == 302
    closed(client.post(detail_path + "/close", data={"csrf_token": token}))
    html = closed(client.get(detail_path)).get_data(as_text=True)
    assert "Hồ sơ Đại hội chi bộ" in html and "Họp trên giấy" in html
    assert "Chưa trực tuyến toàn trình" in html and "đóng lúc" in html
    listing = closed(client.get("/workfiles")).get_data(as_text=True)
    assert "Hồ sơ Đại hội chi bộ" in listing
    reports = closed(client.get("/reports")).get_data(as_text=True)
    assert "Báo cáo tình hình tư tưởng tháng 01/2020" in reports
    assert "Chưa nộp (quá hạn)" in reports and "05/02/2020" in reports
    bad = closed(client.get("/reports?period=abc"))
    assert bad.status_code == 422 and "Kỳ báo cáo không hợp lệ" in bad.get_data(as_text=True)
    notes = closed(client.get("/notifications")).get_data(as_text=True)
    assert "Thông báo" in notes
    assert closed(client.get("/workfiles/999")).status_code == 404
    anonymous = closed(app.test_client().get("/workfiles"))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
