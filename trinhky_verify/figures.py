"""The coverage figures (targets T1-T4) recomputed from ledger rows.

An independent copy of the server's rules (``storage/ledger.py`` states and
``workflow/coverage/figures.py``), kept apart on purpose so that a change on one side
shows as a mismatch:

- figure = met / (met + missed): exempt entries, and those outside the figure (T1
  ``pending``: awaiting dispatch, ``internal``: not an exchange; T4 ``pending``: not due
  yet), count in neither;
- T1 is stated per delivery (``T1``: each document once per receiving organisation, the
  headline, repeated as ``deliveries``) and, beside it, per document (``T1D``,
  ``documents``);
- the target of each figure is the one of the period's year: per target (T3: per level)
  ``(from year, fraction)`` steps, as stated by the bundle (``figures.json`` ``policy``)
  or else the seed's (100% for T1, T2, T4; T3 bloc 80% to 2029 and 90% from 2030,
  grassroots 60% / 70%); T3 is met when every level present in scope meets its own;
- ``gap`` = target - figure, never below 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TARGETS = ("T1", "T2", "T3", "T4")
DOCUMENTS = "T1D"
MET_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"electronic"}),
    DOCUMENTS: frozenset({"electronic"}),
    "T2": frozenset({"signed_valid"}),
    "T3": frozenset({"online"}),
    "T4": frozenset({"submitted", "late"}),
}
MISS_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"missing"}),
    DOCUMENTS: frozenset({"missing"}),
    "T2": frozenset({"signed_invalid", "missing"}),
    "T3": frozenset({"offline"}),
    "T4": frozenset({"missing"}),
}
OUTSIDE_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"pending", "internal", "dispatched"}),
    DOCUMENTS: frozenset({"pending", "internal"}),
    "T2": frozenset(),
    "T3": frozenset(),
    "T4": frozenset({"pending"}),
}
EXEMPT = "exempt"
BLOC_KINDS = frozenset({"committee", "standing", "office", "board"})
SEED_TARGETS: dict[str, list[tuple[int, float]]] = {
    "T1": [(2025, 1.0)],
    "T2": [(2025, 1.0)],
    "T3.bloc": [(2025, 0.80), (2030, 0.90)],
    "T3.grassroots": [(2025, 0.60), (2030, 0.70)],
    "T4": [(2025, 1.0)],
}


def unit_level(kind: str) -> str:
    """``bloc`` for the bloc committee's organs, else ``grassroots``."""
    return "bloc" if kind in BLOC_KINDS else "grassroots"


def target_of(targets: Mapping[str, Any], key: str, year: int) -> float:
    """The target of ``key`` (``T1``, ``T3.bloc``...) in ``year``: the value of the last
    step starting on or before it (the first step's before them all)."""
    steps = sorted((int(y), float(f)) for y, f in targets[key])
    value = steps[0][1]
    for start, fraction in steps:
        if year >= start:
            value = fraction
    return value


def _figure(counts: Mapping[str, int], target: str, threshold: float | None) -> dict[str, Any]:
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
        "exempt": counts.get(EXEMPT, 0),
        "pending": counts.get("pending", 0),
        "counts": dict(sorted(counts.items())),
    }


def recompute(
    entries: Iterable[Mapping[str, Any]],
    unit_kinds: Mapping[int, str],
    year: int,
    targets: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """:param entries: ledger rows (``target``, ``unit_id``, ``state``).
    :param unit_kinds: kind of every unit in scope, by id.
    :param year: the period's year (the targets of that year).
    :param targets: the bundle's stated targets (None: the seed's).
    :returns: per target the figure, as ``/api/v1/coverage`` states it (without labels
        and definitions); T1 with its ``deliveries`` and ``documents``.
    """
    plan = dict(SEED_TARGETS)
    plan.update(targets or {})
    totals: dict[str, dict[str, int]] = {t: {} for t in (*TARGETS, DOCUMENTS)}
    levels: dict[str, dict[str, int]] = {"bloc": {}, "grassroots": {}}
    for e in entries:
        bucket = totals.setdefault(str(e["target"]), {})
        state = str(e["state"])
        bucket[state] = bucket.get(state, 0) + 1
        if e["target"] == "T3":
            level = levels[unit_level(unit_kinds.get(int(e["unit_id"]), ""))]
            level[state] = level.get(state, 0) + 1
    out = {t: _figure(totals[t], t, target_of(plan, t, year)) for t in ("T1", "T2", "T4")}
    out["T1"]["deliveries"] = dict(out["T1"])
    out["T1"]["documents"] = _figure(totals[DOCUMENTS], DOCUMENTS, target_of(plan, "T1", year))
    present = {unit_level(k) for k in unit_kinds.values()}
    per_level = {
        lv: _figure(levels[lv], "T3", target_of(plan, f"T3.{lv}", year))
        for lv in ("bloc", "grassroots")
        if lv in present
    }
    headline = "bloc" if "bloc" in present else "grassroots"
    t3 = _figure(totals["T3"], "T3", target_of(plan, f"T3.{headline}", year))
    met = [v["met"] for v in per_level.values() if v["met"] is not None]
    t3["met"] = None if not met else all(met)
    if t3["met"] is not None and t3["figure"] is not None:
        gaps = [v["gap"] for v in per_level.values() if v["gap"] is not None]
        t3["gap"] = max(gaps) if gaps else t3["gap"]
    t3["levels"] = per_level
    out["T3"] = t3
    return {t: out[t] for t in TARGETS}


_COMPARED = (
    "numerator",
    "denominator",
    "exempt",
    "pending",
    "counts",
    "target",
    "met",
    "figure",
    "gap",
)
_NUMBERS = ("figure", "target", "gap")


def differences(stated: Mapping[str, Any], computed: Mapping[str, Any]) -> list[str]:
    """:returns: ``"<key>: stated X, recomputed Y"`` for every key that differs."""
    out = []
    for key in _COMPARED:
        a, b = stated.get(key), computed.get(key)
        if key in _NUMBERS and isinstance(a, int | float) and isinstance(b, int | float):
            same = abs(float(a) - float(b)) < 1e-9
        else:
            same = a == b
        if not same:
            out.append(f"{key}: stated {a!r}, recomputed {b!r}")
    return out


def percent(f: Mapping[str, Any]) -> str:
    value = f.get("figure")
    shown = "-" if value is None else f"{float(value) * 100:.1f}%"
    return f"{f.get('numerator')}/{f.get('denominator')} = {shown}"
