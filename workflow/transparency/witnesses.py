"""workflow: witnesses of the transparency log: other parties (another committee's
TrinhKy, the superior committee, an e-mail archive's webhook) that receive every signed
tree head, so that a rewritten log would have to fool them too.

Each tree head is POSTed as JSON to each active witness with the header
``X-TrinhKy-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``; a
failed delivery is retried by the scheduler (``log-witnesses`` job) with growing delays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import User
from storage.tlog_models import LogDelivery, LogTreeHead, LogWitness
from workflow.errors import InvalidInputError, NotFoundError

HEADER = "X-TrinhKy-Signature"
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)
"""Delay after the 1st, 2nd... failed attempt; after the last one the delivery fails."""
TIMEOUT = 10.0
"""Seconds one attempt may take."""

Post = Callable[[str, bytes, dict[str, str]], int]
"""Sends a body to a URL with headers; returns the HTTP status (raises ``OSError`` when
the witness cannot be reached)."""


def signature_header(secret: str, body: bytes, t: int) -> str:
    """:returns: the ``X-TrinhKy-Signature`` value of ``body`` sent at unix time ``t``."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def check_signature(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """What a witness does: :returns: whether ``header`` signs ``body`` with ``secret``,
    sent within ``tolerance`` seconds of ``now``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature_header(secret, body, t).split("v1=", 1)[1]
    return abs(now - t) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def add_witness(
    session: Session, actor: User | None, name: str, url: str
) -> tuple[LogWitness, str]:
    """Register a witness (the caller commits); audited.

    :returns: the witness and its secret (shown once).
    :raises InvalidInputError: no name, or the URL is not http(s).
    """
    name = name.strip()
    parts = urlsplit(url.strip())
    if not name:
        raise InvalidInputError("Hãy nhập tên bên chứng kiến (ví dụ: Đảng ủy cấp trên).")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(
            "Địa chỉ nhận của bên chứng kiến phải là một URL http:// hoặc https:// đầy đủ."
        )
    secret = secrets.token_hex(32)
    witness = LogWitness(name=name, url=url.strip(), secret=secret, active=True)
    session.add(witness)
    session.flush()
    audit.append(
        session,
        "log:witness_added",
        actor_id=actor.id if actor is not None else None,
        object_type="log_witness",
        object_id=witness.id,
        details={"name": name, "url": witness.url},  # never the secret
    )
    return witness, secret


def deactivate_witness(session: Session, actor: User | None, witness_id: int) -> LogWitness:
    """Stop sending tree heads to a witness (kept, with its deliveries); audited.

    :raises NotFoundError: no such witness.
    """
    witness = session.get(LogWitness, witness_id)
    if witness is None:
        raise NotFoundError("Không tìm thấy bên chứng kiến.")
    witness.active = False
    audit.append(
        session,
        "log:witness_removed",
        actor_id=actor.id if actor is not None else None,
        object_type="log_witness",
        object_id=witness.id,
        details={"name": witness.name},
    )
    return witness


def list_witnesses(session: Session) -> list[LogWitness]:
    """:returns: every witness, oldest first."""
    return list(session.scalars(select(LogWitness).order_by(LogWitness.id)))


def owe(session: Session, head: LogTreeHead, now: datetime) -> int:
    """Owe ``head`` to every active witness (the caller commits). :returns: how many."""
    active = session.scalars(select(LogWitness).where(LogWitness.active.is_(True))).all()
    for witness in active:
        session.add(LogDelivery(witness_id=witness.id, tree_head_id=head.id, next_attempt_at=now))
    session.flush()
    return len(active)


def body_of(head_document: dict[str, object]) -> bytes:
    """:returns: the JSON body sent to witnesses (``{"tree_head": ...}``)."""
    return json.dumps({"tree_head": head_document}, ensure_ascii=False, sort_keys=True).encode()


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The real :data:`Post`: urllib, :data:`TIMEOUT`, no redirects followed."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - admin URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def deliver_due(
    session: Session,
    now: datetime,
    head_document: Callable[[LogTreeHead], dict[str, object]],
    post: Post = http_post,
) -> tuple[int, int]:
    """Send every delivery that is due (the caller commits).

    :returns: (delivered, failed attempts).
    """
    due = session.scalars(
        select(LogDelivery)
        .where(LogDelivery.state == "pending", LogDelivery.next_attempt_at <= now)
        .order_by(LogDelivery.id)
    ).all()
    delivered = failed = 0
    for delivery in due:
        witness = session.get(LogWitness, delivery.witness_id)
        head = session.get(LogTreeHead, delivery.tree_head_id)
        if witness is None or head is None or not witness.active:
            continue
        body = body_of(head_document(head))
        headers = {
            "Content-Type": "application/json",
            HEADER: signature_header(witness.secret, body, int(now.timestamp())),
            "User-Agent": "TrinhKy-log-witness/1",
        }
        delivery.attempts += 1
        try:
            status: int | None = post(witness.url, body, headers)
            error = None if status is not None and 200 <= status < 300 else f"HTTP {status}"
        except OSError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        delivery.last_status = status
        delivery.last_error = error
        if error is None:
            delivery.state = "delivered"
            delivery.delivered_at = now
            delivered += 1
            continue
        failed += 1
        if delivery.attempts > len(RETRY_DELAYS):
            delivery.state = "failed"
        else:
            delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
    session.flush()
    return delivered, failed
