"""Planned recipients (nơi nhận dự kiến): chosen at upload (web form and API), stored on the
document, shown on its page, and ticked for the clerk on the dispatch page."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import Document, PlannedRecipient, Unit
from storage.registry_models import Dispatch
from tests.conftest import DEMO_PASSWORD, Api, blob_files, closed
from tests.pdfs import simple_pdf
from tests.test_web import csrf_token, login
from tests.test_workflow_routes import FULL, act
from workflow.services import Services

SUBJECT = "Kế hoạch tổ chức Hội nghị học tập Nghị quyết"
OUTSIDE = "Sở Nội vụ tỉnh; vanthu@snv.example.vn"


def units(services: Services) -> dict[str, int]:
    with services.session_factory() as session:
        return {u.code: u.id for u in session.scalars(select(Unit))}


def api_upload(api: Api, **fields: Any) -> Any:
    data: dict[str, Any] = {
        "file": (BytesIO(simple_pdf()), "ke-hoach.pdf"),
        "subject": SUBJECT,
        "doc_type": "KH",
        "route": FULL,
        **fields,
    }
    return api.post("chuyenvien", "/documents", data=data, content_type="multipart/form-data")


def take_to_issued(api: Api, doc_id: int) -> None:
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    assert act(api, "vanthu", doc_id, "issue")["document"]["state"] == "issued"


def ticked(html: str) -> set[int]:
    """:returns: the unit ids ticked in a page's ``recipients`` checkboxes."""
    return {
        int(m.group(1)) for m in re.finditer(r'name="recipients" value="(\d+)"[^>]*\schecked', html)
    }


