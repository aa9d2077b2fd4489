"""E-mail notices of the events a person acts on or should know of, through a real SMTP
server (aiosmtpd): each event's mail checked for recipient, language and link; the
daily digest; no e-mail for who chose none; never the document itself."""

from __future__ import annotations

import email
import itertools
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import Task, User
from storage.types import utcnow
from tests import factories
from tests.conftest import Api, app_config, closed
from tests.intake.conftest import Inbox, smtp  # noqa: F401 - the SMTP server fixture
from tests.test_dispatch_registers import add_clerk, issued_document, unit_id
from tests.test_web import csrf_token, login
from workflow import create_app
from workflow.jobs import catalogue
from workflow.jobs.runner import Runner
from workflow.mail import MailConfig, SmtpMailer
from workflow.notices import service as notices
from workflow.records.reminders import send_reminders
from workflow.services import EXTENSION_KEY, Services

pytestmark = pytest.mark.usefixtures("clock")
BASE = "https://trinhky.example.vn"
RUNS = itertools.count()


@pytest.fixture
def app(instance: Path, database_url: str, smtp: tuple[Inbox, int]) -> Iterator[Flask]:  # noqa: F811
    application = create_app(
        app_config(
            instance,
            DATABASE_URL=database_url,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=smtp[1],
            MAIL_FROM="trinhky@trinhky.local",
            PUBLIC_BASE_URL=BASE,
        )
    )
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


def put(api: Api, user: str, path: str, body: dict[str, str]) -> Any:
    return closed(api.client.put("/api/v1" + path, headers=api.headers(user), json=body))


def mails(inbox: Inbox) -> list[tuple[str, EmailMessage]]:
    """(recipient, message) of everything received, then forgotten."""
    out = []
    for _sender, rcpts, raw in inbox.messages:
        msg = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        assert not any(p.get_content_disposition() == "attachment" for p in msg.walk())
        out.append((rcpts[0], msg))
    inbox.messages.clear()
    return out


def run_notices(app: Flask) -> str | None:
    """One run of the ``notices`` job through the scheduler's runner."""
    services = app.extensions[EXTENSION_KEY]
    runner = Runner(
        services,
        (catalogue.BY_NAME["notices"], catalogue.BY_NAME["notice-digest"]),
        catalogue.intervals(services.settings),
        SmtpMailer(MailConfig.from_settings(services.settings)),  # type: ignore[arg-type]
        None,
        clock=utcnow,
    )
    # The test clock stands still: each run takes a due time of its own.
    outcome = runner.run("notices", utcnow() + timedelta(minutes=next(RUNS)))
    assert outcome.status == "ok", outcome.error
    return outcome.summary


