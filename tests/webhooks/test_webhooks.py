"""Outbound webhooks: the API contract, events signed with HMAC-SHA256 and delivered to a
real local HTTP receiver, retries with back-off after 500s and time-outs, nothing lost
across a restart, the Zalo and Facebook formats, classified documents never pushed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import AuditEvent, Document
from storage.webhook_models import WebhookDelivery
from tests.conftest import Api, app_config
from tests.factories import awaiting_issue, submitted_document, user
from tests.test_admin import page, post, signed_in
from tests.webhooks.receiver import Receiver, receiver
from workflow import create_app
from workflow.jobs import catalogue
from workflow.services import EXTENSION_KEY, Services
from workflow.webhooks import events, runtime, service, wire

SECRET = "khoa-bi-mat-cua-ban-tuyen-giao"
T0 = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)


def make_app(instance: Path, database_url: str, **extra: Any) -> Flask:
    config = {"WEBHOOK_IMMEDIATE": False, "WEBHOOK_TIMEOUT": 1, **extra}
    return create_app(app_config(instance, DATABASE_URL=database_url, **config))


@pytest.fixture
def app(instance: Path, database_url: str) -> Iterator[Flask]:
    application = make_app(
        instance, database_url, PUBLIC_BASE_URL="https://trinhky.example.vn", WEBHOOK_MAX_ATTEMPTS=3
    )
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


@pytest.fixture
def rec() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def services_of(app: Flask) -> Services:
    svc: Services = app.extensions[EXTENSION_KEY]
    return svc


def register(app: Flask, url: str, wanted: list[str], kind: str = "generic", **options: str) -> int:
    services = services_of(app)
    with services.session_factory() as session:
        endpoint = service.register(
            session,
            runtime.vault_for(app),
            user(session, "admin"),
            url=url,
            secret=SECRET,
            events_wanted=wanted,
            kind=kind,
            options=options,
        )
        session.commit()
        return endpoint.id


def emit_for_new_document(app: Flask, event: str, **data: Any) -> str | None:
    services = services_of(app)
    doc_id = submitted_document(services, subject="Về việc học tập Nghị quyết số 57-NQ/TW")
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        event_id = events.emit(session, event, data, document=doc, now=T0)
        session.commit()
    return event_id


def run(app: Flask, at: datetime) -> Any:
    deliverer = runtime.deliverer_for(app)
    return deliverer.run(deliverer.due(at), at)


# --- the API ----------------------------------------------------------------------------


def test_post_webhooks_registers_an_endpoint_for_administrators_only(
    api: Api, app: Flask, rec: Receiver
) -> None:
    body = {"url": rec.base + "/hook", "secret": SECRET, "events": ["issued", "recalled"]}
    created = api.post("admin", "/webhooks", json=body)
    assert created.status_code == 201, created.get_json()
    answer = created.get_json()
    assert answer["url"] == rec.base + "/hook" and answer["events"] == ["issued", "recalled"]
    assert answer["kind"] == "generic" and answer["active"] is True
    assert SECRET not in json.dumps(answer)
    refused = api.post("chuyenvien", "/webhooks", json=body)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    for bad in (
        {**body, "url": "ftp://example.vn/x"},
        {**body, "url": "https://user:pw@example.vn/x"},
        {**body, "secret": "short"},
        {**body, "events": []},
        {**body, "events": ["issued", "exploded"]},
        {**body, "kind": "zalo"},  # no access token
    ):
        answer = api.post("admin", "/webhooks", json=bad)
        assert answer.status_code == 422, (bad, answer.get_json())
        assert answer.mimetype == "application/problem+json"
    listed = api.get("admin", "/webhooks").get_json()["webhooks"]
    assert [w["url"] for w in listed] == [rec.base + "/hook"]
    with services_of(app).session_factory() as session:
        audited = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "webhook:created")
            .order_by(AuditEvent.seq)
        ).all()
    assert len(audited) == 1 and SECRET not in json.dumps(audited[0].details)


def test_an_issued_document_delivers_a_signed_event(api: Api, app: Flask, rec: Receiver) -> None:
    created = api.post(
        "admin", "/webhooks", json={"url": rec.base + "/in", "secret": SECRET, "events": ["issued"]}
    ).get_json()
    (task_id,) = awaiting_issue(services_of(app), 1)
    issued = api.post("vanthu", f"/tasks/{task_id}/issue", json={})
    assert issued.status_code == 200, issued.get_json()
    symbol = issued.get_json()["symbol"]

    now = datetime.now(UTC)
    summary = run(app, now)
    assert (summary.delivered, summary.retrying, summary.failed) == (1, 0, 0)
    (got,) = rec.requests
    event = got.json()
    assert event["event"] == "issued" and event["symbol"] == symbol
    assert event["document"]["symbol"] == symbol and event["url"].startswith("https://trinhky")
    header = got.headers[wire.SIGNATURE_HEADER]
    t = int(header.split(",")[0].removeprefix("t="))
    assert abs(t - int(now.timestamp())) <= 1
    assert wire.verify_signature(SECRET.encode(), got.body, header, now=t)
    assert not wire.verify_signature(b"another-secret-entirely", got.body, header, now=t)
    assert not wire.verify_signature(SECRET.encode(), got.body + b" ", header, now=t)
    assert not wire.verify_signature(SECRET.encode(), got.body, header, now=t + 3600)  # replayed
    log = api.get("admin", f"/webhooks/{created['id']}/deliveries").get_json()["deliveries"]
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [("issued", "delivered", 1)]
    assert got.headers["X-TrinhKy-Delivery"] == str(log[0]["id"])


def test_retries_back_off_after_500s_and_time_outs_and_survive_a_restart(
    app: Flask, instance: Path, database_url: str, rec: Receiver
) -> None:
    register(app, rec.base + "/hook", ["recalled"])
    rec.script = [500, "stall"]
    rec.stall_seconds = 2.5  # the sender waits 1 s (WEBHOOK_TIMEOUT)
    event_id = emit_for_new_document(app, "recalled", reason="Sai thể thức")
    assert event_id is not None

    assert run(app, T0).retrying == 1
    with services_of(app).session_factory() as session:
        row = session.scalars(select(WebhookDelivery)).one()
        assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
        assert row.next_attempt_at == T0 + timedelta(seconds=30)

    # The server restarts: a new application on the same instance finds the outbox.
    services_of(app).engine.dispose()
    again = make_app(instance, database_url, WEBHOOK_MAX_ATTEMPTS=5)
    try:
        assert run(again, T0 + timedelta(seconds=10)).retrying == 0  # not due yet
        assert len(rec.requests) == 1
        assert run(again, T0 + timedelta(seconds=31)).retrying == 1  # stalled: timed out
        with services_of(again).session_factory() as session:
            row = session.scalars(select(WebhookDelivery)).one()
            assert (row.attempts, row.last_status) == (2, None)
            assert row.last_error and "timed out" in row.last_error.lower()
            assert row.next_attempt_at == T0 + timedelta(seconds=31 + 60)
        assert run(again, T0 + timedelta(seconds=95)).delivered == 1
    finally:
        services_of(again).engine.dispose()
    rec.wait_for(3)
    assert len(rec.requests) == 3
    assert {r.json()["id"] for r in rec.requests} == {event_id}  # the same event each time
    assert len({r.headers["X-TrinhKy-Delivery"] for r in rec.requests}) == 1


def test_a_delivery_that_never_succeeds_fails_and_can_be_redelivered(
    api: Api, app: Flask, rec: Receiver
) -> None:
    endpoint_id = register(app, rec.base + "/hook", ["task_assigned"])
    rec.script = [503, 503, 503]
    services = services_of(app)
    submitted_document(
        services, subject="Về việc kiểm tra công tác đảng viên"
    )  # a task for the head
    at = datetime.now(UTC)
    for step in range(3):
        run(app, at + timedelta(hours=step * 7))
    log = api.get("admin", f"/webhooks/{endpoint_id}/deliveries").get_json()["deliveries"]
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [("failed", 3, 503)]
    assert rec.requests[0].json()["task"]["action"] == "approve"
    again = api.post("admin", f"/webhooks/{endpoint_id}/deliveries/{log[0]['id']}/redeliver")
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    assert (
        api.post(
            "chuyenvien", f"/webhooks/{endpoint_id}/deliveries/{log[0]['id']}/redeliver"
        ).status_code
        == 403
    )
    assert run(app, datetime.now(UTC)).delivered == 1
    log = api.get("admin", f"/webhooks/{endpoint_id}/deliveries?status=delivered").get_json()
    assert [d["attempts"] for d in log["deliveries"]] == [1]


def test_zalo_and_facebook_adapters_speak_their_formats(app: Flask, rec: Receiver) -> None:
    register(
        app,
        rec.base + "/v3.0/oa/group/message",
        ["recalled"],
        "zalo",
        access_token="zalo-oa-token",
        group_id="g-ban-tuyen-giao",
    )
    register(
        app, rec.base + "/v21.0/123456/feed", ["recalled"], "facebook", access_token="fb-page-token"
    )
    emit_for_new_document(app, "recalled", reason="Ban hành nhầm")
    assert run(app, T0).delivered == 2
    by_path = {r.path: r for r in rec.requests}
    zalo = by_path["/v3.0/oa/group/message"]
    assert zalo.headers["access_token"] == "zalo-oa-token"
    body = zalo.json()
    assert body["recipient"] == {"group_id": "g-ban-tuyen-giao"}
    assert (
        body["message"]["text"].startswith("Văn bản")
        and "Nghị quyết số 57" in body["message"]["text"]
    )
    assert "https://trinhky.example.vn/documents/" in body["message"]["text"]
    fb = by_path["/v21.0/123456/feed"].json()
    assert fb["access_token"] == "fb-page-token" and "Nghị quyết số 57" in fb["message"]
    assert fb["link"].startswith("https://trinhky.example.vn/documents/")
    for r in rec.requests:  # signed like every delivery
        header = r.headers[wire.SIGNATURE_HEADER]
        t = int(header.split(",")[0].removeprefix("t="))
        assert wire.verify_signature(SECRET.encode(), r.body, header, now=t)


def test_classified_documents_never_make_an_event(app: Flask, rec: Receiver) -> None:
    register(app, rec.base + "/hook", list(events.EVENTS))
    services = services_of(app)
    doc_id = submitted_document(services, subject="Công văn mật")
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        doc.classification = "mat"
        assert events.emit(session, "issued", {}, document=doc) is None
        session.commit()
        made = session.scalars(select(WebhookDelivery.event)).all()
        assert made == ["task_assigned"]  # from before it was classified; none since


def test_the_server_delivers_right_after_the_commit(
    instance: Path, database_url: str, rec: Receiver
) -> None:
    immediate = make_app(instance, database_url, WEBHOOK_IMMEDIATE=True)
    try:
        register(immediate, rec.base + "/hook", ["recalled"])
        emit_for_new_document(immediate, "recalled", reason="Sai số")
        (got,) = rec.wait_for(1, timeout=10)  # no job ran: the commit hook sent it
        assert got.json()["event"] == "recalled"
        with services_of(immediate).session_factory() as session:
            assert session.scalars(select(WebhookDelivery.status)).one() == "delivered"
    finally:
        services_of(immediate).engine.dispose()


def test_the_webhooks_job_delivers_what_is_due(app: Flask, rec: Receiver) -> None:
    register(app, rec.base + "/hook", ["recalled"])
    emit_for_new_document(app, "recalled", reason="Thu hồi")
    services = services_of(app)
    job = catalogue.BY_NAME["webhooks"]
    with services.session_factory() as session:
        context = catalogue.JobContext(session, services, None, None, T0)  # type: ignore[arg-type]
        summary = job.run(context)
    assert summary.startswith("1 sự kiện đã gửi") and len(rec.requests) == 1


def test_the_administration_page_lists_and_registers_endpoints(app: Flask, rec: Receiver) -> None:
    admin = signed_in(app, "admin")
    html = page(admin, "/admin/webhooks")
    assert "Đăng ký điểm nhận mới" in html and "Zalo Official Account" in html
    done = post(
        admin,
        "/admin/webhooks",
        {"url": rec.base + "/x", "secret": SECRET, "events": ["issued"], "kind": "generic"},
    )
    assert done.status_code == 302
    html = page(admin, "/admin/webhooks")
    assert rec.base + "/x" in html
    page(signed_in(app, "chuyenvien"), "/admin/webhooks", status=403)
