"""Reminders (đôn đốc) of overdue tasks: in-app notification and e-mail over SMTP."""

from __future__ import annotations

import email
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.policy import default as default_policy
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from storage.models import Task, User
from storage.registry_models import Notification
from storage.types import utcnow
from tests.conftest import Api, app_config
from tests.pdfs import simple_pdf
from workflow import create_app
from workflow.mail import MailConfig, NullMailer, SmtpMailer
from workflow.records.reminders import send_reminders
from workflow.services import EXTENSION_KEY, Services

# Overdue tasks and once-a-day reminders: on a known clock.
pytestmark = pytest.mark.usefixtures("clock")

ROUTE = "duyet-gap"
SUBJECT = "Về việc báo cáo kết quả học tập Nghị quyết Đại hội"


class Inbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server: (its inbox, its port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _emails(services: Services) -> None:
    with services.session_factory() as session:
        for username in ("truongban", "bithu"):
            user = session.scalars(select(User).where(User.username == username)).one()
            user.email = f"{username}@dangbo.example.vn"
        session.commit()


def overdue_document(api: Api) -> int:
    """A document on a one-stage route with a one-working-day deadline."""
    route = api.post(
        "admin",
        "/routes",
        json={
            "code": ROUTE,
            "name": "Duyệt gấp trong một ngày làm việc",
            "stages": [
                {
                    "name": "Lãnh đạo ban duyệt",
                    "action": "approve",
                    "assignee_role": "approver",
                    "deadline_days": 1,
                }
            ],
        },
    )
    assert route.status_code == 201, route.get_json()
    created = api.post(
        "chuyenvien",
        "/documents",
        data={
            "file": (BytesIO(simple_pdf()), "bao-cao.pdf"),
            "subject": SUBJECT,
            "doc_type": "BC",
            "route": ROUTE,
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    doc_id: int = created.get_json()["id"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    task = api.task_for("truongban", doc_id)
    assert task["due_at"] is not None and task["overdue"] is False
    return doc_id


# Overdue and once-a-day are timestamp comparisons in SQL.
@pytest.mark.both_databases
def test_overdue_task_reminded_by_email_once_a_day(
    api: Api, services: Services, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    doc_id = overdue_document(api)
    mailer = SmtpMailer(
        MailConfig(server="127.0.0.1", port=port, sender="trinhky@dangbo.example.vn")
    )

    with services.session_factory() as session:
        assert send_reminders(session, mailer, utcnow()).reminded == 0  # not due yet
        later = utcnow() + timedelta(days=10)
        report = send_reminders(session, mailer, later)
        session.commit()
    assert (report.reminded, report.emailed, report.failed) == (1, 1, 0)

    assert len(inbox.messages) == 1
    mail_from, rcpt_tos, raw = inbox.messages[0]
    assert mail_from == "trinhky@dangbo.example.vn"
    assert rcpt_tos == ["truongban@dangbo.example.vn"]
    raw.decode("ascii")  # 7-bit clean on the wire: headers RFC 2047, body quoted-printable
    assert b"=?utf-8?" in raw.lower()
    message = email.message_from_bytes(raw, policy=default_policy)
    assert message["Subject"] == f"[TrinhKy] Đôn đốc: việc quá hạn - {SUBJECT}"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content_charset() == "utf-8"
    text = body.get_content()
    assert "Kính gửi đồng chí Trần Văn Phương" in text and SUBJECT in text

    # Not again within 24 hours; again after.
    with services.session_factory() as session:
        assert send_reminders(session, mailer, later + timedelta(hours=23)).reminded == 0
        assert send_reminders(session, mailer, later + timedelta(hours=24, minutes=1)).reminded == 1
        session.commit()
    assert len(inbox.messages) == 2

    # The in-app notification, and marking it read (only one's own).
    notes = api.get("truongban", "/notifications").get_json()["notifications"]
    reminders = [n for n in notes if n["kind"] == "reminder"]
    assert len(reminders) == 2 and reminders[0]["document_id"] == doc_id
    assert reminders[0]["message"].startswith("Đôn đốc: việc «Lãnh đạo ban duyệt»")
    assert "quá hạn" in reminders[0]["message"] and not reminders[0]["read"]
    other = api.post("chuyenvien", f"/notifications/{reminders[0]['id']}/read")
    assert other.status_code == 404 and "Không tìm thấy thông báo" in other.get_json()["detail"]
    read = api.post("truongban", f"/notifications/{reminders[0]['id']}/read")
    assert read.status_code == 200 and read.get_json()["read"] is True
    assert api.get("truongban", "/notifications").get_json()["notifications"][0]["read"] is True
    with services.session_factory() as session:
        task = session.scalars(select(Task).where(Task.document_id == doc_id)).one()
        assert task.reminded_at is not None
        emailed = session.scalars(select(Notification).where(Notification.kind == "reminder")).all()
        assert all(n.emailed_at is not None for n in emailed)


def test_without_mail_server_only_in_app(
    api: Api, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    overdue_document(api)
    with services.session_factory() as session:
        task = session.scalars(select(Task).where(Task.state == "open")).one()
        # A second overdue task of someone with an address: still one log line.
        session.add(
            Task(
                document_id=task.document_id,
                stage_position=1,
                stage_name="Lãnh đạo ban duyệt",
                action="approve",
                assignee_id=session.scalars(select(User.id).where(User.username == "bithu")).one(),
                state="open",
                due_at=task.due_at,
            )
        )
        session.commit()
    with (
        caplog.at_level(logging.INFO, logger="trinhky.mail"),
        services.session_factory() as session,
    ):
        report = send_reminders(session, NullMailer(), utcnow() + timedelta(days=10))
        session.commit()
    assert (report.reminded, report.emailed) == (2, 0)
    assert [r.message for r in caplog.records].count(
        "MAIL_SERVER is not set: notifications stay in-app, no e-mail is sent"
    ) == 1
    assert any(
        n["kind"] == "reminder"
        for n in api.get("bithu", "/notifications").get_json()["notifications"]
    )


def test_refused_email_keeps_the_in_app_reminder(api: Api, services: Services) -> None:
    overdue_document(api)
    dead = SmtpMailer(MailConfig(server="127.0.0.1", port=free_port(), sender="a@b.vn", timeout=2))
    with services.session_factory() as session:
        report = send_reminders(session, dead, utcnow() + timedelta(days=10))
        session.commit()
    assert (report.reminded, report.emailed, report.failed) == (1, 0, 1)
    notes = api.get("truongban", "/notifications").get_json()["notifications"]
    assert notes[0]["kind"] == "reminder"


def _make_overdue(services: Services) -> None:
    with services.session_factory() as session:
        for task in session.scalars(select(Task).where(Task.state == "open")):
            task.due_at = utcnow() - timedelta(days=3)
        session.commit()


def test_cli_and_api_run(
    instance: Path, database_url: str, api: Api, services: Services, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    overdue_document(api)
    _make_overdue(services)
    # Settings are read once, at start: the command runs in an app configured for e-mail.
    mailing = create_app(
        app_config(
            instance,
            DATABASE_URL=database_url,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_FROM="trinhky@dangbo.example.vn",
        )
    )
    try:
        result = mailing.test_cli_runner().invoke(args=["send-reminders"])
    finally:
        mailing.extensions[EXTENSION_KEY].engine.dispose()
    assert result.exit_code == 0, result.output
    assert "reminded 1 overdue tasks; e-mailed 1" in result.output
    assert len(inbox.messages) == 1
    # Reminded already: the API run by an administrator finds nothing new.
    denied = api.post("truongban", "/reminders/run")
    assert denied.status_code == 403 and "quản trị" in denied.get_json()["detail"]
    ran = api.post("admin", "/reminders/run")
    assert ran.status_code == 200 and ran.get_json() == {"reminded": 0, "emailed": 0, "failed": 0}
    task = api.get("truongban", "/tasks").get_json()["tasks"][0]
    assert task["overdue"] is True
