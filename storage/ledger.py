"""storage: the coverage ledger of the four digital-transformation targets (T1-T4) and
its aggregate queries.

One :class:`LedgerEntry` per (target, subject): the state an item counts with, the date
it counts on and the evidence behind the state. Figures are never computed by loading
entries. Over whole months (every period the dashboard offers) they are sums of the
summary rows of :mod:`storage.ledger_counts`, maintained in the transaction that writes
the entries: a year reads a few thousand rows whatever the number of entries. Any other
range, the exemptions and the misses are ``GROUP BY`` queries on the entries, served by
the indexes below.

States (the ``met`` ones count in the numerator, the ``missed`` ones in the denominator
only; ``exempt`` and the ``outside`` states are in neither). T1 is counted per delivery
(``T1``, one entry per document and receiving organisation: the headline figure) and per
document (``T1D``, one entry per document exchanged):

======  =====================  ==========================  =========  ==================
target  met                    missed                      exempt     outside
======  =====================  ==========================  =========  ==================
T1,     ``electronic``         ``missing``                 ``exempt`` ``pending`` (awaiting
T1D                                                                   dispatch),
                                                                      ``internal`` (not
                                                                      exchanged, or
                                                                      counted elsewhere),
                                                                      T1: ``dispatched``
                                                                      (a document awaited,
                                                                      then sent: counted
                                                                      per delivery)
T2      ``signed_valid``       ``signed_invalid``,         ``exempt``
                               ``missing``
T3      ``online``             ``offline``                 ``exempt``
T4      ``submitted`` (on      ``missing``                 ``exempt`` ``pending`` (not due
        time), ``late``                                               yet)
        (received, sent
        after due)
======  =====================  ==========================  =========  ==================
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    extract,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Select

from storage import tlog
from storage.db import Base
from storage.ledger_counts import LedgerCount, month_of, track
from storage.models import AuditEvent
from storage.types import UTCDateTime, utcnow

TARGETS = ("T1", "T2", "T3", "T4")
"""The four targets (the figures)."""
T1_DOCUMENTS = "T1D"
"""T1 counted per document (``T1`` itself counts per delivery)."""
LEDGER_TARGETS = ("T1", T1_DOCUMENTS, "T2", "T3", "T4")
"""Every target code of the entries."""
MET_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"electronic"}),
    T1_DOCUMENTS: frozenset({"electronic"}),
    "T2": frozenset({"signed_valid"}),
    "T3": frozenset({"online"}),
    "T4": frozenset({"submitted", "late"}),
}
MISS_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"missing"}),
    T1_DOCUMENTS: frozenset({"missing"}),
    "T2": frozenset({"signed_invalid", "missing"}),
    "T3": frozenset({"offline"}),
    "T4": frozenset({"missing"}),
}
OUTSIDE_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"pending", "internal", "dispatched"}),
    T1_DOCUMENTS: frozenset({"pending", "internal"}),
    "T2": frozenset(),
    "T3": frozenset(),
    "T4": frozenset({"pending"}),
}
"""Recorded, but outside the figure (not yet due, not an exchange, counted elsewhere)."""
EXEMPT = "exempt"
STATES: dict[str, frozenset[str]] = {
    t: MET_STATES[t] | MISS_STATES[t] | OUTSIDE_STATES[t] | {EXEMPT} for t in LEDGER_TARGETS
}
EXEMPT_CONDITION = "state = 'exempt'"
"""Predicate of the partial index of the exempt entries (the queries spell it inline)."""


class LedgerEntry(Base):
    """How one subject (document, incoming entry, work file, report obligation) counts
    towards one target."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("target", "subject_kind", "subject_id", name="uq_ledger_subject"),
        # Per target and unit over a period (figures of one unit, per-unit charts).
        Index("ix_ledger_target_unit_period_state", "target", "unit_id", "period_date", "state"),
        # Covering index of the whole-organisation aggregates over a period.
        Index(
            "ix_ledger_period_target_unit_state",
            "period_date",
            "target",
            "unit_id",
            "state",
            "doc_type",
        ),
        # The misses list: one target, missed states, newest first.
        Index("ix_ledger_target_state_period", "target", "state", "period_date"),
        # Exemptions by reason: covering, over the exempt entries only.
        Index(
            "ix_ledger_exempt_period_reason",
            "period_date",
            "target",
            "unit_id",
            "exempt_reason",
            "state",
            postgresql_where=text(EXEMPT_CONDITION),
            sqlite_where=text(EXEMPT_CONDITION),
        ),
    )

    # The key of the entry's counter row (storage.ledger_counts): the old value is loaded
    # before a change (active_history), so that the counts can move the entry.
    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(4), active_history=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), active_history=True)
    doc_type: Mapped[str | None] = mapped_column(String(8), active_history=True)
    period_date: Mapped[date] = mapped_column(Date, active_history=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), active_history=True)
    # Number and symbol (documents) or code (work files, reports) and subject line.
    label: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    # Why the subject misses the target (Vietnamese), for the drill-down.
    reason: Mapped[str | None] = mapped_column(Text)
    exempt_reason: Mapped[str | None] = mapped_column(String(255))
    exempt_decision: Mapped[str | None] = mapped_column(Text)
    exempt_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # SHA-256 of the issued PDF as read when the state was decided (T1/T2 documents).
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))


