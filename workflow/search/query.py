"""workflow: full-text search over the index, Vietnamese-aware (the query is folded like
the text: "nghi quyet" finds "Nghị quyết", "dang uy" finds "Đảng ủy"), ranked, with
highlighted snippets, and the access rules applied inside the query: a row the caller
may not open is neither counted nor returned.

SQLite: FTS5 (bm25, title ×8, metadata ×3, text ×1). PostgreSQL: a weighted tsvector
of the folded text (``simple`` configuration) to match, ranked by ts_rank on the small
title-and-metadata vector. On both, the words as a phrase in the title come first. The folding is done in
Python on both, rather than with PostgreSQL's ``unaccent``: one folding for both
databases (the same answers, tested on both), no extension to install with superuser
rights, and a 1:1 map back to the original text for the highlighted snippets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import Session

from storage.models import Role, Unit, User
from storage.registry_models import IncomingEntry, WorkFile
from storage.search_models import FTS_TABLE, SearchEntry
from workflow.accounts import access
from workflow.files.extract import fold, fold_with_map
from workflow.records.workfiles import visible_workfiles
from workflow.registry import dispatch, incoming_queries

KINDS = ("document", "incoming", "workfile")
MAX_TERMS = 12
_WORD = re.compile(r"[0-9a-z]+")
COUNT_CAP = 1000
"""Results counted exactly; beyond, "more than 1000"."""
SNIPPET = 220
"""Characters of text around the first match."""


@dataclass(frozen=True)
class Filters:
    """What narrows a search besides its words."""

    kind: str | None = None
    doc_type: str | None = None
    state: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Hit:
    """One result the caller may open."""

    kind: str
    object_id: int
    title: str
    symbol: str | None
    doc_type: str | None
    state: str | None
    day: date | None
    meta: str
    snippet: str
    """Plain text around the first match (of the body, else of the metadata)."""
    snippet_html: str
    """The same, escaped, with every matched word in ``<mark>``."""
    title_html: str


@dataclass(frozen=True)
class Results:
    """A page of results and how many there are in all (visible ones only)."""

    query: str
    terms: tuple[str, ...]
    total: int
    hits: list[Hit]
    more: bool = False
    """More than :data:`COUNT_CAP` results (``total`` is then the cap)."""


def terms_of(query: str) -> tuple[str, ...]:
    """:returns: the folded words of a query (at most :data:`MAX_TERMS`)."""
    return tuple(_WORD.findall(fold(query or "")))[:MAX_TERMS]


# --- who may see what, as SQL ---------------------------------------------------------


def _led_units(session: Session, user: User) -> set[int]:
    """Units whose incoming documents ``user`` assigns (as in :func:`incoming_queries.can_see`)."""
    if not user.has_role(Role.APPROVER):
        return set()
    led = set()
    for unit in session.scalars(select(Unit)):
        if user.id in {u.id for u in incoming_queries.leaders_of(session, unit)}:
            led.add(unit.id)
    return led


def visible(session: Session, user: User) -> ColumnElement[bool]:
    """:returns: the condition on :class:`SearchEntry` rows ``user`` may open: the rules
    of ``access.visible_documents``, ``incoming_queries.can_see`` and
    ``workfiles.visible_workfiles``, as SQL."""
    if access.is_auditor(user):
        return true()
    docs = access.visible_document_ids(user)
    document = and_(SearchEntry.kind == "document", SearchEntry.object_id.in_(docs))
    if access.oversees(user):  # every unit's incoming register
        incoming: ColumnElement[bool] = SearchEntry.kind == "incoming"
    else:
        units = dispatch.clerk_units(session, user) | _led_units(session, user)
        handled = select(IncomingEntry.id).where(IncomingEntry.handling_document_id.in_(docs))
        incoming = and_(
            SearchEntry.kind == "incoming",
            or_(
                SearchEntry.unit_id.in_(units) if units else false(),
                SearchEntry.object_id.in_(handled),
            ),
        )
    files = select(WorkFile.id).where(
        WorkFile.id.in_(visible_workfiles(user).with_only_columns(WorkFile.id))
    )
    workfile = and_(SearchEntry.kind == "workfile", SearchEntry.object_id.in_(files))
    return or_(document, incoming, workfile)


# --- the query ----------------------------------------------------------------------


def _filtered(query: Select[Any], filters: Filters) -> Select[Any]:
    if filters.kind:
        query = query.where(SearchEntry.kind == filters.kind)
    if filters.doc_type:
        query = query.where(SearchEntry.doc_type == filters.doc_type)
    if filters.state:
        query = query.where(SearchEntry.state == filters.state)
    if filters.date_from:
        query = query.where(SearchEntry.day >= filters.date_from)
    if filters.date_to:
        query = query.where(SearchEntry.day <= filters.date_to)
    return query


def _fts5_query(terms: tuple[str, ...]) -> str:
    # Folded words are [0-9a-z]+, so quoting cannot be escaped from; the last word is a
    # prefix (people type "chuyen doi s...").
    return " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'


def _pg_query(terms: tuple[str, ...]) -> str:
    return " & ".join([*terms[:-1], f"{terms[-1]}:*"])


def search(
    session: Session,
    user: User,
    query: str,
    filters: Filters = Filters(),  # noqa: B008 - frozen
    limit: int = 20,
    offset: int = 0,
) -> Results:
    """:returns: the page ``offset``..``offset+limit`` of what ``user`` may open that
    matches every word of ``query`` (best first), and how many match in all."""
    terms = terms_of(query)
    if not terms:
        return Results(query, terms, 0, [])
    phrase = " ".join(terms)
    allowed = visible(session, user)
    # The ranking query reads ids and sort keys only (never the long text columns), the
    # page's rows are read by id afterwards.
    if session.get_bind().dialect.name == "postgresql":
        tsq = func.to_tsquery(literal_column("'simple'::regconfig"), _pg_query(terms))
        match: ColumnElement[bool] = SearchEntry.tsv.op("@@")(tsq)
        score: Any = func.ts_rank(SearchEntry.tsv_head, tsq).desc()
        boost = case((func.strpos(SearchEntry.fold_title, phrase) > 0, 1), else_=0)
        ranked = select(SearchEntry.id).where(match)
        counted = select(SearchEntry.id).where(match)
    else:
        fts = table(FTS_TABLE, column("rowid"))
        match = literal_column(FTS_TABLE).op("MATCH")(_fts5_query(terms))
        score = literal_column(f"bm25({FTS_TABLE}, 8.0, 3.0, 1.0)").asc()
        # The words as a phrase in the title: another FTS look-up, not a read of the row.
        in_title = literal_column(FTS_TABLE).op("MATCH")(f'fold_title : "{phrase}"*')
        titled = select(fts.c.rowid).where(in_title)
        boost = case((SearchEntry.id.in_(titled), 1), else_=0)
        join = SearchEntry.id == fts.c.rowid
        ranked = select(SearchEntry.id).select_from(fts).join(SearchEntry, join).where(match)
        counted = select(SearchEntry.id).select_from(fts).join(SearchEntry, join).where(match)
    # Counted exactly up to COUNT_CAP (a page says "more than 1000"): counting every
    # match of a word found in most documents would cost more than the page itself.
    capped = _filtered(counted.where(allowed), filters).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    ids = list(
        session.scalars(
            _filtered(ranked.where(allowed), filters)
            .order_by(boost.desc(), score, SearchEntry.day.desc(), SearchEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    by_id = {r.id: r for r in session.scalars(select(SearchEntry).where(SearchEntry.id.in_(ids)))}
    rows = [by_id[i] for i in ids if i in by_id]
    hits = [_hit(row, terms) for row in rows]
    return Results(query, terms, min(int(total), COUNT_CAP), hits, int(total) > COUNT_CAP)


# --- snippets -----------------------------------------------------------------------


def _spans(original: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    folded, where = fold_with_map(original)
    spans: list[tuple[int, int]] = []
    for i, term in enumerate(terms):
        tail = "" if i == len(terms) - 1 else "(?![0-9a-z])"  # the last word is a prefix
        for found in re.finditer(rf"(?<![0-9a-z]){re.escape(term)}{tail}", folded):
            start, end = found.start(), found.end()
            spans.append((where[start], where[end - 1] + 1))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(original: str, terms: tuple[str, ...]) -> str:
    """:returns: ``original`` escaped, the words matching ``terms`` in ``<mark>``."""
    out: list[str] = []
    last = 0
    for start, end in _spans(original, terms):
        out.append(escape(original[last:start]))
        out.append(f"<mark>{escape(original[start:end])}</mark>")
        last = end
    out.append(escape(original[last:]))
    return "".join(out)


def snippet(original: str, terms: tuple[str, ...], width: int = SNIPPET) -> str:
    """:returns: about ``width`` characters of ``original`` around its first match."""
    spans = _spans(original, terms)
    if not spans:
        return original[:width].strip()
    first = spans[0][0]
    start = max(0, first - width // 3)
    while start > 0 and not original[start - 1].isspace() and first - start < width // 2:
        start -= 1
    piece = original[start : start + width]
    return (
        ("… " if start > 0 else "")
        + " ".join(piece.split())
        + (" …" if start + width < len(original) else "")
    )


def _window(original: str, folded: str, terms: tuple[str, ...]) -> str | None:
    """:returns: the part of ``original`` around the first term found in ``folded`` (its
    folding: nearly the same positions, so a generous window holds the match)."""
    found = [p for t in terms if (p := _first_word(folded, t)) >= 0]
    if not found:
        return None
    at = min(found)
    return original[max(0, at - 2 * SNIPPET) : at + 2 * SNIPPET]


def _first_word(folded: str, term: str) -> int:
    match = re.search(rf"(?<![0-9a-z]){re.escape(term)}", folded)
    return match.start() if match else -1


def _hit(row: SearchEntry, terms: tuple[str, ...]) -> Hit:
    window = _window(row.body, row.fold_body, terms)
    piece = snippet(window if window is not None else row.meta, terms)
    return Hit(
        kind=row.kind,
        object_id=row.object_id,
        title=row.title,
        symbol=row.symbol,
        doc_type=row.doc_type,
        state=row.state,
        day=row.day,
        meta=row.meta,
        snippet=piece,
        snippet_html=highlight(piece, terms),
        title_html=highlight(row.title, terms),
    )
