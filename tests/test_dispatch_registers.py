"""Dispatch (phát hành), receipt after signature validation, and the registers with their
CSV, XLSX and PDF exports."""

from __future__ import annotations

import csv
import io
import re
import socket
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import Unit
from tests.conftest import DEMO_PASSWORD, Api, app_config, closed, flip_byte, rewrite_blob
from tests.pdfs import simple_pdf
from tests.test_workflow_routes import act, upload_on
from workflow import create_app
from workflow.accounts import service as accounts
from workflow.services import EXTENSION_KEY, Services

SUBJECT = "Nghị quyết về công tác chuyển đổi số năm 2027"


class Inbox:
    """A local SMTP server (aiosmtpd) keeping the messages it gets."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A running local SMTP server: (inbox, port)."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting: no port 0
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def mail_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra app config: the test's parameter, where ``MAIL_SERVER="local"`` stands for
    the local SMTP server of the ``smtp`` fixture (settings are read once, at start)."""
    config = dict(getattr(request, "param", {}))
    if config.get("MAIL_SERVER") == "local":
        _inbox, port = request.getfixturevalue("smtp")
        config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    return config


@pytest.fixture
def app(instance: Path, database_url: str, mail_config: dict[str, Any]) -> Iterator[Flask]:
    """The application, with this test's mail settings."""
    application = create_app(app_config(instance, DATABASE_URL=database_url, **mail_config))
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


def unit_id(services: Services, code: str) -> int:
    with services.session_factory() as session:
        unit = session.scalars(select(Unit).where(Unit.code == code)).one()
        return unit.id


def add_clerk(services: Services, username: str, code: str) -> None:
    with services.session_factory() as session:
        unit = session.scalars(select(Unit).where(Unit.code == code)).one()
        accounts.create_user(
            session,
            services.hasher,
            username=username,
            full_name=f"Văn thư {unit.name}",
            password=DEMO_PASSWORD,
            roles=[("clerk", unit)],
        )
        session.commit()


def issued_document(api: Api, subject: str = SUBJECT) -> int:
    """A document taken through the full route to ``issued``."""
    doc_id = upload_on(api, subject=subject)
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    issued = act(api, "vanthu", doc_id, "issue")
    assert issued["document"]["state"] == "issued"
    return doc_id


@pytest.fixture
def clerks(services: Services) -> dict[str, int]:
    """Clerks of BTC and CS-DL (not in the demo data); :returns: unit ids by code."""
    add_clerk(services, "vanthu_btc", "BTC")
    add_clerk(services, "vanthu_dl", "CS-DL")
    return {code: unit_id(services, code) for code in ("BTC", "CS-DL", "DUK", "VP")}


