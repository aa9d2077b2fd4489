"""Fixtures of the e-mail intake tests: a real IMAP server (Debian's Dovecot, one per
session, IMAPS on a loopback port with a throwaway passwd-file user and a self-signed
certificate) that messages are delivered into with IMAP APPEND, as a mail system would;
a real SMTP server (aiosmtpd) for the replies; an app configured for both."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from tests.conftest import app_config, signature_level
from workflow import create_app
from workflow.services import EXTENSION_KEY
from workflow.settings import MailboxConfig

USER = "vanthu-hopthu"
PASSWORD = "mat-khau-hop-thu-thu-nghiem"  # noqa: S105 - a throwaway test mailbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Dovecot:
    """A running Dovecot: where it answers and how to deliver into it."""

    port: int
    cafile: str
    log: Path

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=self.cafile)
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=30)
        imap.login(USER, PASSWORD)
        return imap

    def deliver(self, folder: str, *messages: bytes) -> None:
        """Append each message to ``folder`` (created if need be), unflagged."""
        imap = self.client()
        try:
            imap.create(folder)
            for raw in messages:
                status, data = imap.append(folder, None, None, raw)
                assert status == "OK", data
        finally:
            imap.logout()

    def flags(self, folder: str) -> list[str]:
        """:returns: the flags of each message of ``folder``, in order."""
        imap = self.client()
        try:
            imap.select(folder, readonly=True)
            status, data = imap.fetch("1:*", "(FLAGS)")
            assert status == "OK", data
            return [item.decode() for item in data if isinstance(item, bytes)]
        finally:
            imap.logout()

    def mailbox(self, folder: str, unit: str = "DUK", name: str = "van-thu") -> MailboxConfig:
        return MailboxConfig(
            name=name,
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=PASSWORD,
            unit=unit,
            folder=folder,
            cafile=self.cafile,
        )


def _users() -> tuple[str, str, int, int]:
    """(internal user, login user, uid, gid) of the mail processes: the current user,
    or under root Debian's unprivileged ``dovecot``/``dovenull`` (Dovecot's login
    processes refuse to run as root)."""
    if os.getuid() != 0:
        name = pwd.getpwuid(os.getuid()).pw_name
        return name, name, os.getuid(), os.getgid()
    internal = pwd.getpwnam("dovecot")
    return "dovecot", "dovenull", internal.pw_uid, internal.pw_gid


CONFIG = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
auth_mechanisms = plain
auth_failure_delay = 0
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot serving IMAPS on a free loopback port, for the whole session."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        pytest.fail("Dovecot is not installed: run `make test-deps` (dovecot-imapd)")
    # A short path: Dovecot's unix sockets live under base_dir (108 bytes at most).
    base = Path(tempfile.mkdtemp(prefix="dv-", dir="/tmp"))
    base.chmod(0o755)
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(base / "key.pem"), "-out", str(base / "cert.pem"),
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    internal, login, uid, gid = _users()
    home = base / "home"
    home.mkdir()
    os.chown(home, uid, gid)
    port = free_port()
    config = base / "dovecot.conf"
    config.write_text(
        CONFIG.format(base=base, internal=internal, login=login, uid=uid, gid=gid, port=port)
    )
    proc = subprocess.Popen(  # noqa: S603
        [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server = Dovecot(port, str(base / "cert.pem"), base / "dovecot.log")
    deadline = time.monotonic() + 15
    while True:
        try:
            server.client().logout()
            break
        except (OSError, imaplib.IMAP4.error):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log = server.log.read_text() if server.log.exists() else ""
                pytest.fail(
                    f"Dovecot did not start: {proc.stderr.read() if proc.stderr else ''}{log}"
                )
            time.sleep(0.1)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def folder(dovecot: Dovecot) -> str:
    """A folder of this test's own in the session's mailbox."""
    return f"t{uuid.uuid4().hex[:12]}"


class Inbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


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


@pytest.fixture
def app(
    request: pytest.FixtureRequest,
    instance: Path,
    database_url: str,
    dovecot: Dovecot,
    folder: str,
    smtp: tuple[Inbox, int],
) -> Iterator[Flask]:
    """The application reading this test's folder and replying through the SMTP server."""
    box = dovecot.mailbox(folder)
    application = create_app(
        app_config(
            instance,
            DATABASE_URL=database_url,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=smtp[1],
            MAIL_FROM="vanthu@trinhky.local",
            MAX_UPLOAD_BYTES=40 * 1024 * 1024,
            MAIL_INTAKE=[{**box.__dict__}],
            **signature_level(request),
        )
    )
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()