def test_api_recipients_are_stored_shown_and_ticked_for_the_clerk(
    api: Api, app: Flask, services: Services
) -> None:
    ids = units(services)
    created = api_upload(api, recipients=[str(ids["BTC"]), str(ids["CS-DL"])], external=OUTSIDE)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert [u["code"] for u in body["recipients"]] == ["BTC", "CS-DL"]
    assert body["external_recipients"] == [
        {"name": "Sở Nội vụ tỉnh", "email": "vanthu@snv.example.vn"}
    ]
    doc_id = body["id"]
    shown = api.get("chuyenvien", f"/documents/{doc_id}").get_json()
    assert [u["id"] for u in shown["recipients"]] == [ids["BTC"], ids["CS-DL"]]
    uploaded = [e for e in shown["history"] if "sha256" in e["details"]][0]
    assert uploaded["details"]["recipients"] == ["BTC", "CS-DL"]
    assert uploaded["details"]["external_recipients"] == ["vanthu@snv.example.vn"]

    # Comma-separated ids, repeats dropped; no recipients at all is fine too.
    other = api_upload(api, recipients=f"{ids['BTG']}, {ids['BTG']},{ids['VP']}")
    assert [u["code"] for u in other.get_json()["recipients"]] == ["BTG", "VP"]
    assert api_upload(api).get_json()["recipients"] == []

    take_to_issued(api, doc_id)
    clerk = app.test_client()
    login(clerk, "vanthu")
    detail = closed(clerk.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert "Nơi nhận dự kiến:" in detail and "Ban Tổ chức Đảng ủy Khối" in detail
    page = closed(clerk.get(f"/documents/{doc_id}/dispatch")).get_data(as_text=True)
    assert ticked(page) == {ids["BTC"], ids["CS-DL"]}
    assert "Sở Nội vụ tỉnh; vanthu@snv.example.vn</textarea>" in page

    # The clerk confirms (here: drops one unit) and dispatches.
    token = csrf_token(clerk, f"/documents/{doc_id}/dispatch")
    sent = closed(
        clerk.post(
            f"/documents/{doc_id}/dispatch",
            data={"csrf_token": token, "recipients": [str(ids["BTC"])], "external": OUTSIDE},
        )
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    with services.session_factory() as session:
        rows = session.scalars(select(Dispatch).where(Dispatch.document_id == doc_id)).all()
        assert {r.recipient_unit_id for r in rows} == {ids["BTC"], None}
        assert {r.external_email for r in rows} == {None, "vanthu@snv.example.vn"}
    # What is left planned and not sent stays ticked; the sent address is not offered again.
    page = closed(clerk.get(f"/documents/{doc_id}/dispatch")).get_data(as_text=True)
    assert ticked(page) == {ids["CS-DL"]}
    assert "vanthu@snv.example.vn</textarea>" not in page


def test_web_upload_form_with_recipients_and_csrf(app: Flask, services: Services) -> None:
    ids = units(services)
    client = app.test_client()
    login(client, "chuyenvien")
    form_page = closed(client.get("/documents/new")).get_data(as_text=True)
    assert "<legend>Nơi nhận dự kiến</legend>" in form_page
    assert "<legend>Tổ chức cơ sở đảng</legend>" in form_page
    assert f'id="recipient-{ids["CS-NH"]}"' in form_page and 'for="external"' in form_page
    data: dict[str, Any] = {
        "subject": SUBJECT,
        "doc_type": "KH",
        "recipients": [str(ids["BTC"]), str(ids["CS-GDDT"])],
        "external": "Báo Tiền Phong; toasoan@tienphong.example.vn\n",
    }
    refused = closed(
        client.post(
            "/documents/new",
            data={**data, "file": (BytesIO(simple_pdf()), "kh.pdf")},
            content_type="multipart/form-data",
        )
    )
    assert refused.status_code == 400
    token = csrf_token(client, "/documents/new")
    done = closed(
        client.post(
            "/documents/new",
            data={**data, "csrf_token": token, "file": (BytesIO(simple_pdf()), "kh.pdf")},
            content_type="multipart/form-data",
        )
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    with services.session_factory() as session:
        doc = session.scalars(select(Document)).one()
        planned = [(p.unit_id, p.name, p.email) for p in doc.planned_recipients]
    assert planned == [
        (ids["BTC"], None, None),
        (ids["CS-GDDT"], None, None),
        (None, "Báo Tiền Phong", "toasoan@tienphong.example.vn"),
    ]
    detail = closed(client.get(done.headers["Location"])).get_data(as_text=True)
    assert "Đảng ủy Sở Giáo dục và Đào tạo" in detail
    assert "Báo Tiền Phong &lt;toasoan@tienphong.example.vn&gt;" in detail


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"recipients": "99999"}, "Không có đơn vị nhận với mã số 99999."),
        ({"recipients": "BTC"}, "«BTC» không hợp lệ"),
        ({"recipients": "inactive"}, "đã ngừng hoạt động"),
        ({"external": "Sở Nội vụ; khong-phai-email"}, "không hợp lệ"),
        ({"external": "chi-co-ten-khong-co-dau-cham-phay"}, "hãy ghi «Tên; địa chỉ"),
        ({"external": '[{"name": "", "email": "a@b.vn"}]'}, "Hãy nhập tên nơi nhận bên ngoài"),
    ],
)
def test_bad_recipients_are_refused_and_nothing_is_stored(
    api: Api,
    services: Services,
    instance: Path,
    count_rows: Callable[[Any], int],
    fields: dict[str, str],
    message: str,
) -> None:
    if fields.get("recipients") == "inactive":
        with services.session_factory() as session:
            unit = session.scalars(select(Unit).where(Unit.code == "CS-NH")).one()
            unit.active = False
            session.commit()
            fields = {"recipients": str(unit.id)}
    blobs_before = blob_files(instance)
    refused = api_upload(api, **fields)
    assert refused.status_code == 422, refused.get_json()
    assert message in refused.get_json()["detail"]
    assert count_rows(Document) == 0 and count_rows(PlannedRecipient) == 0
    assert blob_files(instance) == blobs_before


def test_bad_recipient_on_the_web_form_keeps_the_choices(
    app: Flask, services: Services, count_rows: Callable[[Any], int]
) -> None:
    ids = units(services)
    client = app.test_client()
    login(client, "chuyenvien")
    token = csrf_token(client, "/documents/new")
    refused = closed(
        client.post(
            "/documents/new",
            data={
                "csrf_token": token,
                "subject": SUBJECT,
                "doc_type": "KH",
                "recipients": [str(ids["BTC"]), "99999"],
                "external": "Sở Nội vụ; snv@example.vn",
                "file": (BytesIO(simple_pdf()), "kh.pdf"),
            },
            content_type="multipart/form-data",
        )
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Không có đơn vị nhận với mã số 99999." in page
    assert ticked(page) == {ids["BTC"]} and "Sở Nội vụ; snv@example.vn</textarea>" in page
    assert count_rows(Document) == 0


def test_openapi_describes_the_recipients(api: Api) -> None:
    spec = closed(api.client.get("/api/v1/openapi.json")).get_json()
    upload = spec["paths"]["/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {"recipients", "external"} <= set(upload["schema"]["properties"])
    document = spec["components"]["schemas"]["Document"]["properties"]
    assert {"recipients", "external_recipients"} <= set(document)
