"""The coverage rules on plain facts, against values computed by hand: targets per year,
working days, T1 exchanges (per document and per delivery), T2's competent signer, T4's
report status, the figures, and the offline verifier's own copy of them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from signing.validate import SignatureReport, ValidationReport
from storage.ledger import CountRow
from trinhky_verify import figures as verifier
from workflow.coverage.entries import CompetentSignature, _competent_problems
from workflow.coverage.exchanges import (
    Delivery,
    document_verdict,
    exchange_verdict,
    exchanges,
    is_exchange,
    outside_party,
    unit_party,
)
from workflow.coverage.figures import Scope, figures_from_rows
from workflow.coverage.obligations import ReportFacts, ledger_state, report_status
from workflow.settings import DEFAULTS, CoveragePolicy, PolicyError, Settings, SettingsError
from workflow.vocab import VN_TZ


def vn(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=VN_TZ)


# --- targets per year and working days ---------------------------------------------------


def test_seed_targets_per_year() -> None:
    p = CoveragePolicy()
    assert [p.target("T1", y) for y in (2024, 2026, 2030, 2035)] == [1.0, 1.0, 1.0, 1.0]
    assert [p.target("T2", 2027), p.target("T4", 2027)] == [1.0, 1.0]
    # T3 in two steps: the 2025 floor until 2029, the 2030 one from then on.
    assert [p.target("T3.bloc", y) for y in (2024, 2025, 2029, 2030, 2031)] == [
        0.8,
        0.8,
        0.8,
        0.9,
        0.9,
    ]
    assert [p.target("T3.grassroots", y) for y in (2029, 2030)] == [0.6, 0.7]


def test_targets_from_the_settings(tmp_path: Path) -> None:
    p = CoveragePolicy.from_config({"T1": {"2026": 0.9, "2030": 1}, "T2": 0.95}, 3, [])
    # Before its first year, a target is its first step's.
    assert [p.target("T1", y) for y in (2025, 2026, 2029, 2030)] == [0.9, 0.9, 0.9, 1.0]
    assert p.target("T2", 2027) == 0.95 and p.target("T4", 2027) == 1.0  # T4: the seed's
    assert p.target("T3.bloc", 2030) == 0.9 and p.grace_working_days == 3
    settings = Settings.from_mapping(
        {**DEFAULTS, "COVERAGE_TARGETS": {"T3.grassroots": {"2028": 0.65}}}, tmp_path
    )
    assert settings.coverage.target("T3.grassroots", 2028) == 0.65
    assert settings.coverage.grace_working_days == 2
    bad: tuple[Any, Any, Any]
    for bad in (
        ({"T5": 1.0}, 2, []),
        ({"T1": 1.5}, 2, []),
        ({"T1": {"năm": 0.9}}, 2, []),
        ({"T1": {"2026": "90%"}}, 2, []),
        ({}, -1, []),
        ({}, True, []),
        ({}, 2, ["2026-02-30"]),
        ([1, 2], 2, []),
    ):
        with pytest.raises(PolicyError):
            CoveragePolicy.from_config(*bad)
    with pytest.raises(SettingsError, match="T1_GRACE_WORKING_DAYS"):
        Settings.from_mapping({**DEFAULTS, "T1_GRACE_WORKING_DAYS": "2"}, tmp_path)


def test_dispatch_deadline_in_working_days() -> None:
    p = CoveragePolicy()
    # Friday: Monday is the 1st working day, Tuesday the 2nd.
    assert p.dispatch_deadline(date(2026, 11, 27)) == date(2026, 12, 1)
    assert p.dispatch_deadline(date(2026, 12, 2)) == date(2026, 12, 4)  # Wed -> Fri
    assert p.dispatch_deadline(date(2026, 12, 3)) == date(2026, 12, 7)  # Thu -> Mon
    assert p.dispatch_deadline(date(2026, 12, 5)) == date(2026, 12, 8)  # Sat -> Tue
    assert replace(p, grace_working_days=0).dispatch_deadline(date(2026, 12, 5)) == date(
        2026, 12, 5
    )
    # New Year's Day 2027 is a Friday: Thursday 31/12 -> Mon 4 (1st), Tue 5 (2nd).
    off = CoveragePolicy.from_config({}, 2, ["2027-01-01"])
    assert off.dispatch_deadline(date(2026, 12, 31)) == date(2027, 1, 5)
    assert p.dispatch_deadline(date(2026, 12, 31)) == date(2027, 1, 4)


# --- T1: exchanges ----------------------------------------------------------------------------


@dataclass
class U:
    id: int
    kind: str
    parent_id: int | None
    name: str = ""


UNITS = {
    1: U(1, "committee", None, "Đảng ủy Khối"),
    2: U(2, "standing", 1, "Thường trực"),
    3: U(3, "office", 1, "Văn phòng"),
    4: U(4, "board", 1, "Ban Tuyên giáo"),
    5: U(5, "grassroots", 1, "Đảng ủy Điện lực"),
    6: U(6, "grassroots", 1, "Đảng ủy Ngân hàng"),
    7: U(7, "board", 5, "Ban Tuyên giáo của Đảng ủy Điện lực"),
}
BTG, VP, TT, DL, NH, DL_BOARD = (unit_party(UNITS, i) for i in (4, 3, 2, 5, 6, 7))
UBND = outside_party("  UBND   Tỉnh ")


def test_organisations_and_exchanges() -> None:
    assert BTG.organisation == VP.organisation == TT.organisation == "unit:1" and BTG.bloc
    assert DL.organisation == DL_BOARD.organisation == "unit:5" and not DL_BOARD.bloc
    assert UBND == outside_party("ubnd tỉnh") and not UBND.bloc
    assert not is_exchange(BTG, VP)  # to its own office: not an exchange
    assert is_exchange(BTG, DL) and is_exchange(DL, TT) and is_exchange(BTG, UBND)
    assert is_exchange(UBND, VP)
    assert not is_exchange(DL, NH) and not is_exchange(DL, UBND)  # not the bloc committee's
    assert not is_exchange(DL_BOARD, DL)  # inside one grassroots committee


def d(i: int, to: Any, day: int, electronic: bool = True) -> Delivery:
    return Delivery("dispatch", i, to, vn(2026, 12, day), electronic)


def test_a_document_counts_once_per_receiving_organisation() -> None:
    sent = [
        d(1, VP, 2),  # internal
        d(2, DL, 2),
        d(3, TT, 3),  # internal
        d(4, DL_BOARD, 4, electronic=False),  # same organisation as DL: one exchange
        d(5, UBND, 5, electronic=False),
        d(6, NH, 6),
    ]
    found = exchanges(BTG, sent)
    assert [(e.receiver.organisation, e.subject_id, e.electronic) for e in found] == [
        ("unit:5", 2, True),  # DL got it electronically (the paper copy does not undo it)
        ("outside:ubnd tỉnh", 5, False),
        ("unit:6", 6, True),
    ]
    verdict = document_verdict(
        sender=BTG,
        issued_at=vn(2026, 12, 1),
        classified=False,
        recalled=False,
        deliveries=sent,
        deadline=date(2026, 12, 3),
        today=date(2026, 12, 20),
    )
    assert verdict is not None and verdict.state == "missing" and verdict.at == vn(2026, 12, 2)
    assert verdict.reason == "Gửi bằng giấy đến 1/3 cơ quan, đơn vị nhận."
    assert [exchange_verdict(e, False).state for e in found] == [
        "electronic",
        "missing",
        "electronic",
    ]
    assert {exchange_verdict(e, True).state for e in found} == {"exempt"}


def verdict_of(sender: Any, sent: list[Delivery], **kw: Any) -> str | None:
    facts: dict[str, Any] = {
        "issued_at": vn(2026, 11, 27),  # a Friday: awaits dispatch until Tuesday 1/12
        "classified": False,
        "recalled": False,
        "deadline": date(2026, 12, 1),
        "today": date(2026, 12, 1),
        **kw,
    }
    v = document_verdict(sender=sender, deliveries=sent, **facts)
    return None if v is None else v.state


def test_document_states() -> None:
    assert verdict_of(BTG, []) == "pending"
    assert verdict_of(BTG, [], today=date(2026, 12, 2)) == "missing"
    # A use-case's hook does not decide the grace period: it keeps a decided miss.
    assert verdict_of(BTG, [], today=None, deadline=None) == "pending"
    assert verdict_of(BTG, [], today=None, deadline=None, previous="missing") == "missing"
    assert verdict_of(BTG, [d(1, VP, 2)], today=date(2027, 1, 1)) == "internal"
    assert verdict_of(BTG, [], recalled=True, today=date(2027, 1, 1)) == "internal"
    assert verdict_of(BTG, [d(1, DL, 30)], today=date(2027, 1, 1)) == "electronic"  # late: still
    assert verdict_of(BTG, [], classified=True) == "exempt"
    # Another organisation's documents count only when the bloc committee is party.
    assert verdict_of(DL, []) is None
    assert verdict_of(DL, [d(1, NH, 2)]) is None
    assert verdict_of(DL, [d(1, TT, 2)]) == "electronic"
    assert verdict_of(DL, [d(1, NH, 2)], classified=True) is None
    assert verdict_of(DL, [d(1, VP, 2)], classified=True) == "exempt"


# --- T2: the competent signer -------------------------------------------------------------


def sig(fingerprint: str, ok: bool = True, at: datetime | None = None) -> SignatureReport:
    return SignatureReport(
        field_name="ChuKy",
        signer_name="Lê Văn Đức",
        signer_subject="CN=Lê Văn Đức",
        issuer_subject="CN=CA",
        cert_fingerprint_sha256=fingerprint,
        intact=ok,
        valid=ok,
        trusted=ok,
        revoked=False,
        coverage="entire_file",
        modification_level="none",
        signing_time=at,
        timestamp_time=None,
        pades_level="B-T",
        subfilter="/ETSI.CAdES.detached",
        docmdp_ok=None,
        summary="",
        bottom_line=ok,
        problems=() if ok else ("Chữ ký không hợp lệ",),
    )


def test_competent_signer_and_revocation_at_signing_time() -> None:
    signed = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    person = CompetentSignature("aa", "Lê Văn Đức", signed, None)
    report = ValidationReport((sig("aa", at=signed), sig("seal")))
    assert _competent_problems(report, [person]) == ([], True)
    # Only the organisation's seal: no competent signature at all.
    assert _competent_problems(ValidationReport((sig("seal"),)), [person]) == ([], False)
    # Revoked after it signed: the signature stays valid; before: it does not.
    later = replace(person, revoked_at=datetime(2026, 12, 2, tzinfo=UTC))
    assert _competent_problems(report, [later]) == ([], True)
    earlier = replace(person, revoked_at=datetime(2026, 11, 30, tzinfo=UTC))
    problems, found = _competent_problems(report, [earlier])
    assert found and problems == ["Chứng thư số của Lê Văn Đức đã bị thu hồi trước thời điểm ký"]
    bad = ValidationReport((sig("aa", ok=False, at=signed),))
    assert _competent_problems(bad, [person])[0] == [
        "Chữ ký số của người có thẩm quyền không hợp lệ"
    ]


# --- T4: the report's status ---------------------------------------------------------------

DUE = date(2026, 10, 5)


def status(today: date, **facts: Any) -> tuple[str, str | None]:
    return report_status(ReportFacts(due_date=DUE, **facts), today)


def test_report_status() -> None:
    late_night = datetime(2026, 10, 5, 16, 59, tzinfo=UTC)  # 23:59 on the due date
    midnight = datetime(2026, 10, 5, 17, 0, tzinfo=UTC)  # 00:00 the day after
    received = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
    after = date(2026, 10, 6)
    assert status(after, sent_at=late_night, received_at=late_night) == ("submitted", None)
    # Delivered by the due date, received by the clerk later: on time.
    assert status(after, sent_at=late_night, received_at=received)[0] == "submitted"
    assert status(after, sent_at=midnight, received_at=received)[0] == "late"
    assert status(after, received_at=midnight)[0] == "late"  # no delivery time known
    assert status(DUE) == ("pending", None)
    assert status(after) == (
        "missing",
        "Chưa gửi báo cáo lên Đảng ủy Khối trên hệ thống (quá hạn).",
    )
    assert status(DUE, sent_at=late_night) == ("sent", None)
    assert status(after, sent_at=late_night)[0] == "missing"  # never received
    assert status(DUE, on_paper=True) == ("paper", "Nộp bằng bản giấy, không trực tuyến.")
    assert status(DUE, on_paper=True, paper_on=date(2026, 10, 2))[1] == (
        "Nộp bằng bản giấy ngày 02/10/2026, không trực tuyến."
    )
    assert status(DUE, problem="Trả lại")[0] == "pending" and status(after, problem="Trả lại") == (
        "missing",
        "Trả lại",
    )
    assert status(after, classified=True) == ("exempt", None)
    assert [ledger_state(s) for s in ("sent", "pending", "late", "paper")] == [
        "pending",
        "pending",
        "late",
        "missing",
    ]


# --- the figures --------------------------------------------------------------------------------

ROWS = [
    ("T1", 4, "electronic", 3),
    ("T1", 4, "missing", 1),
    ("T1", 4, "pending", 2),
    ("T1", 4, "internal", 1),
    ("T1", 4, "exempt", 1),
    ("T1D", 4, "electronic", 4),
    ("T1D", 5, "missing", 2),
    ("T2", 4, "signed_valid", 5),
    ("T2", 4, "signed_invalid", 1),
    ("T2", 2, "missing", 1),
    ("T2", 2, "exempt", 2),
    ("T3", 4, "online", 8),
    ("T3", 4, "offline", 2),
    ("T3", 5, "online", 5),
    ("T3", 6, "offline", 5),
    ("T4", 5, "submitted", 2),
    ("T4", 5, "late", 1),
    ("T4", 6, "missing", 1),
    ("T4", 6, "pending", 3),
    ("T4", 6, "exempt", 1),
]


def server(year: int, policy: CoveragePolicy | None = None) -> dict[str, Any]:
    scope = Scope(None, None, UNITS)  # type: ignore[arg-type]
    rows = [CountRow(t, u, None, s, n) for t, u, s, n in ROWS]
    return figures_from_rows(rows, scope, year, policy or CoveragePolicy())


def test_figures_by_hand() -> None:
    f = server(2026)
    t1 = f["T1"]
    # Per delivery (the headline): met / (met + missed); pending, internal and exempt
    # are outside the figure.
    assert (t1["numerator"], t1["denominator"], t1["pending"], t1["exempt"]) == (3, 4, 2, 1)
    assert t1["counts"]["internal"] == 1
    assert t1["figure"] == 0.75 and t1["target"] == 1.0 and t1["gap"] == 0.25 and not t1["met"]
    assert t1["deliveries"]["numerator"] == 3 and "Lượt gửi" in t1["deliveries"]["definition"]
    docs = t1["documents"]  # per document: the T1D entries
    assert (docs["numerator"], docs["denominator"]) == (4, 6)
    assert docs["gap"] == pytest.approx(1 / 3) and docs["definition"].startswith("Văn bản")
    t2 = f["T2"]
    assert (t2["numerator"], t2["denominator"], t2["exempt"]) == (5, 7, 2)
    t3 = f["T3"]  # bloc 8/10 (target 0.8: met), grassroots 5/10 (0.6: not met)
    assert (t3["numerator"], t3["denominator"], t3["target"]) == (13, 20, 0.8)
    assert t3["levels"]["bloc"]["met"] is True and t3["levels"]["bloc"]["gap"] == 0.0
    assert t3["levels"]["grassroots"]["gap"] == pytest.approx(0.1)
    assert t3["met"] is False and t3["gap"] == pytest.approx(0.1)
    t4 = f["T4"]
    assert (t4["numerator"], t4["denominator"], t4["pending"], t4["exempt"]) == (3, 4, 3, 1)
    # 2030: the T3 floors rise to 90% / 70%.
    t3_2030 = server(2030)["T3"]
    assert t3_2030["levels"]["bloc"]["gap"] == pytest.approx(0.1)
    assert t3_2030["gap"] == pytest.approx(0.2) and t3_2030["target"] == 0.9
    # A target of the year from the settings.
    lower = CoveragePolicy.from_config({"T1": {"2026": 0.7, "2030": 1.0}}, 2, [])
    assert server(2026, lower)["T1"]["met"] is True and server(2026, lower)["T1"]["gap"] == 0.0
    assert server(2030, lower)["T1"]["target"] == 1.0


def test_the_verifier_recomputes_the_same_figures() -> None:
    """trinhky_verify keeps its own copy of the rules: on the same entries, it states
    what the server states (seed's targets, and the targets a bundle states)."""
    entries = [{"target": t, "unit_id": u, "state": s} for t, u, s, n in ROWS for _ in range(n)]
    kinds = {i: u.kind for i, u in UNITS.items()}
    for year in (2026, 2030):
        for policy in (
            CoveragePolicy(),
            CoveragePolicy.from_config({"T1": {"2026": 0.7}, "T3.bloc": 0.85}, 2, []),
        ):
            stated = server(year, policy)
            mine = verifier.recompute(entries, kinds, year, policy.as_json()["targets"])
            for target in verifier.TARGETS:
                assert verifier.differences(stated[target], mine[target]) == [], target
            for measure in ("deliveries", "documents"):
                assert verifier.differences(stated["T1"][measure], mine["T1"][measure]) == []
            for level, fig in mine["T3"]["levels"].items():
                assert verifier.differences(stated["T3"]["levels"][level], fig) == []
    # Without stated targets, the verifier takes the seed's.
    seed = verifier.recompute(entries, kinds, 2030)
    assert seed["T3"]["target"] == 0.9 and seed["T1"]["target"] == 1.0
