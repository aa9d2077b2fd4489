"""storage: the coverage ledger of the four digital-transformation targets (T1-T4) and
its aggregate queries.

One :class:`LedgerEntry` per (target, subject): the state an item counts with, the date
it counts on and the evidence behind the state. Figures are never computed by loading
entries: every query here is a ``GROUP BY`` served by one of the indexes below, so a
dashboard reads a few dozen aggregate rows whatever the number of entries.

States (the ``met`` ones count in the numerator; ``exempt`` is outside the denominator):

======  ===============================  ===========================  =========
target  met                              missed                       exempt
======  ===============================  ===========================  =========
T1      ``electronic``                   ``missing``                  ``exempt``
T2      ``signed_valid``                 ``signed_invalid``,          ``exempt``
                                         ``missing``
T3      ``online``                       ``offline``                  ``exempt``
T4      ``submitted`` (on time),         ``missing``                  ``exempt``
        ``late`` (online, after due)
======  ===============================  ===========================  =========
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
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
    extract,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Select

from storage.db import Base
from storage.types import UTCDateTime, utcnow

TARGETS = ("T1", "T2", "T3", "T4")
MET_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"electronic"}),
    "T2": frozenset({"signed_valid"}),
    "T3": frozenset({"online"}),
    "T4": frozenset({"submitted", "late"}),
}
MISS_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"missing"}),
    "T2": frozenset({"signed_invalid", "missing"}),
    "T3": frozenset({"offline"}),
    "T4": frozenset({"missing"}),
}
EXEMPT = "exempt"
STATES: dict[str, frozenset[str]] = {t: MET_STATES[t] | MISS_STATES[t] | {EXEMPT} for t in TARGETS}


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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(2))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    doc_type: Mapped[str | None] = mapped_column(String(8))
    period_date: Mapped[date] = mapped_column(Date)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
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
    """``T1`` .. ``T4``."""
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


def count_states(
    session: Session,
    start: date,
    end: date,
    unit_ids: Collection[int] | None = None,
    *,
    by_doc_type: bool = False,
) -> list[CountRow]:
    """Entries per target, unit (and document type) and state over a period.

    :param start: first day counted (inclusive).
    :param end: last day counted (inclusive).
    :param unit_ids: the units counted; None: every unit.
    :param by_doc_type: also group by document type.
    :returns: the aggregate rows (at most targets x units x types x states).
    """
    columns: list[Any] = [LedgerEntry.target, LedgerEntry.unit_id, LedgerEntry.state]
    if by_doc_type:
        columns.append(LedgerEntry.doc_type)
    query = _scope(select(*columns, func.count()), start, end, unit_ids).group_by(*columns)
    rows = session.execute(query).all()
    return [CountRow(r[0], r[1], r[3] if by_doc_type else None, r[2], int(r[-1])) for r in rows]


def count_months(
    session: Session, start: date, end: date, unit_ids: Collection[int] | None = None
) -> list[MonthRow]:
    """Entries per target, month, unit and state over a period (the trend chart).

    :returns: the aggregate rows.
    """
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
    query = _scope(
        select(LedgerEntry.target, reason, func.count()).where(LedgerEntry.state == EXEMPT),
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


def entries_for(session: Session, target: str, subject_kind: str) -> dict[int, LedgerEntry]:
    """:returns: the existing entries of one target and subject kind, by subject id."""
    rows = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.target == target, LedgerEntry.subject_kind == subject_kind
        )
    )
    return {e.subject_id: e for e in rows}


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
