"""workflow: delivering the outbox of webhook events: one HTTP POST per delivery, outside
any database transaction, then its outcome in a short one; retries with exponential
back-off until :attr:`Settings.webhook_max_attempts`, then ``failed`` (an administrator
may redeliver).

Deliveries are *at least once*: a host that dies between the POST and recording it
sends it again later, so receivers de-duplicate on ``X-TrinhKy-Delivery`` (or the
event's ``id``). Nothing is lost: a pending row stays pending until a 2xx is recorded,
across restarts.

Two ways in: the ``webhooks`` job (every minute by default) delivers whatever is due,
and, inside the server, :class:`Kicker` delivers a request's events right after its
transaction commits, on one background thread per process, so a receiver hears of an
issuance within a second, not at the next run.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.types import utcnow
from storage.webhook_models import WebhookDelivery
from workflow.services import Services
from workflow.settings import Settings
from workflow.webhooks import events, wire
from workflow.webhooks.vault import Vault, VaultError

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
USER_AGENT = "TrinhKy-Webhooks/1"


def backoff(attempts: int) -> timedelta:
    """:returns: the wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min...
    doubling, at most six hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


@dataclass(frozen=True)
class Answer:
    """How one POST went."""

    status: int | None
    """The HTTP status, or ``None`` when no answer came (refused, time-out)."""
    error: str | None
    """What went wrong, for the delivery log (no secrets)."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Poster = Callable[[str, wire.Outgoing, float], Answer]


def post(url: str, outgoing: wire.Outgoing, timeout: float) -> Answer:
    """POST ``outgoing`` to ``url`` (redirects are not followed: a webhook URL is exact)."""
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked at registration
        url, data=outgoing.body, headers={**outgoing.headers, "User-Agent": USER_AGENT}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, None)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, f"HTTP {exc.code} {exc.reason}"[:300])
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, f"{type(exc).__name__}: {reason}"[:300])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kw: object) -> None:
        return None


@dataclass
class Summary:
    """What a pass over the outbox did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def text(self) -> str:
        return (
            f"{self.delivered} sự kiện đã gửi; {self.retrying} chờ gửi lại; "
            f"{self.failed} bỏ sau số lần thử tối đa"
        )


class Deliverer:
    """Delivers outbox rows with its own short transactions."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        vault: Vault,
        poster: Poster = post,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions, self.settings, self.vault = sessions, settings, vault
        self.poster, self.clock = poster, clock

    @classmethod
    def of(cls, services: Services) -> Deliverer:
        """:returns: the deliverer of an application's services (the job's and the
        after-commit hook's alike)."""
        return cls(services.session_factory, services.settings, Vault(services.secret_key))

    def due(self, now: datetime, limit: int = 200) -> list[int]:
        """:returns: ids of the pending deliveries due at ``now``, oldest first."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(limit)
                )
            )

    def run(self, ids: Iterable[int], now: datetime | None = None) -> Summary:
        """Attempt each delivery that is still pending and due."""
        summary = Summary()
        for delivery_id in ids:
            outcome = self.attempt(delivery_id, now or self.clock())
            if outcome == "delivered":
                summary.delivered += 1
            elif outcome == "pending":
                summary.retrying += 1
            elif outcome == "failed":
                summary.failed += 1
        return summary

    def attempt(self, delivery_id: int, now: datetime) -> str | None:
        """POST one delivery, then record the outcome.

        :returns: its status afterwards, or ``None`` if it was not due (delivered
            meanwhile, or waiting for its next attempt).
        """
        with self.sessions() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None or row.status != "pending" or row.next_attempt_at > now:
                return None
            endpoint = row.endpoint
            url, kind, payload = endpoint.url, endpoint.kind, dict(row.payload)
            unreadable: str | None = None
            try:
                secret = self.vault.open(endpoint.secret_encrypted).encode("utf-8")
                options = self.vault.open_options(endpoint.options_encrypted)
            except VaultError as exc:
                secret, options, unreadable = b"", {}, str(exc)
            active = endpoint.active
        if not active:
            answer = Answer(None, "điểm nhận đã bị tắt")
        elif unreadable is not None:
            answer = Answer(None, unreadable)
        else:
            payload["delivery"] = delivery_id
            outgoing = wire.render(
                kind, payload, options, secret, int(now.timestamp()), self.settings.public_url
            )
            outgoing.headers["X-TrinhKy-Delivery"] = str(delivery_id)
            answer = self.poster(url, outgoing, self.settings.webhook_timeout)
        return self._record(delivery_id, answer, now, give_up=not active or bool(unreadable))

    def _record(self, delivery_id: int, answer: Answer, now: datetime, give_up: bool) -> str:
        with self.sessions() as session:
            row = session.get(WebhookDelivery, delivery_id)
            assert row is not None  # noqa: S101 - rows are never deleted
            if row.status != "pending":
                return row.status  # recorded meanwhile by another deliverer
            row.attempts += 1
            row.last_status = answer.status
            row.last_error = answer.error
            if answer.ok:
                row.status, row.delivered_at = "delivered", now
            elif give_up or row.attempts >= self.settings.webhook_max_attempts:
                row.status = "failed"
            else:
                row.next_attempt_at = now + backoff(row.attempts)
            status = row.status
            session.commit()
        if not answer.ok:
            log.info("webhook delivery %s: %s (%s)", delivery_id, answer.error, status)
        return status


class Kicker:
    """Delivers the events of a committed transaction at once, on one daemon thread per
    process (started on first use, so gunicorn's forked workers each get their own)."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer
        self._queue: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def after_commit(self, session: Session) -> None:
        """SQLAlchemy ``after_commit`` hook: hand over the deliveries the transaction made."""
        ids = session.info.pop(events.PENDING_KEY, None)
        if ids:
            self._start()
            self._queue.put(list(ids))

    @staticmethod
    def after_rollback(session: Session) -> None:
        """SQLAlchemy ``after_rollback`` hook: the transaction's deliveries are gone."""
        session.info.pop(events.PENDING_KEY, None)

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="webhooks", daemon=True).start()

    def _loop(self) -> None:
        while True:
            ids = self._queue.get()
            try:
                self.deliverer.run(ids)
            except Exception:  # noqa: BLE001 - the job retries whatever this missed
                log.exception("immediate webhook delivery failed; the job will retry")
