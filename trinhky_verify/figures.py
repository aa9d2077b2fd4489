"""The coverage figures (targets T1-T4) recomputed from ledger rows.

Same rules as the server: ``storage/ledger.py`` (``MET_STATES``, ``EXEMPT``) and
``workflow/coverage/`` (``figures._figure``, ``figures_from_rows``, ``t3_target``,
``unit_level``): figure = met / (all - exempt); T1, T2, T4 aim at 100%; T3 at the
level's threshold (bloc 80% until 2029, 90% from 2030; grassroots 60% / 70%), met when
every level present in scope meets its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TARGETS = ("T1", "T2", "T3", "T4")
MET_STATES: dict[str, frozenset[str]] = {
    "T1": frozenset({"electronic"}),
    "T2": frozenset({"signed_valid"}),
    "T3": frozenset({"online"}),
    "T4": frozenset({"submitted", "late"}),
}
EXEMPT = "exempt"
BLOC_KINDS = frozenset({"committee", "standing", "office", "board"})
T3_THRESHOLDS = {"bloc": (0.80, 0.90), "grassroots": (0.60, 0.70)}


def unit_level(kind: str) -> str:
    """``bloc`` for the bloc committee's organs, else ``grassroots``."""
    return "bloc" if kind in BLOC_KINDS else "grassroots"


def t3_target(level: str, year: int) -> float:
    """The T3 threshold of a level in a year."""
    early, late = T3_THRESHOLDS[level]
    return late if year >= 2030 else early


def _figure(counts: Mapping[str, int], target: str, threshold: float | None) -> dict[str, Any]:
    exempt = counts.get(EXEMPT, 0)
    numerator = sum(n for s, n in counts.items() if s in MET_STATES[target])
    denominator = sum(counts.values()) - exempt
    figure = numerator / denominator if denominator else None
    return {
        "numerator": numerator,
        "denominator": denominator,
        "figure": figure,
        "target": threshold,
        "met": None if figure is None or threshold is None else figure >= threshold - 1e-12,
        "exempt": exempt,
        "counts": dict(sorted(counts.items())),
    }


def recompute(
    entries: Iterable[Mapping[str, Any]], unit_kinds: Mapping[int, str], year: int
) -> dict[str, dict[str, Any]]:
    """:param entries: ledger rows (``target``, ``unit_id``, ``state``).
    :param unit_kinds: kind of every unit in scope, by id.
    :param year: the period's year (T3 threshold).
    :returns: per target the figure, as ``/api/v1/coverage`` states it (without labels).
    """
    totals: dict[str, dict[str, int]] = {t: {} for t in TARGETS}
    levels: dict[str, dict[str, int]] = {"bloc": {}, "grassroots": {}}
    for e in entries:
        bucket = totals.setdefault(str(e["target"]), {})
        state = str(e["state"])
        bucket[state] = bucket.get(state, 0) + 1
        if e["target"] == "T3":
            level = levels[unit_level(unit_kinds.get(int(e["unit_id"]), ""))]
            level[state] = level.get(state, 0) + 1
    out = {t: _figure(totals[t], t, 1.0) for t in TARGETS}
    present = {unit_level(k) for k in unit_kinds.values()}
    per_level = {
        lv: _figure(levels[lv], "T3", t3_target(lv, year))
        for lv in ("bloc", "grassroots")
        if lv in present
    }
    headline = "bloc" if "bloc" in present else "grassroots"
    t3 = _figure(totals["T3"], "T3", t3_target(headline, year))
    met = [v["met"] for v in per_level.values() if v["met"] is not None]
    t3["met"] = None if not met else all(met)
    t3["levels"] = per_level
    out["T3"] = t3
    return out


_COMPARED = ("numerator", "denominator", "exempt", "counts", "target", "met", "figure")


def differences(stated: Mapping[str, Any], computed: Mapping[str, Any]) -> list[str]:
    """:returns: ``"<key>: stated X, recomputed Y"`` for every key that differs."""
    out = []
    for key in _COMPARED:
        a, b = stated.get(key), computed.get(key)
        if (
            key in ("figure", "target")
            and isinstance(a, int | float)
            and isinstance(b, int | float)
        ):
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