# Register numbers and receipts under SELECT .. FOR UPDATE (a no-op on SQLite).
@pytest.mark.both_databases
def test_dispatch_receive_receipts_and_registers(
    api: Api, clerks: dict[str, int], tmp_path: Path
) -> None:
    doc_id = issued_document(api)
    btc, dl = clerks["BTC"], clerks["CS-DL"]
    sent = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [btc, dl]})
    assert sent.status_code == 201, sent.get_json()
    names = [d["recipient"]["name"] for d in sent.get_json()["dispatches"]]
    assert names == ["Ban Tổ chức Đảng ủy Khối", "Đảng ủy Công ty Điện lực tỉnh"]
    again = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [btc]})
    assert again.status_code == 409 and "Ban Tổ chức" in again.get_json()["detail"]

    # Each recipient clerk was told, and receives after automatic validation: số đến 1.
    for clerk, unit in (("vanthu_btc", btc), ("vanthu_dl", dl)):
        notes = api.get(clerk, "/notifications").get_json()["notifications"]
        assert any("01-NQ/ĐUK" in n["message"] for n in notes)
        pending = api.get(clerk, "/incoming?state=pending").get_json()["incoming"]
        assert len(pending) == 1 and pending[0]["unit"]["id"] == unit
        entry = pending[0]
        assert entry["sender"] == "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh"
        assert entry["original_symbol"] == "01-NQ/ĐUK" and entry["original_date"]
        received = api.post(clerk, f"/incoming/{entry['id']}/receive")
        assert received.status_code == 200, received.get_json()
        body = received.get_json()
        assert body["state"] == "received" and body["number"] == 1
        assert body["validation"]["verdict"] == "valid"
        assert api.post(clerk, f"/incoming/{entry['id']}/receive").status_code == 409

    # The sender sees who received it and when.
    receipts = api.get("vanthu", f"/documents/{doc_id}/dispatches").get_json()["dispatches"]
    assert {r["received_by"]["username"] for r in receipts} == {"vanthu_btc", "vanthu_dl"}
    assert all(r["state"] == "received" and r["received_at"].endswith("+07:00") for r in receipts)

    # Outgoing register of the issuer (the office clerk's default unit).
    out = api.get("vanthu", "/registers/outgoing").get_json()
    assert out["unit"]["code"] == "DUK" and out["title"] == "SỔ ĐĂNG KÝ VĂN BẢN ĐI"
    (row,) = out["entries"]
    assert row["symbol"] == "01-NQ/ĐUK" and row["number"] == 1 and row["subject"] == SUBJECT
    assert row["signer"] == "Lê Văn Đức" and row["doc_type"] == "NQ"
    assert row["recipients"] == names and row["copies"] == 2 and row["state"] == "issued"
    assert row["date"] == out["entries"][0]["date"] and len(row["date"]) == 10
    assert api.get("vanthu", "/registers/outgoing?q=CHUYỂN ĐỔI").get_json()["entries"]
    assert not api.get("vanthu", "/registers/outgoing?q=không có").get_json()["entries"]
    assert not api.get("vanthu", "/registers/outgoing?doc_type=CV").get_json()["entries"]
    assert not api.get("vanthu", "/registers/outgoing?from=2099-01-01").get_json()["entries"]
    bad = api.get("vanthu", "/registers/outgoing?from=01-01-2026")
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_json()["detail"]

    incoming = api.get("vanthu_btc", "/registers/incoming").get_json()
    (entry_row,) = incoming["entries"]
    assert entry_row["number"] == 1 and entry_row["original_symbol"] == "01-NQ/ĐUK"
    assert entry_row["sender"].startswith("Đảng ủy Khối") and entry_row["state"] == "received"
    assert entry_row["subject"] == SUBJECT and entry_row["received_date"]

    # Exports.
    csv_resp = api.get("vanthu", "/registers/outgoing?format=csv")
    assert csv_resp.status_code == 200 and csv_resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_resp.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Số, ký hiệu văn bản" and rows[1][0] == "01-NQ/ĐUK"
    assert rows[1][4] == "Lê Văn Đức"
    from openpyxl import load_workbook

    xlsx = api.get("vanthu_btc", "/registers/incoming?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet is not None
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in str(sheet["A1"].value)
    assert sheet["B2"].value == "Số đến" and sheet["B3"].value == "1"
    assert sheet["D3"].value == "01-NQ/ĐUK"
    pdf = api.get("vanthu", "/registers/outgoing?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    path = tmp_path / "so-di.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in text.stdout and "01-NQ/ĐUK" in text.stdout
    assert "Lê Văn Đức" in text.stdout and "Trích yếu nội dung" in text.stdout

    # Who may see what.
    assert api.get("chuyenvien", "/registers/outgoing").status_code == 403
    assert api.get("vanthu_btc", f"/registers/outgoing?unit={clerks['DUK']}").status_code == 403
    assert api.get("kiemtra", f"/registers/outgoing?unit={clerks['DUK']}").status_code == 200
    assert api.get("kiemtra", "/registers/outgoing").status_code == 422
    assert api.get("admin", f"/registers/incoming?unit={btc}").status_code == 200
    assert api.get("vanthu_dl", f"/incoming?unit={btc}").status_code == 403
    assert api.get("vanthu", "/registers/sideways").status_code == 404
    assert (
        api.post("vanthu_btc", f"/documents/{doc_id}/dispatch", json={"recipients": [dl]})
    ).status_code == 404
    assert (
        api.post("chuyenvien", f"/documents/{doc_id}/dispatch", json={"recipients": [dl]})
    ).status_code == 403


def test_tampered_file_is_returned_to_sender(
    api: Api, clerks: dict[str, int], services: Services
) -> None:
    doc_id = issued_document(api)
    sent = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [clerks["BTC"]]})
    assert sent.status_code == 201
    (entry,) = api.get("vanthu_btc", "/incoming").get_json()["incoming"]
    rewrite_blob(services.blobs, entry["sha256"], flip_byte)
    # Someone outside the unit cannot even see it; an auditor sees it but may not act.
    assert api.post("chuyenvien", f"/incoming/{entry['id']}/receive").status_code == 404
    assert api.post("kiemtra", f"/incoming/{entry['id']}/receive").status_code == 403
    returned = api.post("vanthu_btc", f"/incoming/{entry['id']}/receive").get_json()
    assert returned["state"] == "returned" and returned["number"] is None
    assert returned["return_reason"].startswith("Trả lại văn bản: chữ ký số không hợp lệ.")
    assert "SHA-256" in returned["return_reason"]
    assert returned["validation"]["verdict"] != "valid"
    receipts = api.get("vanthu", f"/documents/{doc_id}/dispatches").get_json()["dispatches"]
    assert receipts[0]["state"] == "returned" and receipts[0]["received_at"] is None
    notes = api.get("vanthu", "/notifications").get_json()["notifications"]
    assert any(n["kind"] == "returned" and "trả lại" in n["message"] for n in notes)
    history = [
        h["action"] for h in api.get("kiemtra", f"/documents/{doc_id}").get_json()["history"]
    ]
    assert "document:dispatched" in history and "document:returned_to_sender" in history


