"""workflow: outgoing e-mail over SMTP (smtplib): the one client, configured from
:class:`Settings`, for reminders and dispatch links alike.

The network enters here only; use-cases get a :class:`Mailer` passed in.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Protocol

from workflow.settings import Settings

# A plausible mailbox address (no display name, no list).
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")

log = logging.getLogger("trinhky.mail")


class MailError(Exception):
    """A message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class MailConfig:
    """Where and how to send e-mail (from the ``mail_*`` fields of :class:`Settings`)."""

    server: str
    """SMTP host (``MAIL_SERVER``)."""
    port: int
    """SMTP port (``MAIL_PORT``, default 25)."""
    sender: str
    """The From address (``MAIL_FROM``)."""
    username: str | None = None
    """Login (``MAIL_USERNAME``), if the server needs one."""
    password: str | None = field(default=None, repr=False)
    """Password (``MAIL_PASSWORD``)."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS (``MAIL_STARTTLS``)."""
    timeout: float = 30.0
    """Seconds to wait for the server."""

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig | None:
        """:returns: the mail settings, or ``None`` when no ``MAIL_SERVER`` is set."""
        if settings.mail_server is None:
            return None
        return cls(
            server=settings.mail_server,
            port=settings.mail_port,
            sender=settings.mail_from,
            username=settings.mail_username,
            password=settings.mail_password,
            starttls=settings.mail_starttls,
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
        where = f"SMTP {config.server}:{config.port}"
        try:
            with smtplib.SMTP(config.server, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"{where}: login refused for user {config.username!r} "
                f"(check MAIL_USERNAME and MAIL_PASSWORD): {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(
                f"{where}: {exc} (check MAIL_STARTTLS: the server may need or refuse it)"
            ) from exc
        except ssl.SSLError as exc:
            raise MailError(f"{where}: TLS failed ({exc.reason or exc})") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"{where}: {exc}") from exc


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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def mailer_for(settings: Settings) -> Mailer:
    """:returns: an SMTP mailer, or a :class:`NullMailer` when ``MAIL_SERVER`` is unset."""
    config = MailConfig.from_settings(settings)
    return SmtpMailer(config) if config else NullMailer()
