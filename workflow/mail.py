"""workflow: outgoing e-mail over SMTP (smtplib), configured from the app config.

The network enters here only; use-cases get a :class:`Mailer` passed in.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

# A plausible mailbox address (no display name, no list).
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")

log = logging.getLogger("trinhky.mail")


class MailError(Exception):
    """A message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class MailConfig:
    """Where and how to send e-mail."""

    server: str
    """SMTP host (``MAIL_SERVER``)."""
    port: int
    """SMTP port (``MAIL_PORT``, default 25)."""
    sender: str
    """The From address (``MAIL_FROM``)."""
    username: str | None = None
    """Login (``MAIL_USERNAME``), if the server needs one."""
    password: str | None = None
    """Password (``MAIL_PASSWORD``)."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS (``MAIL_STARTTLS``)."""
    timeout: float = 30.0
    """Seconds to wait for the server."""

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> MailConfig | None:
        """:returns: the settings in ``config``, or ``None`` when ``MAIL_SERVER`` is unset.

        :raises ValueError: a bad port, or no ``MAIL_FROM``.
        """
        server = str(config.get("MAIL_SERVER") or "").strip()
        if not server:
            return None
        sender = str(config.get("MAIL_FROM") or "").strip()
        if not sender:
            raise ValueError("MAIL_FROM is required when MAIL_SERVER is set")
        port = int(config.get("MAIL_PORT") or 25)
        if not 0 < port < 65536:
            raise ValueError(f"MAIL_PORT out of range: {port}")
        starttls = config.get("MAIL_STARTTLS")
        if isinstance(starttls, str):
            starttls = starttls.strip().lower() in ("1", "true", "yes", "on")
        return cls(
            server=server,
            port=port,
            sender=sender,
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            starttls=bool(starttls),
        )


class Mailer(Protocol):
    """Sends one plain-text message."""

    @property
    def enabled(self) -> bool:
        """Whether messages actually leave the server."""
        ...

    def send(self, to: str, subject: str, body: str) -> None:
        """Send ``body`` to ``to``; :raises MailError: the server refused or is down."""
        ...


def build_message(sender: str, to: str, subject: str, body: str) -> MIMEText:
    """:returns: a UTF-8 message: RFC 2047 subject, quoted-printable text.

    The subject is encoded with :class:`email.header.Header`: the folder of the newer
    ``email.policy.default`` drops a space that falls between two encoded words, which
    garbles long Vietnamese subjects.
    """
    charset = Charset("utf-8")
    charset.body_encoding = QP
    message = MIMEText(body, "plain", charset)  # type: ignore[arg-type]
    message["From"] = sender
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    return message


class SmtpMailer:
    """Sends through an SMTP server, one connection per message."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config

    @property
    def enabled(self) -> bool:
        return True

    def send(self, to: str, subject: str, body: str) -> None:
        config = self.config
        message = build_message(config.sender, to, subject, body)
        try:
            with smtplib.SMTP(config.server, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP {config.server}:{config.port}: {exc}") from exc


class NullMailer:
    """No SMTP server configured: reminders stay in-app; says so once."""

    def __init__(self) -> None:
        self._told = False

    @property
    def enabled(self) -> bool:
        return False

    def send(self, to: str, subject: str, body: str) -> None:
        if not self._told:
            log.info("MAIL_SERVER is not set: notifications stay in-app, no e-mail is sent")
            self._told = True


def mailer_from_config(config: Mapping[str, Any]) -> Mailer:
    """:returns: an SMTP mailer, or a :class:`NullMailer` when ``MAIL_SERVER`` is unset."""
    settings = MailConfig.from_mapping(config)
    return SmtpMailer(settings) if settings else NullMailer()
