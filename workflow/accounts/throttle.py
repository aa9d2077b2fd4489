"""workflow: login throttling that cannot be turned against the account's owner.

Failures are counted under two keys, in the database (every worker and host shares them):

- the account *from one source* (``acct:<username>|src:<address>``): after
  ``free_failures`` each further try from that source waits 1 s, 2 s, 4 s... up to
  ``max_delay``. Another source (the owner at their desk) is not slowed down at all, so
  nobody can lock anyone out;
- the source itself (``src:<address>``): ``source_max`` failures in a window, whatever the
  usernames, and that source waits for the window's end (password spraying).

Keys use the username as typed (trimmed, lower case), never whether it exists: an
unknown name is throttled exactly like a known one, so the answers do not tell them apart.
Flask-Limiter was considered: its storages (memory, Redis, Memcached, MongoDB) have no
SQL backend, and the embedded default has only the database to share state in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import LoginThrottle

MAX_KEY = 160


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, and how long the waits grow."""

    free_failures: int = 5
    """Failures of one account from one source before the waits start."""
    max_delay: int = 15 * 60
    """Longest wait (seconds) of one account from one source; also the quiet spell after
    which its count starts again."""
    source_max: int = 30
    """Failures one source may make in a window before it waits for the window's end."""
    source_window: int = 15 * 60
    """The source's window (seconds)."""


def account_key(username: str, source: str) -> str:
    """:returns: the key of ``username`` tried from ``source``."""
    return f"acct:{(username or '').strip().lower()[:64]}|src:{source[:64]}"[:MAX_KEY]


def source_key(source: str) -> str:
    """:returns: the key of a source address."""
    return f"src:{source[:64]}"


def retry_after(session: Session, keys: list[str], now: datetime) -> int:
    """:returns: seconds until every key may try again (0: now)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    waits = [
        (row.blocked_until - now).total_seconds()
        for row in rows
        if row.blocked_until is not None and row.blocked_until > now
    ]
    return math.ceil(max(waits)) if waits else 0


def _row(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The key's row, created if missing (concurrent first failures: one insert wins),
    locked for this transaction."""
    dialect = session.get_bind().dialect.name
    values = {"key": key, "failures": 0, "window_start": now}
    if dialect == "postgresql":
        session.execute(postgresql.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    return session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def record_failure(
    session: Session, username: str, source: str, now: datetime, policy: ThrottlePolicy
) -> None:
    """Count a failed login of ``username`` from ``source`` (caller commits)."""
    pair = _row(session, account_key(username, source), now)
    if now - pair.window_start > timedelta(seconds=policy.max_delay):
        pair.failures = 0
    pair.failures += 1
    pair.window_start = now  # the last failure: a quiet spell from here clears the count
    beyond = pair.failures - policy.free_failures
    if beyond >= 0:
        delay = policy.max_delay if beyond >= 30 else min(2**beyond, policy.max_delay)
        pair.blocked_until = now + timedelta(seconds=delay)

    src = _row(session, source_key(source), now)
    if now - src.window_start > timedelta(seconds=policy.source_window):
        src.failures = 0
        src.window_start = now
        src.blocked_until = None
    src.failures += 1
    if src.failures >= policy.source_max:
        src.blocked_until = src.window_start + timedelta(seconds=policy.source_window)


def record_success(
    session: Session, username: str, source: str, now: datetime, policy: ThrottlePolicy
) -> None:
    """Clear the count of ``username`` from ``source`` (the source's own count stays),
    and forget every count that has gone quiet (a login is rarer than a failure, and
    keeps the table to the recent ones without a job of its own)."""
    row = session.get(LoginThrottle, account_key(username, source))
    if row is not None:
        session.delete(row)
    quiet = now - timedelta(seconds=max(policy.max_delay, policy.source_window))
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start < quiet,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until < now),
        )
    )
