"""workflow: search requests (the query string, shared by the page and the API) and what
a result links to."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _

from workflow.errors import InvalidInputError
from workflow.search.query import KINDS, Filters, Hit

MAX_LIMIT = 100


def _day(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInputError(
            _("%(label)s phải có dạng NĂM-THÁNG-NGÀY, ví dụ 2026-03-15.", label=label)
        ) from exc


def parse(args: Any) -> tuple[str, Filters, int, int]:
    """:returns: the words, the filters, the limit and the offset of a search request.

    :raises InvalidInputError: a bad kind or date (explained in Vietnamese).
    """
    q = (args.get("q") or "").strip()[:500]
    kind = (args.get("kind") or "").strip() or None
    if kind is not None and kind not in KINDS:
        raise InvalidInputError(_("Loại kết quả phải là document, incoming hoặc workfile."))
    filters = Filters(
        kind=kind,
        doc_type=(args.get("doc_type") or "").strip() or None,
        state=(args.get("state") or "").strip() or None,
        date_from=_day(args.get("date_from"), _("Từ ngày")),
        date_to=_day(args.get("date_to"), _("Đến ngày")),
    )

    def number(name: str, default: int) -> int:
        try:
            return int(args.get(name) or default)
        except ValueError:
            return default

    limit = min(max(number("limit", 20), 1), MAX_LIMIT)
    offset = max(number("offset", 0), 0)
    return q, filters, limit, offset


ENDPOINTS = {
    "document": ("documents.detail", "document_id"),
    "incoming": ("registry.incoming_entry", "entry_id"),
    "workfile": ("records.workfile_detail", "workfile_id"),
}
"""The page of each kind of result: endpoint and its id argument."""


def endpoint(hit: Hit) -> tuple[str, dict[str, int]]:
    """:returns: the endpoint and arguments of a result's page."""
    name, arg = ENDPOINTS[hit.kind]
    return name, {arg: hit.object_id}