def test_task_events_by_email_in_each_language(
    app: Flask,
    api: Api,
    services: Services,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, _ = smtp
    assert api.get("truongban", "/account/notices").get_json() == {
        "mode": "each",
        "language": "vi",
        "email": "truongban@trinhky.local",
    }
    bad = put(api, "truongban", "/account/notices", {"mode": "weekly"})
    assert bad.status_code == 422
    chose = put(api, "truongban", "/account/notices", {"mode": "each", "language": "en"})
    assert chose.status_code == 200 and chose.get_json()["language"] == "en"
    assert put(api, "chuyenvien", "/account/notices", {"mode": "digest"}).status_code == 200

    # A task assigned: in English for the head of the board, with the document's link.
    doc_id = factories.submitted_document(services, subject="Về việc học tập Nghị quyết")
    assert run_notices(app) == "gửi 1 thư (1 thông báo); thư lỗi 0"
    ((to, msg),) = mails(inbox)
    assert to == "truongban@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] A new task for you")
    body = msg.get_content()
    assert body.startswith("Dear Trần Văn Phương,")
    assert f"Open in TrinhKy: {BASE}/documents/{doc_id}" in body
    assert run_notices(app) == "gửi 0 thư (0 thông báo); thư lỗi 0"  # once only

    # Delegated, then overdue: in Vietnamese for the secretary.
    task = api.task_for("truongban", doc_id)
    until = (utcnow() + timedelta(days=3)).isoformat()
    delegated = api.post(
        "truongban",
        f"/tasks/{task['id']}/delegate",
        json={"to": "bithu", "until": until, "reason": "Đi công tác"},
    )
    assert delegated.status_code == 201, delegated.get_json()
    run_notices(app)
    ((to, msg),) = mails(inbox)
    assert to == "bithu@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] Việc được ủy quyền cho đồng chí")
    assert msg.get_content().startswith("Kính gửi đồng chí Lê Văn Đức,")
    assert f"{BASE}/documents/{doc_id}" in msg.get_content()
    with services.session_factory() as session:
        for t in session.scalars(select(Task).where(Task.state == "open")):
            t.due_at = utcnow() - timedelta(days=2)
        report = send_reminders(
            session,
            SmtpMailer(MailConfig.from_settings(services.settings)),
            utcnow(),  # type: ignore[arg-type]
        )
        session.commit()
    # Both open tasks were overdue: the secretary's mailed at once in Vietnamese, the
    # head of the board's (English) by the notices job.
    assert (report.reminded, report.emailed) == (2, 1)
    ((to, msg),) = mails(inbox)
    assert to == "bithu@trinhky.local" and "Đôn đốc" in msg["Subject"]
    run_notices(app)
    ((to, msg),) = mails(inbox)
    assert to == "truongban@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] Reminder: an overdue task")
    assert f"{BASE}/documents/{doc_id}" in msg.get_content()

    # Returned to the drafter, who chose the daily digest: nothing now, one digest later.
    task = api.task_for("bithu", doc_id)
    back = api.post("bithu", f"/tasks/{task['id']}/return", json={"comment": "Sửa lại trích yếu"})
    assert back.status_code == 200, back.get_json()
    run_notices(app)
    assert [(to, m["Subject"]) for to, m in mails(inbox)] == []
    with services.session_factory() as session:
        digest = notices.send_digests(
            session,
            SmtpMailer(MailConfig.from_settings(services.settings)),
            BASE,
            utcnow(),  # type: ignore[arg-type]
        )
        session.commit()
    assert (digest.emailed, digest.notifications) == (1, 1)
    ((to, msg),) = mails(inbox)
    assert to == "chuyenvien@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] Tổng hợp thông báo ngày")
    assert (
        "Văn bản bị trả lại" in msg.get_content()
        and f"{BASE}/documents/{doc_id}" in msg.get_content()
    )

    # The settings page (CSRF like every form).
    web = app.test_client()
    login(web, "chuyenvien")
    token = csrf_token(web, "/account/notices")
    saved = web.post(
        "/account/notices", data={"mode": "none", "language": "en", "csrf_token": token}
    )
    assert saved.status_code == 302
    assert api.get("chuyenvien", "/account/notices").get_json()["mode"] == "none"
    assert web.post("/account/notices", data={"mode": "each"}).status_code == 400
    assert api.get("chuyenvien", "/account/notices").get_json()["mode"] == "none"

    # None: nothing is e-mailed, the in-app notification stays.
    assert put(api, "truongban", "/account/notices", {"mode": "none"}).status_code == 200
    factories.submitted_document(services, subject="Văn bản thứ hai")
    assert run_notices(app) == "gửi 0 thư (0 thông báo); thư lỗi 0"
    assert inbox.messages == []


def test_receipt_incoming_and_recall_by_email(
    app: Flask,
    api: Api,
    services: Services,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, _ = smtp
    add_clerk(services, "vanthu_btc", "BTC")
    with services.session_factory() as session:
        clerk = session.scalars(select(User).where(User.username == "vanthu_btc")).one()
        clerk.email = "vanthu.btc@trinhky.local"
        session.commit()
    doc_id = issued_document(api)
    mails(inbox)  # the route's task notices are checked above
    with services.session_factory() as session:  # only what follows
        for user in session.scalars(select(User)):
            user.notify_mode = "none" if user.username not in ("vanthu", "vanthu_btc") else "each"
        session.commit()
    run_notices(app)
    inbox.messages.clear()

    sent = api.post(
        "vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [unit_id(services, "BTC")]}
    )
    assert sent.status_code == 201, sent.get_json()
    run_notices(app)
    ((to, msg),) = mails(inbox)
    assert to == "vanthu.btc@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] Văn bản đến cho đơn vị")
    assert f"{BASE}/incoming" in msg.get_content()

    (entry,) = api.get("vanthu_btc", "/incoming?state=pending").get_json()["incoming"]
    assert (
        api.post("vanthu_btc", f"/incoming/{entry['id']}/receive").get_json()["state"] == "received"
    )
    run_notices(app)
    ((to, msg),) = mails(inbox)
    assert to == "vanthu@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] Văn bản đã được tiếp nhận")
    assert f"{BASE}/documents/{doc_id}" in msg.get_content()

    recalled = api.post("vanthu", f"/documents/{doc_id}/recall", json={"reason": "Ban hành nhầm"})
    assert recalled.status_code == 200, recalled.get_json()
    run_notices(app)
    ((to, msg),) = mails(inbox)
    assert to == "vanthu.btc@trinhky.local"
    assert msg["Subject"].startswith("[TrinhKy] Văn bản bị thu hồi")
    assert f"{BASE}/documents/{doc_id}" in msg.get_content()
