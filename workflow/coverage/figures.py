"""workflow: the coverage figures: periods, unit scopes, the four figures against
their targets (whole scope, per unit, per month, per document type), exemptions by
reason, and the misses drill-down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.ledger import (
    EXEMPT,
    LEDGER_TARGETS,
    MET_STATES,
    MISS_STATES,
    T1_DOCUMENTS,
    TARGETS,
    CountRow,
    MonthRow,
    count_exempt_reasons,
    count_months,
    count_states,
    last_recorded,
    missed_entries,
)
from storage.models import Unit
from workflow.coverage.rules import (
    DEFAULT_POLICY,
    MEASURE_DEFINITIONS,
    REFRESHED,
    STATE_LABELS,
    TARGET_LABELS,
    CoveragePolicy,
    t3_target,
    unit_level,
)
from workflow.errors import InvalidInputError, NotFoundError

BAD_PERIOD = "Kỳ thống kê không hợp lệ: ghi năm (2026), quý (2026-Q3) hoặc tháng (2026-09)."


@dataclass(frozen=True)
class Period:
    """A year, quarter or month."""

    code: str
    start: date
    end: date

    @property
    def year(self) -> int:
        """Calendar year of the period."""
        return self.start.year


def parse_period(text: str | None, today: date) -> Period:
    """:returns: the period named ``2026``, ``2026-Q3`` or ``2026-09`` (empty: this year).

    :raises InvalidInputError: anything else (Vietnamese message).
    """
    import calendar
    import re

    raw = (text or "").strip()
    if not raw:
        raw = str(today.year)
    match = re.fullmatch(r"(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?", raw)
    if match is None or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInputError(BAD_PERIOD, code="bad_period")
    year = int(match[1])
    if match[2]:
        q = int(match[2])
        last = 3 * q
        return Period(
            raw, date(year, last - 2, 1), date(year, last, calendar.monthrange(year, last)[1])
        )
    if match[3]:
        m = int(match[3])
        return Period(raw, date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1]))
    return Period(raw, date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class Scope:
    """The units a figure covers."""

    unit: Unit | None
    """The unit asked for (None: the whole organisation)."""
    unit_ids: frozenset[int] | None
    """It and its descendants (None: every unit, no filter)."""
    units: dict[int, Unit]
    """Every unit, by id (for names and levels)."""


def resolve_scope(session: Session, unit: str | None) -> Scope:
    """:returns: the scope of ``unit`` (id or code) with its descendants.

    :raises NotFoundError: no such unit.
    """
    units = {u.id: u for u in session.scalars(select(Unit))}
    raw = (unit or "").strip()
    if not raw:
        return Scope(None, None, units)
    chosen = units.get(int(raw)) if raw.isdigit() else None
    chosen = chosen or next((u for u in units.values() if u.code == raw), None)
    if chosen is None:
        raise NotFoundError(f"Không tìm thấy đơn vị '{raw}'.")
    ids = {chosen.id}
    grew = True
    while grew:
        more = {u.id for u in units.values() if u.parent_id in ids} - ids
        ids |= more
        grew = bool(more)
    return Scope(chosen, None if len(ids) == len(units) else frozenset(ids), units)


def _figure(counts: dict[str, int], target: str, threshold: float | None) -> dict[str, Any]:
    exempt = counts.get(EXEMPT, 0)
    numerator = sum(n for s, n in counts.items() if s in MET_STATES[target])
    denominator = numerator + sum(n for s, n in counts.items() if s in MISS_STATES[target])
    figure = numerator / denominator if denominator else None
    return {
        "numerator": numerator,
        "denominator": denominator,
        "figure": figure,
        "target": threshold,
        "met": None if figure is None or threshold is None else figure >= threshold - 1e-12,
        "gap": None if figure is None or threshold is None else max(0.0, threshold - figure),
        "exempt": exempt,
        "pending": counts.get("pending", 0),
        "counts": dict(sorted(counts.items())),
        "label": TARGET_LABELS[target],
    }


def _levels_present(scope: Scope, unit_ids: Iterable[int]) -> set[str]:
    return {unit_level(scope.units[u].kind) for u in unit_ids if u in scope.units}


def figures_from_rows(
    rows: Iterable[Any], scope: Scope, year: int, policy: CoveragePolicy = DEFAULT_POLICY
) -> dict[str, Any]:
    """The four figures from aggregate rows (target, unit_id, state, count), against the
    targets of ``year``. T1 is counted per delivery, with ``deliveries`` (the same) and
    ``documents`` (per document) beside it, each with its ``definition``."""

    totals: dict[str, dict[str, int]] = {t: {} for t in LEDGER_TARGETS}
    levels: dict[str, dict[str, int]] = {"bloc": {}, "grassroots": {}}
    for r in rows:
        bucket = totals.setdefault(r.target, {})
        bucket[r.state] = bucket.get(r.state, 0) + r.count
        if r.target == "T3":
            level = levels[unit_level(scope.units[r.unit_id].kind)]
            level[r.state] = level.get(r.state, 0) + r.count
    out = {t: _figure(totals[t], t, policy.target(t, year)) for t in ("T1", "T2", "T4")}
    documents = _figure(totals[T1_DOCUMENTS], T1_DOCUMENTS, policy.target("T1", year))
    t1 = out["T1"]
    t1["deliveries"] = {k: v for k, v in t1.items() if k != "label"} | {
        "definition": MEASURE_DEFINITIONS["deliveries"]
    }
    t1["documents"] = {k: v for k, v in documents.items() if k != "label"} | {
        "definition": MEASURE_DEFINITIONS["documents"]
    }
    in_scope = scope.unit_ids if scope.unit_ids is not None else scope.units.keys()
    present = _levels_present(scope, in_scope)
    per_level = {
        lv: _figure(levels[lv], "T3", t3_target(lv, year, policy))
        for lv in ("bloc", "grassroots")
        if lv in present
    }
    headline = "bloc" if "bloc" in present else "grassroots"
    t3 = _figure(totals["T3"], "T3", t3_target(headline, year, policy))
    met = [v["met"] for v in per_level.values() if v["met"] is not None]
    t3["met"] = None if not met else all(met)
    if t3["met"] is not None and t3["figure"] is not None:
        gaps = [v["gap"] for v in per_level.values() if v["gap"] is not None]
        t3["gap"] = max(gaps) if gaps else t3["gap"]
    t3["levels"] = per_level
    out["T3"] = t3
    return {t: out[t] for t in TARGETS}


def coverage_figures(
    session: Session,
    scope: Scope,
    period: Period,
    *,
    by_doc_type: bool = False,
    policy: CoveragePolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """:returns: ``{"T1": {numerator, denominator, figure, target, met, gap, ...}, ...}``
    against the targets of the period's year, with ``by_doc_type`` a breakdown per
    document type under each target."""
    rows = count_states(session, period.start, period.end, scope.unit_ids, by_doc_type=by_doc_type)
    out = figures_from_rows(rows, scope, period.year, policy)
    if by_doc_type:
        types = sorted({r.doc_type or "" for r in rows})
        for t in out:
            out[t]["by_doc_type"] = {
                dt or "-": figures_from_rows(
                    [r for r in rows if r.target == t and (r.doc_type or "") == dt],
                    scope,
                    period.year,
                    policy,
                )[t]
                for dt in types
                if any(r.target == t and (r.doc_type or "") == dt for r in rows)
            }
    return out


def as_of(session: Session) -> datetime | None:
    """:returns: when the ledger was last refreshed in full (grace periods, due dates
    and signatures decided as of then; every recorded event since is in the figures
    too), None if never."""
    return last_recorded(session, REFRESHED)


def per_unit(
    session: Session, scope: Scope, period: Period, policy: CoveragePolicy = DEFAULT_POLICY
) -> list[dict[str, Any]]:
    """:returns: per unit in scope: its code, name and the four figures."""
    rows = count_states(session, period.start, period.end, scope.unit_ids)
    return _per_unit(rows, scope, period.year, policy)


def _per_unit(
    rows: list[CountRow], scope: Scope, year: int, policy: CoveragePolicy
) -> list[dict[str, Any]]:
    ids = sorted(scope.unit_ids if scope.unit_ids is not None else scope.units)
    by_unit: dict[int, list[CountRow]] = {}
    for r in rows:
        by_unit.setdefault(r.unit_id, []).append(r)
    out = []
    for uid in ids:
        unit = scope.units[uid]
        single = Scope(unit, frozenset({uid}), scope.units)
        figures = figures_from_rows(by_unit.get(uid, []), single, year, policy)
        out.append({"unit": unit, "figures": figures})
    return out


def trend(
    session: Session, scope: Scope, year: int, policy: CoveragePolicy = DEFAULT_POLICY
) -> dict[str, list[dict[str, Any]]]:
    """:returns: per target, the 12 monthly figures of ``year``."""
    rows = count_months(session, date(year, 1, 1), date(year, 12, 31), scope.unit_ids)
    by_month: dict[int, list[MonthRow]] = {}
    for r in rows:
        by_month.setdefault(r.month, []).append(r)
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in TARGETS}
    for m in range(1, 13):
        figures = figures_from_rows(by_month.get(m, []), scope, year, policy)
        for t in TARGETS:
            out[t].append({"month": m, **figures[t]})
    return out


def dashboard(
    session: Session, scope: Scope, period: Period, policy: CoveragePolicy = DEFAULT_POLICY
) -> dict[str, Any]:
    """:returns: what the dashboard shows: ``figures`` (as :func:`coverage_figures`),
    ``units`` (as :func:`per_unit`, from the same aggregate rows), ``trend``,
    ``exemptions`` and ``as_of``, with the ``scope`` and ``period``."""
    rows = count_states(session, period.start, period.end, scope.unit_ids)
    return {
        "scope": scope,
        "period": period,
        "figures": figures_from_rows(rows, scope, period.year, policy),
        "units": _per_unit(rows, scope, period.year, policy),
        "trend": trend(session, scope, period.year, policy),
        "exemptions": exempt_reasons(session, scope, period),
        "as_of": as_of(session),
    }


def exempt_reasons(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """:returns: exemptions per target and reason."""
    rows = count_exempt_reasons(session, period.start, period.end, scope.unit_ids)
    return [
        {"target": t, "reason": r or "Không ghi lý do", "count": n}
        for t, r, n in sorted(rows, key=lambda x: (x[0], -x[2], x[1]))
    ]


def misses(
    session: Session, scope: Scope, period: Period, target: str, *, limit: int, offset: int
) -> dict[str, Any]:
    """:returns: the items of ``target`` that miss it (one page) and their total."""

    if target not in LEDGER_TARGETS:
        raise InvalidInputError("'target' phải là một trong T1, T1D (T1 theo văn bản), T2, T3, T4.")
    page, total = missed_entries(
        session, target, period.start, period.end, scope.unit_ids, limit=limit, offset=offset
    )
    return {
        "target": target,
        "period": period.code,
        "total": total,
        "items": [
            {
                "id": e.subject_id,
                "kind": e.subject_kind,
                "symbol": e.label,
                "subject": e.title,
                "unit": scope.units[e.unit_id].code if e.unit_id in scope.units else None,
                "unit_name": scope.units[e.unit_id].name if e.unit_id in scope.units else None,
                "doc_type": e.doc_type,
                "date": e.period_date.isoformat(),
                "state": e.state,
                "state_label": STATE_LABELS.get(e.state, e.state),
                "reason": e.reason,
            }
            for e in page
        ],
    }