track(LedgerEntry)

LEDGER_FIELDS = (
    "id",
    "target",
    "subject_kind",
    "subject_id",
    "unit_id",
    "doc_type",
    "period_date",
    "state",
    "label",
    "title",
    "reason",
    "exempt_reason",
    "exempt_decision",
    "exempt_approved_by_id",
    "evidence",
    "pdf_sha256",
)
"""The columns of an entry that the digest covers, in this order."""

_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def ledger_line(values: dict[str, Any]) -> bytes:
    """:param values: one entry's :data:`LEDGER_FIELDS` (``period_date`` a date or ISO text).
    :returns: its canonical line: compact JSON array with sorted object keys, UTF-8, ``\\n``.
    """
    row = [values[name] for name in LEDGER_FIELDS]
    period = row[LEDGER_FIELDS.index("period_date")]
    if not isinstance(period, str):
        row[LEDGER_FIELDS.index("period_date")] = period.isoformat()
    return (_ENCODER.encode(row) + "\n").encode()


tlog.track_ledger(LedgerEntry, LEDGER_FIELDS, ledger_line)


class LedgerExemption(Base):
    """A T2 exemption under a special rule of a competent authority: never deleted."""

    __tablename__ = "ledger_exemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True)
class CountRow:
    """One aggregate row: how many entries of a target are in a state."""

    target: str
    """``T1`` .. ``T4``, ``T1D``."""
    unit_id: int
    """Unit the entries count for."""
    doc_type: str | None
    """Document type (only when grouped by type, else None)."""
    state: str
    """Ledger state."""
    count: int
    """Number of entries."""


@dataclass(frozen=True)
class MonthRow:
    """One aggregate row of the monthly trend."""

    target: str
    """``T1`` .. ``T4``."""
    year: int
    """Calendar year of ``period_date``."""
    month: int
    """Month (1-12) of ``period_date``."""
    unit_id: int
    """Unit the entries count for."""
    state: str
    """Ledger state."""
    count: int
    """Number of entries."""


_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


def _scope(query: _Q, start: date, end: date, unit_ids: Collection[int] | None) -> _Q:
    query = query.where(LedgerEntry.period_date >= start, LedgerEntry.period_date <= end)
    if unit_ids is not None:
        query = query.where(LedgerEntry.unit_id.in_(sorted(unit_ids)))
    return query


def whole_months(start: date, end: date) -> tuple[int, int] | None:
    """:returns: the first and last months (``202601``, ``202612``) when ``start`` is the
    first day of a month and ``end`` the last day of one, else None."""
    if start.day != 1 or (end + timedelta(days=1)).day != 1 or end < start:
        return None
    return month_of(start), month_of(end)


def _counted(months: tuple[int, int], unit_ids: Collection[int] | None, *columns: Any) -> Any:
    """``SELECT columns, SUM(entries)`` of the counter rows over whole months."""
    total = func.sum(LedgerCount.entries)
    query = (
        select(*columns, total)
        .where(LedgerCount.period_month >= months[0], LedgerCount.period_month <= months[1])
        .group_by(*columns)
        .having(total != 0)
    )
    if unit_ids is not None:
        query = query.where(LedgerCount.unit_id.in_(sorted(unit_ids)))
    return query


def count_states(
    session: Session,
    start: date,
    end: date,
    unit_ids: Collection[int] | None = None,
    *,
    by_doc_type: bool = False,
    use_counts: bool = True,
) -> list[CountRow]:
    """Entries per target, unit (and document type) and state over a period.

    :param start: first day counted (inclusive).
    :param end: last day counted (inclusive).
    :param unit_ids: the units counted; None: every unit.
    :param by_doc_type: also group by document type.
    :param use_counts: read the summary counts when the period is whole months (False:
        always group the entries; the same rows, for checks and benchmarks).
    :returns: the aggregate rows (at most targets x units x types x states).
    """
    months = whole_months(start, end) if use_counts else None
    if months is not None:
        c = LedgerCount
        columns: list[Any] = [c.target, c.unit_id, c.state]
        if by_doc_type:
            columns.append(c.doc_type)
        rows = session.execute(_counted(months, unit_ids, *columns)).all()
        return [
            CountRow(r[0], r[1], (r[3] or None) if by_doc_type else None, r[2], int(r[-1]))
            for r in rows
        ]
    e = LedgerEntry
    columns = [e.target, e.unit_id, e.state]
    if by_doc_type:
        columns.append(e.doc_type)
    query = _scope(select(*columns, func.count()), start, end, unit_ids).group_by(*columns)
    rows = session.execute(query).all()
    return [CountRow(r[0], r[1], r[3] if by_doc_type else None, r[2], int(r[-1])) for r in rows]