@pytest.mark.parametrize(
    "mail_config", [{"MAIL_SERVER": "local", "MAIL_FROM": "vanphong@duk.example"}], indirect=True
)
def test_external_dispatch_emails_a_one_time_link(
    api: Api, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    doc_id = issued_document(api)
    bad = api.post(
        "vanthu",
        f"/documents/{doc_id}/dispatch",
        json={"external": [{"name": "Sở Nội vụ", "email": "khong-hop-le"}]},
    )
    assert bad.status_code == 422 and "không hợp lệ" in bad.get_json()["detail"]
    sent = api.post(
        "vanthu",
        f"/documents/{doc_id}/dispatch",
        json={"external": [{"name": "Sở Nội vụ tỉnh", "email": "vanthu@snv.example"}]},
    )
    assert sent.status_code == 201, sent.get_json()
    (row,) = sent.get_json()["dispatches"]
    assert row["recipient"]["type"] == "external" and row["mail_status"] == "sent"
    assert "download_url" not in row
    (message,) = inbox.messages
    assert message["To"] == "vanthu@snv.example" and message["From"] == "vanphong@duk.example"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "01-NQ/ĐUK" in body
    link = re.search(r"http://localhost(/public/d/\S+)", body)
    assert link, body
    first = closed(api.client.get(link.group(1)))
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    second = closed(api.client.get(link.group(1)))
    assert second.status_code == 410 and "đã được sử dụng" in second.get_data(as_text=True)
    assert closed(api.client.get("/public/d/khong-co")).status_code == 404
    receipts = api.get("vanthu", f"/documents/{doc_id}/dispatches").get_json()["dispatches"]
    assert receipts[0]["downloaded_at"] and receipts[0]["state"] == "downloaded"


def test_external_dispatch_without_mail_server_is_recorded(api: Api) -> None:
    doc_id = issued_document(api)
    sent = api.post(
        "vanthu",
        f"/documents/{doc_id}/dispatch",
        json={"external": [{"name": "Sở Nội vụ tỉnh", "email": "vanthu@snv.example"}]},
    )
    assert sent.status_code == 201, sent.get_json()
    (row,) = sent.get_json()["dispatches"]
    assert row["mail_status"] == "not sent: no mail server" and row["state"] == "not_sent"
    assert "/public/d/" in row["download_url"]


def test_outside_upload_is_validated_on_receipt(
    api: Api, clerks: dict[str, int], services: Services
) -> None:
    doc_id = issued_document(api)
    signed = api.get("vanthu", f"/documents/{doc_id}/file").data

    def upload(data: bytes, **extra: str) -> Any:
        form = {
            "file": (io.BytesIO(data), "van-ban-den.pdf"),
            "sender": "UBND tỉnh",
            "original_symbol": "125/UBND-VX",
            "original_date": "2026-11-20",
            "subject": "Về việc triển khai chuyển đổi số",
            "doc_type": "CV",
            **extra,
        }
        return api.post("vanthu_dl", "/incoming", data=form, content_type="multipart/form-data")

    assert upload(signed, sender=" ").status_code == 422
    assert upload(b"khong phai pdf").status_code == 422
    assert api.post(
        "chuyenvien",
        "/incoming",
        data={"file": (io.BytesIO(signed), "x.pdf"), "sender": "A", "subject": "B"},
        content_type="multipart/form-data",
    ).status_code in (403, 404)
    good = upload(signed)
    assert good.status_code == 201, good.get_json()
    entry = good.get_json()
    assert entry["state"] == "pending" and entry["source"] == "external"
    assert services.blobs.verify(entry["sha256"])
    received = api.post("vanthu_dl", f"/incoming/{entry['id']}/receive").get_json()
    assert received["state"] == "received" and received["number"] == 1

    unsigned = upload(simple_pdf("Khong ky")).get_json()
    returned = api.post("vanthu_dl", f"/incoming/{unsigned['id']}/receive").get_json()
    assert returned["state"] == "returned" and "không có chữ ký số" in returned["return_reason"]
    register = api.get("vanthu_dl", "/registers/incoming").get_json()["entries"]
    assert [(r["number"], r["state"]) for r in register] == [(1, "received"), (None, "returned")]


def test_dispatch_refusals(api: Api, clerks: dict[str, int], submitted_document: Any) -> None:
    draft = submitted_document()
    refused = api.post("vanthu", f"/documents/{draft}/dispatch", json={"recipients": [1]})
    assert refused.status_code in (404, 409)
    doc_id = issued_document(api)
    empty = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": []})
    assert empty.status_code == 422 and "ít nhất một nơi nhận" in empty.get_json()["detail"]
    unknown = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [9999]})
    assert unknown.status_code == 422
    own = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [clerks["DUK"]]})
    assert own.status_code == 422
    assert (
        api.post("vanthu", "/documents/99999/dispatch", json={"recipients": [1]}).status_code == 404
    )
    recall = api.post("vanthu", f"/documents/{doc_id}/recall", json={"reason": "Ban hành nhầm"})
    assert recall.status_code == 200
    late = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [clerks["BTC"]]})
    assert late.status_code == 409 and "thu hồi" in late.get_json()["detail"]
    row = api.get("vanthu", "/registers/outgoing").get_json()["entries"][0]
    assert row["state"] == "recalled" and row["state_label"] == "Đã thu hồi"


