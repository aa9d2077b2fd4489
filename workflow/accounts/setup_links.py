"""workflow: one-time links to choose a password (the first administrator, imported users).

A link carries a random token; only its SHA-256 is stored, with an expiry and the time
it was used. Following it once sets the password; the link then no longer works, nor
does any other open link of the same user. Every step is audited; neither a token nor a
password is ever written to the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.account_models import PasswordSetupToken
from storage.models import User
from storage.types import utcnow
from workflow.accounts.service import end_sessions
from workflow.errors import InvalidInputError, NotFoundError
from workflow.i18n import N_
from workflow.mail import Mailer, MailError

MIN_PASSWORD = 10
MAX_PASSWORD = 256
PATH = "/account/setup/"
"""Where a link points (``workflow.accounts.setup_web``)."""

INVALID_LINK = N_(
    "Đường dẫn đặt mật khẩu không hợp lệ, đã được dùng hoặc đã hết hạn. "
    "Hãy đề nghị quản trị hệ thống cấp đường dẫn mới."
)


@dataclass(frozen=True)
class SetupLink:
    """A link just issued: shown once, never stored."""

    user: User
    """Whose password it sets."""
    token: str
    """The secret part of the link."""
    url: str
    """The full link (``base_url`` + path + token)."""
    hours: int
    """How long it stays valid."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(
    session: Session,
    user: User,
    *,
    base_url: str,
    hours: int,
    actor_id: int | None,
    via: str,
) -> SetupLink:
    """Issue a one-time link for ``user`` (older open links of the user stop working).

    :param via: ``"cli"``, ``"init"``, ``"import"`` or ``"admin"``, recorded in the audit log.
    """
    now = utcnow()
    for older in _open_tokens(session, user.id):
        older.used_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordSetupToken(
            user_id=user.id,
            token_hash=_digest(token),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            created_by_id=actor_id,
        )
    )
    audit.append(
        session,
        "user:setup_link_issued",
        actor_id=actor_id,
        object_type="user",
        object_id=user.id,
        details={"username": user.username, "hours": hours, "via": via},
    )
    url = base_url.rstrip("/") + PATH + token
    return SetupLink(user, token, url, hours)


def _open_tokens(session: Session, user_id: int) -> list[PasswordSetupToken]:
    return list(
        session.scalars(
            select(PasswordSetupToken).where(
                PasswordSetupToken.user_id == user_id, PasswordSetupToken.used_at.is_(None)
            )
        )
    )


def find_link(session: Session, token: str) -> tuple[PasswordSetupToken, User]:
    """:returns: the open, unexpired link of ``token`` and its user.

    :raises NotFoundError: unknown, used or expired (one message for all three).
    """
    if not token or len(token) > 128:
        raise NotFoundError(INVALID_LINK)
    row = session.scalars(
        select(PasswordSetupToken).where(PasswordSetupToken.token_hash == _digest(token))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFoundError(INVALID_LINK)
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise NotFoundError(INVALID_LINK)
    return row, user


def set_password(
    session: Session, hasher: PasswordHasher, token: str, password: str, confirm: str
) -> User:
    """Use the link ``token`` to set the user's password; the link is spent, the user's
    web sessions end, their API tokens are revoked and their failed logins cleared. The
    caller commits.

    :raises NotFoundError: the link is unknown, used or expired.
    :raises InvalidInputError: the password is too short, too long or not confirmed.
    """
    row, user = find_link(session, token)
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInputError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > MAX_PASSWORD:
        raise InvalidInputError(f"Mật khẩu dài quá {MAX_PASSWORD} ký tự.")
    if password != confirm:
        raise InvalidInputError("Hai lần nhập mật khẩu không khớp.")
    now = utcnow()
    user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    for open_row in _open_tokens(session, user.id):
        open_row.used_at = now
    row.used_at = now
    revoked = end_sessions(session, user)  # old session cookies and API tokens stop working
    audit.append(
        session,
        "user:password_set",
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"username": user.username, "via": "setup_link", "tokens_revoked": revoked},
    )
    return user


def unusable_password_text() -> str:
    """:returns: a random password nobody is told: the account can log in only after
    its password is set through a link."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Sent:
    """What :func:`email_links` did."""

    sent: list[str]
    """Usernames whose link went out."""
    failed: list[str]
    """Usernames whose message the SMTP server refused."""
    no_address: list[str]
    """Usernames without an e-mail address (hand their link over otherwise)."""


def email_links(
    session: Session, mailer: Mailer, links: list[SetupLink], organisation: str
) -> Sent:
    """E-mail each link to its user's address (the one SMTP client); audited per user,
    without the link. The caller commits."""
    sent, failed, no_address = [], [], []
    for link in links:
        user = link.user
        if not user.email:
            no_address.append(user.username)
            continue
        body = (
            f"Kính gửi {user.full_name},\n\n"
            f"Tài khoản «{user.username}» của đồng chí trên hệ thống trình ký điện tử TrinhKy "
            f"({organisation}) đã được tạo. Hãy mở đường dẫn sau để tự đặt mật khẩu "
            f"(dùng được một lần, hiệu lực {link.hours} giờ):\n\n{link.url}\n\n"
            "Nếu đồng chí không chờ thư này, hãy báo quản trị hệ thống và không mở đường dẫn.\n"
        )
        try:
            mailer.send(user.email, "TrinhKy: đặt mật khẩu tài khoản", body)
        except MailError:
            failed.append(user.username)
            continue
        sent.append(user.username)
        audit.append(
            session,
            "user:setup_link_sent",
            actor_id=None,
            object_type="user",
            object_id=user.id,
            details={"username": user.username, "to": user.email},
        )
    return Sent(sent, failed, no_address)
