"""workflow: accounts use-cases: password login with lock-out, API tokens, users."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.audit import AuditAction
from storage.models import ApiToken, RoleAssignment, Unit, User
from storage.types import utcnow
from workflow.i18n import N_

BAD_CREDENTIALS = N_("Tên đăng nhập hoặc mật khẩu không đúng.")
# A hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = PasswordHasher().hash("trinhky-no-such-user")


@dataclass(frozen=True)
class LoginResult:
    """Outcome of a password check; failures are results, committed by the caller."""

    user: User | None
    """The authenticated user, or ``None``."""
    error: str | None = None
    """The reason, in the request's language, when ``user`` is ``None``."""
    locked: bool = False
    """Whether the failure is a lock-out (HTTP 429) rather than bad credentials."""


def authenticate(
    session: Session,
    hasher: PasswordHasher,
    username: str,
    password: str,
    *,
    max_failures: int,
    lock_seconds: int,
    via: str,
) -> LoginResult:
    """Check a username and password; count failures and lock the account after too many.

    :param via: ``"web"`` or ``"api"``, recorded in the audit log.
    """
    now = utcnow()
    user = session.scalars(select(User).where(User.username == (username or "").strip())).first()
    if user is None:
        _verify(hasher, _DUMMY_HASH, password)
        audit.append(
            session,
            AuditAction.LOGIN_FAILED,
            actor_id=None,
            object_type="user",
            details={"username": (username or "")[:64], "via": via, "reason": "unknown_user"},
        )
        return LoginResult(None, _(BAD_CREDENTIALS))
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(
            None,
            _(
                "Tài khoản tạm khóa do đăng nhập sai nhiều lần. Hãy thử lại sau %(minutes)s phút.",
                minutes=minutes,
            ),
            locked=True,
        )
    if not user.active or not _verify(hasher, user.password_hash, password):
        user.failed_logins += 1
        reason = "inactive" if not user.active else "bad_password"
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(seconds=lock_seconds)
            user.failed_logins = 0
            reason = "locked"
        audit.append(
            session,
            AuditAction.LOGIN_FAILED,
            actor_id=user.id,
            object_type="user",
            object_id=user.id,
            details={"via": via, "reason": reason},
        )
        return LoginResult(None, _(BAD_CREDENTIALS))
    user.failed_logins = 0
    user.locked_until = None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    audit.append(
        session,
        AuditAction.LOGIN,
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"via": via},
    )
    return LoginResult(user)


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """:returns: the SHA-256 under which a bearer token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl_seconds: int) -> tuple[str, datetime]:
    """Create an API token; only its digest is stored.

    :returns: the token (shown once) and its expiry.
    """
    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=ttl_seconds)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires))
    audit.append(
        session,
        AuditAction.TOKEN_ISSUED,
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"expires_at": expires.isoformat()},
    )
    return token, expires


def user_for_token(session: Session, token: str) -> User | None:
    """:returns: the active user owning a valid, unexpired token, or ``None``."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def create_user(
    session: Session,
    hasher: PasswordHasher,
    *,
    username: str,
    full_name: str,
    password: str,
    title: str = "",
    email: str | None = None,
    roles: list[tuple[str, Unit]] | None = None,
    actor_id: int | None = None,
) -> User:
    """Create a user with argon2-hashed password and roles per unit (caller commits)."""
    user = User(
        username=username,
        full_name=full_name,
        title=title,
        email=email,
        password_hash=hasher.hash(password),
    )
    for role, unit in roles or []:
        user.roles.append(RoleAssignment(role=role, unit=unit))
    session.add(user)
    session.flush()
    audit.append(
        session,
        AuditAction.USER_CREATED,
        actor_id=actor_id,
        object_type="user",
        object_id=user.id,
        details={"username": username, "roles": [[r, u.code] for r, u in roles or []]},
    )
    return user