def count_months(
    session: Session,
    start: date,
    end: date,
    unit_ids: Collection[int] | None = None,
    *,
    use_counts: bool = True,
) -> list[MonthRow]:
    """Entries per target, month, unit and state over a period (the trend chart).

    :param use_counts: as for :func:`count_states`.
    :returns: the aggregate rows.
    """
    months = whole_months(start, end) if use_counts else None
    if months is not None:
        c = LedgerCount
        query = _counted(months, unit_ids, c.target, c.period_month, c.unit_id, c.state)
        return [
            MonthRow(r[0], r[1] // 100, r[1] % 100, r[2], r[3], int(r[4]))
            for r in session.execute(query).all()
        ]
    year = extract("year", LedgerEntry.period_date)
    month = extract("month", LedgerEntry.period_date)
    columns: list[Any] = [LedgerEntry.target, year, month, LedgerEntry.unit_id, LedgerEntry.state]
    query = _scope(select(*columns, func.count()), start, end, unit_ids).group_by(*columns)
    return [
        MonthRow(r[0], int(r[1]), int(r[2]), r[3], r[4], int(r[5]))
        for r in session.execute(query).all()
    ]


def count_exempt_reasons(
    session: Session, start: date, end: date, unit_ids: Collection[int] | None = None
) -> list[tuple[str, str, int]]:
    """Exempt entries per target and reason over a period.

    :returns: ``(target, reason, count)`` rows.
    """
    reason = func.coalesce(LedgerEntry.exempt_reason, "")
    # The value inline (not a bound parameter), so that SQLite and PostgreSQL's generic
    # plans can prove the partial index's predicate.
    exempt = LedgerEntry.state == bindparam("exempt", EXEMPT, literal_execute=True)
    query = _scope(
        select(LedgerEntry.target, reason, func.count()).where(exempt),
        start,
        end,
        unit_ids,
    ).group_by(LedgerEntry.target, reason)
    return [(r[0], r[1], int(r[2])) for r in session.execute(query).all()]


def missed_entries(
    session: Session,
    target: str,
    start: date,
    end: date,
    unit_ids: Collection[int] | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[LedgerEntry], int]:
    """The entries of ``target`` in a missed state, newest first, one page.

    :returns: the page and the total number of misses.
    """
    base = _scope(
        select(LedgerEntry).where(
            LedgerEntry.target == target, LedgerEntry.state.in_(sorted(MISS_STATES[target]))
        ),
        start,
        end,
        unit_ids,
    )
    total = session.scalar(base.with_only_columns(func.count()).order_by(None)) or 0
    page = session.scalars(
        base.order_by(LedgerEntry.period_date.desc(), LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return page, int(total)


def entries_for(
    session: Session,
    target: str,
    subject_kind: str,
    subject_ids: Collection[int] | None = None,
) -> dict[int, LedgerEntry]:
    """:param subject_ids: only these subjects (None: all of them).
    :returns: the existing entries of one target and subject kind, by subject id."""
    query = select(LedgerEntry).where(
        LedgerEntry.target == target, LedgerEntry.subject_kind == subject_kind
    )
    if subject_ids is not None:
        if not subject_ids:
            return {}
        query = query.where(LedgerEntry.subject_id.in_(sorted(subject_ids)))
    return {e.subject_id: e for e in session.scalars(query)}


def find_entry(
    session: Session, target: str, subject_kind: str, subject_id: int
) -> LedgerEntry | None:
    """:returns: the entry of one subject for one target, if any."""
    return session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.target == target,
            LedgerEntry.subject_kind == subject_kind,
            LedgerEntry.subject_id == subject_id,
        )
    ).first()


def exemptions(
    session: Session, document_ids: Collection[int] | None = None
) -> dict[int, LedgerExemption]:
    """:returns: the recorded special-rule exemptions, by document id."""
    query = select(LedgerExemption)
    if document_ids is not None:
        query = query.where(LedgerExemption.document_id.in_(sorted(document_ids)))
    return {e.document_id: e for e in session.scalars(query)}


def last_recorded(session: Session, action: str) -> datetime | None:
    """:param action: an audit action (the ledger's full refresh).
    :returns: the time of its newest audit entry (served by the index on the action),
        None if it was never recorded."""
    moment: datetime | None = session.scalar(
        select(func.max(AuditEvent.at)).where(AuditEvent.action == action)
    )
    return moment
