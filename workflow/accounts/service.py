"""workflow: accounts use-cases: password login (throttled, never locked), sessions, API
tokens, users."""

from __future__ import annotations

import functools
import hashlib
import math
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
from workflow.accounts import throttle
from workflow.accounts.throttle import ThrottlePolicy
from workflow.errors import NotFoundError
from workflow.i18n import N_

SESSION_GENERATION = "_generation"
"""Key of the web session holding the user's session generation at login."""
BAD_CREDENTIALS = N_("Tên đăng nhập hoặc mật khẩu không đúng.")


@functools.cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A hash to verify against when the user does not exist, made with the same cost
    as the users' own, so that the time does not tell."""
    return PasswordHasher(time_cost, memory_cost, parallelism).hash("trinhky-no-such-user")


@dataclass(frozen=True)
class LoginResult:
    """Outcome of a password check; failures are results, committed by the caller."""

    user: User | None
    """The authenticated user, or ``None``."""
    error: str | None = None
    """The reason, in the request's language, when ``user`` is ``None``."""
    retry_after: int = 0
    """Seconds to wait before trying again (HTTP 429) when throttled, else 0."""

    @property
    def locked(self) -> bool:
        """Whether the failure is a throttled try (HTTP 429) rather than bad credentials."""
        return self.retry_after > 0


def throttled_message(seconds: int) -> str:
    """:returns: the answer to a throttled try (the same for every username)."""
    if seconds >= 120:
        return _(
            "Đăng nhập sai quá nhiều lần từ máy này. Hãy thử lại sau %(n)s phút.",
            n=math.ceil(seconds / 60),
        )
    return _(
        "Đăng nhập sai quá nhiều lần từ máy này. Hãy thử lại sau %(n)s giây.", n=max(1, seconds)
    )


def authenticate(
    session: Session,
    hasher: PasswordHasher,
    username: str,
    password: str,
    *,
    source: str,
    policy: ThrottlePolicy,
    via: str,
) -> LoginResult:
    """Check a username and password, throttled per account and source (see
    :mod:`workflow.accounts.throttle`): the account itself is never locked, and the
    answer (message, status, and an argon2 verification's time) is the same whether the
    username exists or not.

    :param source: the client's address (``workflow.http.client_address``).
    :param via: ``"web"`` or ``"api"``, recorded in the audit log.
    """
    now = utcnow()
    name = (username or "").strip()
    wait = throttle.retry_after(
        session, [throttle.account_key(name, source), throttle.source_key(source)], now
    )
    user = session.scalars(select(User).where(User.username == name)).first() if name else None
    if wait:
        audit.append(
            session,
            AuditAction.LOGIN_FAILED,
            actor_id=user.id if user else None,
            object_type="user",
            object_id=user.id if user else None,
            details={"username": name[:64], "via": via, "reason": "throttled", "source": source},
        )
        return LoginResult(None, throttled_message(wait), retry_after=wait)
    # Always one argon2 verification, so that the time does not tell who exists.
    dummy = _dummy_hash(hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    good = _verify(hasher, user.password_hash if user else dummy, password)
    if user is None or not user.active or not good:
        throttle.record_failure(session, name, source, now, policy)
        reason = (
            "unknown_user" if user is None else "inactive" if not user.active else "bad_password"
        )
        audit.append(
            session,
            AuditAction.LOGIN_FAILED,
            actor_id=user.id if user else None,
            object_type="user",
            object_id=user.id if user else None,
            details={"username": name[:64], "via": via, "reason": reason, "source": source},
        )
        return LoginResult(None, _(BAD_CREDENTIALS))
    throttle.record_success(session, name, source, now, policy)
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    audit.append(
        session,
        AuditAction.LOGIN,
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"via": via, "source": source},
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


def token_owner(session: Session, token: str) -> tuple[ApiToken, User] | None:
    """:returns: the valid, unexpired token row of an active user and that user, or
    ``None`` (read together: the caller keeps the user it was given)."""
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_digest(token))
    ).first()
    if found is None:
        return None
    row, user = found[0], found[1]
    if row.revoked_at is not None or row.expires_at <= utcnow() or not user.active:
        return None
    return row, user


def token_row(session: Session, token: str) -> ApiToken | None:
    """:returns: the valid, unexpired token row of an active user, or ``None``."""
    found = token_owner(session, token)
    return None if found is None else found[0]


def user_for_token(session: Session, token: str) -> User | None:
    """:returns: the active user owning a valid, unexpired token, or ``None``."""
    found = token_owner(session, token)
    return None if found is None else found[1]


def live_tokens(session: Session, user: User) -> list[ApiToken]:
    """:returns: ``user``'s API tokens neither revoked nor expired, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > utcnow(),
            )
            .order_by(ApiToken.id.desc())
        )
    )


def revoke_own_token(session: Session, user: User, token_id: int, *, via: str) -> ApiToken:
    """Revoke one of ``user``'s own tokens (caller commits).

    :raises NotFoundError: no such live token of ``user`` (someone else's: the same answer).
    """
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFoundError(_("Không tìm thấy mã truy cập này trong các mã của bạn."))
    row.revoked_at = utcnow()
    audit.append(
        session,
        AuditAction.TOKEN_REVOKED,
        actor_id=user.id,
        object_type="api_token",
        object_id=row.id,
        details={"via": via},
    )
    return row


def end_sessions(session: Session, user: User) -> int:
    """End every web session of ``user`` (their cookies stop working) and revoke their API
    tokens: on logout, password reset and lock. The caller audits why and commits.

    :returns: how many tokens were revoked.
    """
    user.session_generation = (user.session_generation or 0) + 1
    now = utcnow()
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
    return len(tokens)


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
