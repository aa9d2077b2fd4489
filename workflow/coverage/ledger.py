"""workflow: the coverage ledger's facade: use-cases of targets T1-T4 (computing entries,
re-validating T2 signatures, special-rule exemptions), figures and misses.

Scheme (see storage/ledger.py for the states):

- T1, every exchange, one entry per direction: each issued outgoing document (subject
  ``document``, unit = drafting unit, date = first dispatch, else issue date) is
  ``electronic`` once dispatched in the system, else ``missing``; each incoming entry
  received in the system (``incoming``, unit = receiving unit, date = reception) is
  ``electronic``. Classified: ``exempt``.
- T2, every issued document drafted in the bloc committee's own organs (committee,
  Standing Committee, office, boards): ``signed_valid`` only if ``validate_pdf`` passes
  every signature of the stored issued PDF, the last one covers the whole file and the
  file still hashes to the recorded SHA-256; ``signed_invalid`` if signatures are stored
  but do not validate; ``missing`` if there are none. Classified, or a recorded
  special-rule exemption: ``exempt``.
- T3, every closed work file (date = closing): its derived ``processed_online`` flag.
- T4, every report obligation past due or submitted (date = due date): ``submitted``
  on time, ``late`` (online but after the due date: counts as online), ``missing``.

T3 thresholds: the level's 2025 figure applies 2025-2029 (and before), the 2030 figure
from 2030 on: the resolution sets floors for those years, not a yearly path.

Modules: ``rules`` (thresholds, levels, labels, permissions), ``entries`` (the state of
one subject for one target, written as a ledger entry), ``refresh`` (refresh,
re-validation, the use-cases' hooks, exemptions), ``figures`` (periods, scopes, figures,
misses), ``report`` (the sealed PDF report). Callers use this package's names.
"""

from __future__ import annotations

from workflow.coverage.entries import Change, Computed, RefreshResult
from workflow.coverage.figures import (
    BAD_PERIOD,
    Period,
    Scope,
    coverage_figures,
    dashboard,
    exempt_reasons,
    figures_from_rows,
    misses,
    parse_period,
    per_unit,
    resolve_scope,
    trend,
)
from workflow.coverage.paper import record_paper_dispatches, record_paper_incoming
from workflow.coverage.refresh import (
    record_document,
    record_exemption,
    record_incoming,
    record_obligation,
    record_workfile,
    refresh_ledger,
    revalidate,
)
from workflow.coverage.rules import (
    BLOC_KINDS,
    CLASSIFIED_LABELS,
    EXEMPTION_RECORDED,
    STATE_CHANGED,
    STATE_LABELS,
    T2_KINDS,
    T3_THRESHOLDS,
    TARGET_LABELS,
    can_read,
    require_auditor,
    require_reader,
    t3_target,
    unit_level,
    utc_now,
    vn_date,
)

__all__ = [
    "BAD_PERIOD",
    "BLOC_KINDS",
    "CLASSIFIED_LABELS",
    "EXEMPTION_RECORDED",
    "STATE_CHANGED",
    "STATE_LABELS",
    "T2_KINDS",
    "T3_THRESHOLDS",
    "TARGET_LABELS",
    "Change",
    "Computed",
    "Period",
    "RefreshResult",
    "Scope",
    "can_read",
    "coverage_figures",
    "dashboard",
    "exempt_reasons",
    "figures_from_rows",
    "misses",
    "parse_period",
    "per_unit",
    "record_document",
    "record_exemption",
    "record_incoming",
    "record_obligation",
    "record_paper_dispatches",
    "record_paper_incoming",
    "record_workfile",
    "refresh_ledger",
    "require_auditor",
    "require_reader",
    "resolve_scope",
    "revalidate",
    "t3_target",
    "trend",
    "unit_level",
    "utc_now",
    "vn_date",
]
