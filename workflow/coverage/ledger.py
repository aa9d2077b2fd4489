"""workflow: the coverage ledger's facade: use-cases of targets T1-T4 (computing entries,
re-validating T2 signatures, special-rule exemptions), figures against the targets of
each year, and misses.

Scheme (see storage/ledger.py for the states, ``exchanges`` and ``obligations`` for the
T1 and T4 definitions):

- T1, documents exchanged between the bloc committee (committee, Standing Committee,
  office, boards) and another organisation, both directions, counted once per exchange
  (``T1``: a document and a receiving organisation, the headline) and once per document
  (``T1D``): ``electronic``, ``missing`` (on paper; or issued by the bloc committee and
  not sent after the grace period, in working days), ``pending`` (awaiting dispatch) or
  ``internal`` (dispatched only within the bloc committee, recalled before dispatch,
  counted elsewhere); classified: ``exempt``.
- T2, every document of the Standing Committee and the boards that reached its final
  signed form (issued, or signed at the end of a route without issuance; recalled ones
  too): ``signed_valid`` only if the final revision validates (every signature intact
  and trusted, the last one covering the whole file, the file hashing to the recorded
  SHA-256) and carries a valid signature of the competent signer whose certificate was
  not revoked when it signed; ``signed_invalid`` otherwise; ``missing`` without a
  competent signer's signature. Classified, or a recorded special-rule exemption:
  ``exempt``.
- T3, every closed work file (date = closing): its derived ``processed_online`` flag.
- T4, every report obligation, counted in its reporting period: ``submitted`` /
  ``late`` once the bloc committee's clerk received it electronically (delivered by /
  after the due date), ``missing`` when overdue, returned, recalled or on paper,
  ``pending`` before the due date.

Targets per target (T3: per level) and year come from the settings
(``CoveragePolicy``), the seed's values by default: 100% for T1, T2, T4; T3 bloc 80%
to 2029 and 90% from 2030, grassroots 60% / 70%.

Modules: ``rules`` (targets, working days, levels, labels, permissions),
``exchanges`` (T1), ``obligations`` (T4), ``entries`` (the state of one subject for one
target, written as a ledger entry; T2's signature check), ``gather`` (the facts, read
from the registers), ``refresh`` (refresh, re-validation, the use-cases' hooks,
exemptions), ``figures`` (periods, scopes, figures, misses); ``report`` (the sealed PDF
report) and ``web`` (pages, API, CLI) use them. Callers use this module's names.
"""

from __future__ import annotations

from workflow.coverage.entries import Change, Computed, RefreshResult
from workflow.coverage.exemptions import record_exemption
from workflow.coverage.figures import (
    BAD_PERIOD,
    Period,
    Scope,
    as_of,
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
from workflow.coverage.gather import report_facts
from workflow.coverage.obligations import STATUS_LABELS as REPORT_STATUS_LABELS
from workflow.coverage.obligations import ReportFacts, report_status
from workflow.coverage.refresh import (
    record_document,
    record_exchange,
    record_incoming,
    record_obligation,
    record_paper_dispatches,
    record_paper_incoming,
    record_recall,
    record_signature,
    record_workfile,
    refresh_ledger,
    revalidate,
)
from workflow.coverage.rules import (
    BLOC_KINDS,
    CLASSIFICATION_LABELS,
    DEFAULT_POLICY,
    EXEMPTION_RECORDED,
    MEASURE_DEFINITIONS,
    REFRESHED,
    STATE_CHANGED,
    STATE_LABELS,
    T2_KINDS,
    T3_THRESHOLDS,
    TARGET_LABELS,
    CoveragePolicy,
    PolicyError,
    can_read,
    is_auditor,
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
    "CLASSIFICATION_LABELS",
    "DEFAULT_POLICY",
    "MEASURE_DEFINITIONS",
    "REFRESHED",
    "REPORT_STATUS_LABELS",
    "EXEMPTION_RECORDED",
    "STATE_CHANGED",
    "STATE_LABELS",
    "T2_KINDS",
    "T3_THRESHOLDS",
    "TARGET_LABELS",
    "Change",
    "Computed",
    "CoveragePolicy",
    "Period",
    "PolicyError",
    "RefreshResult",
    "ReportFacts",
    "Scope",
    "as_of",
    "can_read",
    "coverage_figures",
    "dashboard",
    "exempt_reasons",
    "figures_from_rows",
    "is_auditor",
    "misses",
    "parse_period",
    "per_unit",
    "record_document",
    "record_exchange",
    "record_exemption",
    "record_incoming",
    "record_obligation",
    "record_paper_dispatches",
    "record_paper_incoming",
    "record_recall",
    "record_signature",
    "record_workfile",
    "refresh_ledger",
    "report_facts",
    "report_status",
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