def csrf(client: Any, path: str) -> str:
    html = closed(client.get(path)).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def web_login(app: Flask, username: str) -> Any:
    client = app.test_client()
    token = csrf(client, "/login")
    closed(
        client.post(
            "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
        )
    )
    return client


def test_web_pages(api: Api, app: Flask, clerks: dict[str, int]) -> None:
    doc_id = issued_document(api)
    clerk = web_login(app, "vanthu")
    page = closed(clerk.get(f"/documents/{doc_id}/dispatch"))
    assert page.status_code == 200 and "Ban Tổ chức Đảng ủy Khối" in page.get_data(as_text=True)
    token = csrf(clerk, f"/documents/{doc_id}/dispatch")
    posted = closed(
        clerk.post(
            f"/documents/{doc_id}/dispatch",
            data={"csrf_token": token, "recipients": [str(clerks["BTC"])], "external": ""},
        )
    )
    assert posted.status_code == 302
    again = closed(clerk.get(f"/documents/{doc_id}/dispatch")).get_data(as_text=True)
    assert "Đã gửi, chờ tiếp nhận" in again

    receiver = web_login(app, "vanthu_btc")
    inbox = closed(receiver.get("/incoming")).get_data(as_text=True)
    assert "Kiểm tra chữ ký và tiếp nhận" in inbox and "01-NQ/ĐUK" in inbox
    (entry,) = api.get("vanthu_btc", "/incoming").get_json()["incoming"]
    token = csrf(receiver, "/incoming")
    done = closed(receiver.post(f"/incoming/{entry['id']}/receive", data={"csrf_token": token}))
    assert done.status_code == 302
    inbox = closed(receiver.get(done.headers["Location"])).get_data(as_text=True)
    assert "số đến 1" in inbox and "Hợp lệ" in inbox

    register = closed(clerk.get("/registers/outgoing")).get_data(as_text=True)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in register and "01-NQ/ĐUK" in register
    export = closed(clerk.get(f"/registers/outgoing?unit={clerks['DUK']}&format=csv"))
    assert export.status_code == 200 and "01-NQ/ĐUK" in export.data.decode("utf-8-sig")
    drafter = web_login(app, "chuyenvien")
    assert closed(drafter.get("/registers/outgoing")).status_code == 403
    assert closed(drafter.get("/incoming")).status_code == 403
    assert closed(app.test_client().get("/registers/outgoing")).status_code == 302
