"""The clerk's web forms for paper items: reachable from the pages the clerk already
uses (registers, dispatch, reports, work files), CSRF-protected, refusals shown again
with a 4xx and the message, English through the catalogues."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from storage.models import Document, Unit
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation
from tests.browser.test_i18n_pages import english_client
from tests.conftest import Api, closed
from tests.test_paper_registers import SCAN
from tests.test_web import login
from workflow.records import reporting
from workflow.services import Services

# Dates of paper documents (today, the future refused) and the year's figures: on a known clock.
pytestmark = pytest.mark.usefixtures("clock")


def page(client: FlaskClient, path: str) -> str:
    response = closed(client.get(path))
    assert response.status_code == 200, (path, response.status_code)
    text: str = response.get_data(as_text=True)
    return text


def form_token(html: str, action: str) -> str:
    """The CSRF token of the form posting to ``action``."""
    match = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>\s*'
        r'<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"',
        html,
    )
    assert match, action
    return match.group(1)


def units(services: Services) -> dict[str, int]:
    with services.session_factory() as s:
        return {u.code: u.id for u in s.scalars(select(Unit))}


def rows(services: Services, model: Any) -> int:
    with services.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_hand_signed_and_paper_dispatch_through_the_pages(app: Flask, services: Services) -> None:
    duk = units(services)["DUK"]
    client = app.test_client()
    login(client, "vanthu")
    html = page(client, "/registers/outgoing")
    action = f"/registers/outgoing/paper?unit={duk}"
    assert "Vào sổ văn bản ký tay (bản giấy)" in html and action.replace("&", "&amp;") in html
    token = form_token(html, action)
    fields = {
        "doc_type": "NQ",
        "subject": "Nghị quyết về công tác kiểm tra",
        "unit": "TT",
        "signer": "bithu",
        "signed_on": "2026-01-05",
        "copies": "5",
    }
    # Without the CSRF token: refused, nothing written.
    assert closed(client.post(action, data=fields)).status_code == 400
    assert rows(services, Document) == 0
    # A date in the future: 422, the message, the form filled in again.
    refused = closed(
        client.post(action, data={**fields, "csrf_token": token, "signed_on": "2999-01-01"})
    )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "không được sau ngày hôm nay" in body and "Nghị quyết về công tác kiểm tra" in body
    assert rows(services, Document) == 0
    done = closed(
        client.post(
            action,
            data={**fields, "csrf_token": token, "file": (io.BytesIO(SCAN), "quet.pdf")},
            content_type="multipart/form-data",
        )
    )
    assert done.status_code == 302
    register = page(client, done.headers["Location"])
    assert "Đã vào sổ văn bản ký tay, số 01-NQ/ĐUK." in register
    assert "<td>Giấy</td>" in register and "Lê Văn Đức" in register
    with services.session_factory() as s:
        doc = s.scalars(select(Document)).one()
    # The document page tells it was signed by hand, links the scan and the recipients.
    detail = page(client, f"/documents/{doc.id}")
    assert "Văn bản ký tay (bản giấy): Lê Văn Đức ký ngày 05/01/2026." in detail
    assert f"/documents/{doc.id}/scan" in detail and f"/documents/{doc.id}/dispatch" in detail
    assert closed(client.get(f"/documents/{doc.id}/scan")).data == SCAN

    dispatch = page(client, f"/documents/{doc.id}/dispatch")
    assert "không phát hành điện tử" in dispatch and "Chọn nơi nhận" not in dispatch
    paper_action = f"/documents/{doc.id}/paper-dispatches"
    token = form_token(dispatch, paper_action)
    gd = units(services)["CS-GDDT"]
    refused = closed(
        client.post(
            paper_action,
            data={"csrf_token": token, "recipients": [str(gd)], "sent_on": "2000-01-01"},
        )
    )
    assert refused.status_code == 422 and rows(services, Dispatch) == 0
    assert "Ngày gửi không được trước ngày ban hành" in refused.get_data(as_text=True)
    sent = closed(
        client.post(
            paper_action,
            data={"csrf_token": token, "recipients": [str(gd)], "external": "UBND tỉnh\n\n"},
        )
    )
    assert sent.status_code == 302
    after = page(client, sent.headers["Location"])
    assert "Đã ghi nhận gửi bản giấy." in after and "UBND tỉnh" in after
    assert rows(services, Dispatch) == 2


def test_paper_incoming_through_the_register_page(app: Flask, services: Services) -> None:
    gd = units(services)["CS-GDDT"]
    client = app.test_client()
    login(client, "vanthugd")
    assert "#paper" in page(client, f"/incoming?unit={gd}")
    html = page(client, f"/registers/incoming?unit={gd}")
    action = f"/registers/incoming/paper?unit={gd}"
    token = form_token(html, action)
    refused = closed(client.post(action, data={"csrf_token": token, "subject": "Giấy mời"}))
    assert refused.status_code == 422 and "cơ quan gửi" in refused.get_data(as_text=True)
    assert rows(services, IncomingEntry) == 0
    done = closed(
        client.post(
            action,
            data={
                "csrf_token": token,
                "sender_unit": "DUK",
                "original_symbol": "15-CV/ĐUK",
                "original_date": "2026-11-02",
                "subject": "Công văn về hội nghị",
                "doc_type": "CV",
                "classification": "",
            },
        )
    )
    assert done.status_code == 302
    register = page(client, done.headers["Location"])
    assert "số đến 1" in register and "<td>Giấy</td>" in register
    # Only the clerk of the register sees its paper form.
    other = app.test_client()
    login(other, "kiemtra")
    assert "Vào sổ văn bản đến bằng bản giấy" not in page(other, f"/registers/incoming?unit={gd}")


def test_report_on_paper_and_paper_work_file_pages(app: Flask, services: Services) -> None:
    with services.session_factory() as s:
        reporting.generate_obligations(s, "2026-Q3")
        s.commit()
        gd = s.scalars(
            select(ReportObligation)
            .join(Unit, Unit.id == ReportObligation.unit_id)
            .where(Unit.code == "CS-GDDT")
        ).one()
    client = app.test_client()
    login(client, "vanthu")
    html = page(client, "/reports?period=2026-Q3")
    action = f"/reports/{gd.id}/paper?period=2026-Q3"
    token = form_token(html, action)
    done = closed(client.post(action, data={"csrf_token": token, "delivered_on": ""}))
    assert done.status_code == 302 and done.headers["Location"].endswith("/reports?period=2026-Q3")
    after = page(client, done.headers["Location"])
    assert "Đã ghi nhận báo cáo nộp bằng bản giấy." in after and "status-paper" in after
    again = closed(client.post(action, data={"csrf_token": token}))
    assert again.status_code == 409 and "đã được ghi nhận" in again.get_data(as_text=True)

    drafter = app.test_client()
    login(drafter, "chuyenvien")
    form = page(drafter, "/workfiles/new")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token and "Hồ sơ lưu trên giấy" in form
    created = closed(
        drafter.post(
            "/workfiles/new",
            data={
                "csrf_token": token.group(1),
                "title": "Hồ sơ giấy",
                "unit": "BTG",
                "paper": "y",
                "closed_on": "2026-11-02",
            },
        )
    )
    assert created.status_code == 302
    detail = page(drafter, created.headers["Location"])
    assert "Hồ sơ giấy" in detail


def test_paper_forms_speak_english(app: Flask, services: Services) -> None:
    api = Api(app)
    assert (
        api.post(
            "vanthu",
            "/outgoing/paper",
            json={
                "doc_type": "CV",
                "subject": "Công văn",
                "signer": "bithu",
                "signed_on": "2026-01-05",
            },
        ).status_code
        == 201
    )
    client = english_client(app, "vanthu")
    outgoing = page(client, "/registers/outgoing")
    assert "Register a document signed by hand (on paper)" in outgoing
    assert "Form" in outgoing and "Series" in outgoing
    incoming = page(client, "/registers/incoming")
    assert "Register a document received on paper" in incoming
    reports = page(client, "/reports")
    assert "Nộp bản giấy" not in reports
