"""Dispatch e-mails go through the one SMTP client (``workflow.mail``) with the mail
settings the reminders use: STARTTLS and a login when configured. A refused login or a
missing STARTTLS is logged clearly, and the dispatch stays recorded.

The SMTP server is aiosmtpd on 127.0.0.1, requiring STARTTLS before AUTH, with a
throwaway self-signed certificate the client trusts through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import select

from storage.models import Task, User
from storage.types import utcnow
from tests.conftest import Api, app_config
from tests.test_dispatch_registers import issued_document
from tests.test_reminders import overdue_document
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services

SMTP_USER = "vanthu-smtp"
SMTP_PASSWORD = "mat-khau-thu-smtp-2026"  # noqa: S105 - a test value
OUTSIDE = {"name": "Sở Nội vụ tỉnh", "email": "vanthu@snv.example"}


@dataclass
class Inbox:
    """An aiosmtpd handler and authenticator that keeps what it saw."""

    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    """(login, password, over TLS?) of each AUTH attempt."""
    messages: list[tuple[Message, bool, str | None]] = field(default_factory=list)
    """(message, over TLS?, authenticated login) of each delivery."""

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password, session.ssl is not None))
        ok = (login, password) == (SMTP_USER, SMTP_PASSWORD)
        # handled=False: aiosmtpd answers 235 or 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        login = session.login_data.decode() if session.login_data else None
        self.messages.append((message_from_bytes(envelope.content), session.ssl is not None, login))
        return "250 OK"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server requiring STARTTLS, then AUTH: (inbox, port)."""
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this server only
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting: no port 0
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=inbox,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def mail_settings() -> dict[str, Any]:
    """The mail settings of the test (the right login, STARTTLS on)."""
    return {"MAIL_PASSWORD": SMTP_PASSWORD, "MAIL_STARTTLS": True}


@pytest.fixture
def app(
    instance: Path, database_url: str, smtp: tuple[Inbox, int], mail_settings: dict[str, Any]
) -> Iterator[Flask]:
    """The application, e-mailing through the local server."""
    _inbox, port = smtp
    config = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_FROM": "vanphong@duk.example",
        "MAIL_USERNAME": SMTP_USER,
        **mail_settings,
    }
    application = create_app(app_config(instance, DATABASE_URL=database_url, **config))
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


def dispatch_outside(api: Api) -> tuple[int, dict[str, Any]]:
    """Issue a document and dispatch it to an outside recipient: (document id, its row)."""
    doc_id = issued_document(api)
    sent = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"external": [OUTSIDE]})
    assert sent.status_code == 201, sent.get_json()
    (row,) = sent.get_json()["dispatches"]
    return doc_id, row


def test_dispatch_email_uses_starttls_and_the_login(
    api: Api, services: Services, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    _doc_id, row = dispatch_outside(api)
    assert row["mail_status"] == "sent" and row["state"] == "emailed"
    assert "download_url" not in row
    assert inbox.logins == [(SMTP_USER, SMTP_PASSWORD, True)]  # logged in after STARTTLS
    ((message, over_tls, login),) = inbox.messages
    assert over_tls and login == SMTP_USER
    assert message["To"] == OUTSIDE["email"] and message["From"] == "vanphong@duk.example"
    assert str(make_header(decode_header(message["Subject"]))) == "Văn bản số 01-NQ/ĐUK"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "Kính gửi Sở Nội vụ tỉnh" in body and "/public/d/" in body

    # The reminders go through the same client and settings.
    with services.session_factory() as session:
        user = session.scalars(select(User).where(User.username == "truongban")).one()
        user.email = "truongban@dangbo.example.vn"
        session.commit()
    overdue_document(api)
    with services.session_factory() as session:
        for task in session.scalars(select(Task).where(Task.state == "open")):
            task.due_at = utcnow() - timedelta(days=3)
        session.commit()
    ran = api.post("admin", "/reminders/run")
    assert ran.status_code == 200, ran.get_json()
    assert ran.get_json()["emailed"] == 1
    reminder, over_tls, login = inbox.messages[-1]
    assert reminder["To"] == "truongban@dangbo.example.vn" and over_tls and login == SMTP_USER
    assert [over_tls for *_, over_tls in inbox.logins] == [True, True]


@pytest.mark.parametrize(
    ("mail_settings", "expected"),
    [
        (
            {"MAIL_PASSWORD": "sai-mat-khau", "MAIL_STARTTLS": True},
            "login refused for user 'vanthu-smtp' (check MAIL_USERNAME and MAIL_PASSWORD)",
        ),
        (
            {"MAIL_PASSWORD": SMTP_PASSWORD, "MAIL_STARTTLS": False},
            "check MAIL_STARTTLS",
        ),
    ],
    ids=["wrong-password", "no-starttls"],
)
def test_refused_mail_is_logged_and_the_dispatch_kept(
    api: Api, smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture, expected: str
) -> None:
    inbox, _port = smtp
    with caplog.at_level(logging.WARNING, logger="trinhky.dispatch"):
        doc_id, row = dispatch_outside(api)
    assert row["mail_status"] == "not sent: mail server error" and row["state"] == "mail_failed"
    assert inbox.messages == []
    (record,) = [r for r in caplog.records if r.name == "trinhky.dispatch"]
    text = record.getMessage()
    assert expected in text and OUTSIDE["email"] in text
    assert "sai-mat-khau" not in caplog.text and SMTP_PASSWORD not in caplog.text
    # The dispatch is recorded, with its outcome, and in the document's history.
    (kept,) = api.get("vanthu", f"/documents/{doc_id}/dispatches").get_json()["dispatches"]
    assert kept["id"] == row["id"] and kept["mail_status"] == "not sent: mail server error"
    history = api.get("vanthu", f"/documents/{doc_id}").get_json()["history"]
    assert "document:dispatched" in [h["action"] for h in history]
