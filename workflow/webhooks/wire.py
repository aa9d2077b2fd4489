"""workflow: what goes over the wire to a webhook: the body in the endpoint's format
(TrinhKy's JSON event, a Zalo Official Account message, a Facebook Page post) and the
signature header (pure functions: no database, no network).

Signature: ``X-TrinhKy-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`` where the HMAC is
keyed with the endpoint's secret over ``"<t>." + body`` (the body's exact bytes). A
receiver recomputes it, compares in constant time and refuses a ``t`` older than a few
minutes (:func:`verify_signature` does all three), so a captured request cannot be
replayed later and a forged one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-TrinhKy-Signature"
KINDS: Mapping[str, str] = {
    "generic": "JSON (TrinhKy)",
    "zalo": "Zalo Official Account",
    "facebook": "Facebook Page (Graph API)",
}
"""Endpoint formats and their names."""
REQUIRED_OPTIONS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "generic": (),
    "zalo": (("access_token",), ("user_id", "group_id")),
    "facebook": (("access_token",),),
}
"""Per format, the option groups of which one key each must be given."""

TEXTS: Mapping[str, str] = {
    "issued": "Văn bản {symbol} được ban hành: {subject}",
    "published": "Văn bản {symbol} được công khai: {subject}",
    "dispatched": "Văn bản {symbol} đã được phát hành đến nơi nhận: {subject}",
    "received": "Đã tiếp nhận văn bản đến {symbol}: {subject}",
    "task_assigned": "Có việc mới: {subject}",
    "overdue": "Việc quá hạn: {subject}",
    "recalled": "Văn bản {symbol} đã bị thu hồi: {subject}",
}
"""The one-line message of each event for chat and page posts (Vietnamese, like the
groups they go to)."""


def signature_header(secret: bytes, body: bytes, timestamp: int) -> str:
    """:returns: the value of :data:`SIGNATURE_HEADER` for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: bytes, body: bytes, header: str, now: int, tolerance: int = 300
) -> bool:
    """:returns: whether ``header`` signs ``body`` with ``secret`` within ``tolerance``
    seconds of ``now`` (what a receiver does)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature_header(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass(frozen=True)
class Outgoing:
    """One HTTP request to an endpoint."""

    body: bytes
    headers: dict[str, str]


def message_text(payload: Mapping[str, Any], public_url: str | None) -> tuple[str, str | None]:
    """:returns: the event's one-line message and the link to its page, if the server
    has a public address."""
    doc = payload.get("document") or {}
    subject = doc.get("subject") or payload.get("subject") or ""
    text = TEXTS[payload["event"]].format(symbol=doc.get("symbol") or "", subject=subject)
    path = doc.get("path") or payload.get("path")
    link = f"{public_url.rstrip('/')}{path}" if public_url and path else None
    return " ".join(text.split()), link


def render(
    kind: str,
    payload: Mapping[str, Any],
    options: Mapping[str, str],
    secret: bytes,
    timestamp: int,
    public_url: str | None,
) -> Outgoing:
    """:returns: the request that delivers ``payload`` to an endpoint of ``kind``."""
    text, link = message_text(payload, public_url)
    body_obj: dict[str, Any]
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if kind == "zalo":
        # Zalo OA API v3 (POST https://openapi.zalo.me/v3.0/oa/message/cs, or
        # .../oa/group/message for a group): the OA's access token in a header.
        recipient = (
            {"group_id": options["group_id"]}
            if options.get("group_id")
            else {"user_id": options.get("user_id", "")}
        )
        body_obj = {
            "recipient": recipient,
            "message": {"text": f"{text}\n{link}" if link else text},
        }
        headers["access_token"] = options.get("access_token", "")
    elif kind == "facebook":
        # Graph API: POST https://graph.facebook.com/v21.0/<page-id>/feed with the Page
        # access token; "link" makes the post a link card.
        body_obj = {"message": text, "access_token": options.get("access_token", "")}
        if link:
            body_obj["link"] = link
    else:
        body_obj = dict(payload)
        if link:
            body_obj["url"] = link
    body = json.dumps(body_obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers[SIGNATURE_HEADER] = signature_header(secret, body, timestamp)
    headers["X-TrinhKy-Event"] = str(payload["event"])
    return Outgoing(body, headers)
