"""T1-T4 as the seed states them, through the use-cases and ``/api/v1/coverage`` on a
real database (SQLite, and PostgreSQL when configured), with time frozen where dates
matter: the T1 grace period and deliveries, a recalled document refused at receipt,
T2 on a route without issuance, T4 by reporting period and on the superior's receipt,
the targets of the year from the settings, and a register-sized scenario computed by
hand (the offline verifier's copy of the figures agrees with it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Certificate, Document, Unit, User
from storage.registry_models import (
    Dispatch,
    IncomingEntry,
    NumberSeries,
)
from tests.conftest import DEMO_PASSWORD, Api, app_config, closed, flip_byte, rewrite_blob
from tests.test_coverage import issue_via_full_route
from tests.test_dispatch_registers import add_clerk
from tests.test_records import board_signer, signed_report
from tests.test_web import csrf_token, login
from tests.test_workflow_routes import act, upload_on
from trinhky_verify import figures as verifier
from workflow import create_app
from workflow.coverage import gather
from workflow.coverage import ledger as coverage
from workflow.services import EXTENSION_KEY, Services
from workflow.settings import SettingsError
from workflow.vocab import VN_TZ


def vn(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=VN_TZ)


def figures(api: Api, query: str) -> dict[str, Any]:
    r = api.get("kiemtra", f"/coverage?{query}")
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def nd(f: dict[str, Any]) -> tuple[int, int]:
    return f["numerator"], f["denominator"]


def refresh(services: Services, now: datetime) -> coverage.RefreshResult:
    with services.session_factory() as s:
        result = coverage.refresh_ledger(
            s, services.blobs, services.trust, now=now, policy=services.settings.coverage
        )
        s.commit()
        return result


def unit_ids(services: Services) -> dict[str, int]:
    with services.session_factory() as s:
        return {u.code: u.id for u in s.scalars(select(Unit))}


def travel(time_machine: Any, api: Api, moment: datetime) -> None:
    """Move the clock (the API's tokens expire meanwhile: log in again)."""
    time_machine.move_to(moment, tick=True)
    api.tokens.clear()


# --- T1 --------------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_t1_grace_period_documents_and_deliveries(
    api: Api, services: Services, time_machine: Any
) -> None:
    travel(time_machine, api, vn(2027, 3, 5, 9))  # a Friday
    units = unit_ids(services)
    a = issue_via_full_route(api, "CV", "Công văn về hội nghị chuyển đổi số")
    b = issue_via_full_route(api, "TB", "Thông báo kết luận của Thường trực")
    # Just issued: awaiting dispatch, not a miss (the issuance recorded them already).
    f = figures(api, "period=2027-03")
    assert nd(f["T1"]) == (0, 0) and f["T1"]["pending"] == 2 and f["T1"]["figure"] is None
    assert nd(f["T2"]) == (2, 2)

    sent = api.post(
        "vanthu", f"/documents/{a}/dispatch", json={"recipients": [units["CS-DL"], units["VP"]]}
    )
    assert sent.status_code == 201, sent.get_json()
    f = figures(api, "period=2027-03")
    # A went to CS-DL (another organisation) and to the committee's own office (not an
    # exchange): one document, one delivery; B still awaits dispatch.
    assert nd(f["T1"]) == (1, 1) and f["T1"]["pending"] == 1
    assert nd(f["T1"]["deliveries"]) == (1, 1) and f["T1"]["documents"]["numerator"] == 1

    # Friday + 2 working days: Monday, Tuesday 9/3. B is a miss from Wednesday on.
    refresh(services, vn(2027, 3, 9, 23, 59))
    assert figures(api, "period=2027-03")["T1"]["pending"] == 1
    refresh(services, vn(2027, 3, 10, 8))
    f = figures(api, "period=2027-03")
    assert nd(f["T1"]) == (1, 2) and f["T1"]["figure"] == 0.5 and f["T1"]["gap"] == 0.5
    assert f["T1"]["met"] is False and f["as_of"] == "2027-03-10T08:00:00+07:00"
    misses = api.get("kiemtra", "/coverage/misses?target=T1&period=2027-03").get_json()
    assert [i["id"] for i in misses["items"]] == [b]
    assert "09/03/2027" in misses["items"][0]["reason"]

    # Dispatched late, and only to the committee's office: not an exchange after all.
    assert (
        api.post("vanthu", f"/documents/{b}/dispatch", json={"recipients": [units["VP"]]})
    ).status_code == 201
    f = figures(api, "period=2027-03")
    assert nd(f["T1"]) == (1, 1) and f["T1"]["counts"]["internal"] == 1
    with services.session_factory() as s:
        logged = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "ledger:state_changed")
            .order_by(AuditEvent.seq)
        ).all()
        b_changes = [
            (e.details["from"], e.details["to"])
            for e in logged
            if e.details["target"] == "T1"
            and e.details["subject_kind"] == "document"
            and e.details["subject_id"] == b
        ]
    assert b_changes == [("pending", "missing"), ("missing", "internal")]


# --- defect: a recalled document cannot be received -------------------------------------------


def test_a_recalled_document_is_not_received(app: Flask, api: Api, services: Services) -> None:
    add_clerk(services, "vanthu_dl", "CS-DL")
    units = unit_ids(services)
    doc_id = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số")
    sent = api.post(
        "vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [units["CS-DL"]]}
    )
    assert sent.status_code == 201
    entry = api.get("vanthu_dl", "/incoming?state=pending").get_json()["incoming"][0]
    recalled = api.post("vanthu", f"/documents/{doc_id}/recall", json={"reason": "Sai thể thức"})
    assert recalled.status_code == 200, recalled.get_json()

    def snapshot() -> tuple[Any, ...]:
        with services.session_factory() as s:
            row = s.get(IncomingEntry, entry["id"])
            assert row is not None
            series = s.scalar(
                select(func.count())
                .select_from(NumberSeries)
                .where(NumberSeries.unit_id == units["CS-DL"], NumberSeries.register == "incoming")
            )
            ledger = sorted(
                (e.target, e.subject_kind, e.subject_id, e.state)
                for e in s.scalars(select(LedgerEntry))
            )
            return (row.state, row.number, row.received_at, series, ledger)

    before = snapshot()
    refused = api.post("vanthu_dl", f"/incoming/{entry['id']}/receive")
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["code"] == "recalled"
    assert "đã bị cơ quan ban hành thu hồi" in body["detail"] and "Sai thể thức" in body["detail"]
    assert snapshot() == before  # no incoming number, nothing counted
    assert before[0] == "pending" and before[1] is None and before[3] == 0

    def refusals() -> list[AuditEvent]:
        with services.session_factory() as s:
            return list(
                s.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action == "incoming:receipt_refused")
                    .order_by(AuditEvent.seq)
                )
            )

    [logged] = refusals()
    assert logged.object_id == str(entry["id"]) and logged.details["document"] == doc_id
    # The page says it too, and audits it.
    client = app.test_client()
    login(client, "vanthu_dl")
    token = csrf_token(client, "/incoming")
    page = closed(client.post(f"/incoming/{entry['id']}/receive", data={"csrf_token": token}))
    assert page.status_code == 302
    listing = closed(client.get(page.headers["Location"])).get_data(as_text=True)
    assert "thu hồi" in listing
    assert len(refusals()) == 2 and snapshot() == before


# --- T2 ----------------------------------------------------------------------------------------


def test_t2_counts_a_document_signed_on_a_route_without_issuance(
    api: Api, services: Services, time_machine: Any
) -> None:
    travel(time_machine, api, vn(2027, 4, 1, 10))
    doc_id = upload_on(api, route="thuong-truc-ky", doc_type="KH", subject="Kế hoạch năm 2027")
    act(api, "truongban", doc_id, "approve")
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    # Its final signed form, with no issuance step: counted at once, no refresh.
    f = figures(api, "period=2027-04")
    assert nd(f["T2"]) == (1, 1) and f["T2"]["counts"] == {"signed_valid": 1}
    assert nd(f["T1"]) == (0, 0) and f["T1"]["pending"] == 0  # not issued: not awaited
    with services.session_factory() as s:
        entry = s.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id)
        ).one()
        bithu = s.scalars(select(User).where(User.username == "bithu")).one()
        cert = s.scalars(select(Certificate).where(Certificate.user_id == bithu.id)).first()
        assert cert is not None and entry.evidence["competent"] == [cert.fingerprint]
        assert entry.period_date == date(2027, 4, 1) and entry.label is None
    # It can be exempted like an issued one.
    ok = api.post(
        "kiemtra",
        "/coverage/exemptions",
        json={"document_id": doc_id, "reason": "Quy chế đặc thù", "decision": "QĐ 3-QĐ/TU"},
    )
    assert ok.status_code == 201 and ok.get_json()["state"] == "exempt"
    assert nd(figures(api, "period=2027-04")["T2"]) == (0, 0)


# --- T4 ----------------------------------------------------------------------------------------


def test_t4_counts_in_the_reporting_period_on_the_superior_s_receipt(
    app: Flask, api: Api, services: Services, time_machine: Any
) -> None:
    travel(time_machine, api, vn(2027, 1, 2, 9))
    runner = app.test_cli_runner()
    for period in ("2026-12", "2026-Q4"):
        assert runner.invoke(args=["generate-obligations", "--period", period]).exit_code == 0
    board_signer(services)
    first = signed_report(api)
    ob = next(
        o["id"]
        for o in api.get("chuyenvien", "/reports/obligations?period=2026-12").get_json()[
            "obligations"
        ]
    )
    sent = api.post("chuyenvien", f"/reports/obligations/{ob}/submit", json={"document_id": first})
    assert sent.status_code == 200 and sent.get_json()["status"] == "sent"
    # The report reaches the bloc committee's register with a broken file: returned.
    with services.session_factory() as s:
        doc = s.get(Document, first)
        assert doc is not None
        key = doc.current_revision.blob_sha256
    rewrite_blob(services.blobs, key, flip_byte)
    entry = sent.get_json()["incoming_entry_id"]
    returned = api.post("vanthu", f"/incoming/{entry}/receive")
    assert returned.status_code == 200 and returned.get_json()["state"] == "returned"
    status = api.get("chuyenvien", "/reports/obligations?period=2026-12").get_json()
    [mine] = status["obligations"]
    assert mine["status"] == "pending" and "trả lại" in mine["problem"]  # due 5/1: not yet

    # Past the due dates (5/1 monthly, 10/1 quarterly): every obligation is overdue.
    travel(time_machine, api, vn(2027, 1, 12, 9))
    refresh(services, vn(2027, 1, 12, 9))
    f = figures(api, "period=2026")  # the December and Q4 reports count in 2026
    # 2026-12: BTC, BTG, BKT (boards); 2026-Q4: CS-GDDT, CS-DL, CS-NH: six misses.
    assert nd(f["T4"]) == (0, 6) and f["T4"]["pending"] == 0
    assert nd(figures(api, "period=2026-12")["T4"]) == (0, 6)
    assert figures(api, "period=2027")["T4"]["denominator"] == 0

    # Another, valid report, sent late and received: submitted (late), counted in 2026.
    second = signed_report(api)
    again = api.post(
        "chuyenvien", f"/reports/obligations/{ob}/submit", json={"document_id": second}
    )
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "missing"  # overdue until received
    received = api.post("vanthu", f"/incoming/{again.get_json()['incoming_entry_id']}/receive")
    assert received.status_code == 200 and received.get_json()["state"] == "received"
    f = figures(api, "period=2026")
    assert nd(f["T4"]) == (1, 6) and f["T4"]["counts"]["late"] == 1
    with services.session_factory() as s:
        actions = s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "report_obligation", AuditEvent.object_id == str(ob))
            .order_by(AuditEvent.seq)
        ).all()
    assert actions == ["report:sent", "report:returned", "report:sent", "report:received"]

    # A recalled report is not submitted (recorded by the recall's hook).
    with services.session_factory() as s:
        doc = s.get(Document, second)
        assert doc is not None
        doc.recalled_at = vn(2027, 1, 13)
        coverage.record_recall(s, doc, now=vn(2027, 1, 13))
        s.commit()
    assert nd(figures(api, "period=2026")["T4"]) == (0, 6)


# --- targets of the year, as of, the page -------------------------------------------------------


@pytest.fixture
def tuned_app(instance: Path, database_url: str) -> Iterator[Flask]:
    """An app whose settings lower T1's target for 2027 and give no grace period."""
    application = create_app(
        app_config(
            instance,
            DATABASE_URL=database_url,
            COVERAGE_TARGETS={"T1": {"2027": 0.9, "2030": 1.0}},
            T1_GRACE_WORKING_DAYS=0,
        )
    )
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


def test_targets_of_the_year_gap_and_as_of(
    tuned_app: Flask, time_machine: Any, instance: Path, database_url: str
) -> None:
    api = Api(tuned_app)
    services: Services = tuned_app.extensions[EXTENSION_KEY]
    travel(time_machine, api, vn(2027, 5, 3, 9))  # a Monday
    doc_id = issue_via_full_route(api, "CV", "Công văn gửi các đảng ủy cơ sở")
    f = figures(api, "period=2027")
    assert f["year"] == 2027 and f["as_of"] is None  # never refreshed in full
    assert f["T1"]["target"] == 0.9 and f["T2"]["target"] == 1.0 and f["T3"]["target"] == 0.8
    assert f["T1"]["deliveries"]["target"] == 0.9
    # No grace: a document issued on Monday and not dispatched misses from Tuesday on.
    refresh(services, vn(2027, 5, 3, 23))
    assert figures(api, "period=2027")["T1"]["pending"] == 1
    refresh(services, vn(2027, 5, 4, 8))
    f = figures(api, "period=2027")
    assert (
        nd(f["T1"]) == (0, 1)
        and f["T1"]["gap"] == 0.9
        and f["as_of"] == ("2027-05-04T08:00:00+07:00")
    )
    assert figures(api, "period=2030")["T1"]["target"] == 1.0
    # The page: the target of the year, the gap, T1 per document and per delivery with
    # their definitions, and when the figures were computed.
    client = tuned_app.test_client()
    login(client, "kiemtra")
    html = closed(client.get("/coverage?period=2027")).get_data(as_text=True)
    assert "Mục tiêu năm 2027" in html and "Còn thiếu" in html and "90,0%" in html
    assert "Theo lượt gửi" in html and "Lượt gửi (số liệu chính của T1)" in html
    assert "Theo văn bản" in html
    assert re.search(r"Số liệu tính đến 04/05/2027 08:00", html)
    assert "/coverage/misses?target=T1D" in html
    csv_body = closed(client.get("/coverage/export.csv?period=2027")).data.decode("utf-8-sig")
    assert "Còn thiếu so với mục tiêu" in csv_body and "2027-05-04T08:00:00+07:00" in csv_body
    assert "T1D" in csv_body
    assert doc_id
    with pytest.raises(SettingsError, match="COVERAGE_TARGETS"):
        create_app(app_config(instance, DATABASE_URL=database_url, COVERAGE_TARGETS={"T9": 1}))


# --- a register-sized scenario, by hand ----------------------------------------------------------


# The refresh's queries and the summary counts: on both databases.
@pytest.mark.both_databases
def test_scenario_by_hand_and_the_verifier_agrees(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents, dispatches and incoming entries as the registers hold them (no
    content: T2 sees no electronic version of them), refreshed at 31/3/2027."""
    units = unit_ids(services)
    with services.session_factory() as s:
        clerk = s.scalars(select(User).where(User.username == "vanthu")).one().id
        number = iter(range(1, 100))

        def doc(unit: str, issued: datetime | None, **kw: Any) -> int:
            n = next(number)
            row = Document(
                unit_id=units[unit],
                created_by_id=clerk,
                subject=f"Văn bản số {n}",
                doc_type=kw.pop("doc_type", "CV"),
                state=kw.pop("state", "issued"),
                issued_at=issued,
                symbol=f"{n:02d}-CV/TEST",
                number=n,
                year=2027,
                **kw,
            )
            s.add(row)
            s.flush()
            return row.id

        def send(
            doc_id: int, at: datetime, unit: str | None = None, email: str | None = None
        ) -> None:
            s.add(
                Dispatch(
                    document_id=doc_id,
                    recipient_unit_id=units[unit] if unit else None,
                    external_name=email,
                    external_email=email,
                    dispatched_at=at,
                    dispatched_by_id=clerk,
                    state="sent",
                )
            )

        def arrived(unit: str, at: datetime) -> None:
            s.add(
                IncomingEntry(
                    unit_id=units[unit],
                    year=2027,
                    number=next(number),
                    source="external",
                    blob_sha256="0" * 64,
                    sender="UBND tỉnh",
                    subject="Về việc phối hợp",
                    doc_type="CV",
                    state="received",
                    received_at=at,
                )
            )

        d1 = doc("BTG", vn(2027, 1, 4))
        send(d1, vn(2027, 1, 5), "CS-DL")
        send(d1, vn(2027, 1, 5), "CS-NH")
        send(d1, vn(2027, 1, 6), "VP")
        d2 = doc("BTG", vn(2027, 1, 4))
        send(d2, vn(2027, 1, 5), "VP")  # internal only
        d3 = doc("BTG", vn(2027, 1, 6))  # never dispatched: deadline Fri 8/1
        d4 = doc("BTC", vn(2027, 3, 30))  # Tue: deadline Thu 1/4, awaiting
        d5 = doc("BTG", vn(2027, 2, 1), classification="mat", metadata_only=True)
        d6 = doc("BKT", vn(2027, 2, 10))
        send(d6, vn(2027, 2, 11), email="vanphong@ubnd.example.vn")
        send(d6, vn(2027, 2, 11), "TT")
        d7 = doc("BTG", vn(2027, 2, 15), recalled_at=vn(2027, 2, 16), state="recalled")
        g1 = doc("CS-DL", None, state="signed")  # a grassroots report, sent to the committee
        send(g1, vn(2027, 2, 20), "DUK")
        g2 = doc("CS-DL", vn(2027, 2, 21))  # to another grassroots committee: out of T1
        send(g2, vn(2027, 2, 22), "CS-NH")
        arrived("VP", vn(2027, 3, 2))  # from outside to the committee's office
        arrived("CS-GDDT", vn(2027, 3, 3))  # from outside to a grassroots committee: out
        s.commit()

    refresh(services, vn(2027, 3, 31, 12))

    def states(target: str) -> dict[int, str]:
        with services.session_factory() as s:
            return {
                e.subject_id: e.state
                for e in s.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.target == target, LedgerEntry.subject_kind == "document"
                    )
                )
            }

    # Per document, each once; per delivery, a document sent nowhere is one expected
    # delivery (the others count by their exchanges).
    assert states("T1") == {
        d2: "internal",
        d3: "missing",
        d4: "pending",
        d5: "exempt",
        d7: "internal",
    }
    assert states("T1D") == {
        d1: "electronic",
        d2: "internal",
        d3: "missing",
        d4: "pending",
        d5: "exempt",
        d6: "electronic",
        d7: "internal",
        g1: "electronic",
    }  # g2 is not the bloc committee's business

    def ours(query: str) -> dict[str, Any]:
        with services.session_factory() as s:
            scope = coverage.resolve_scope(s, query or None)
            return coverage.coverage_figures(
                s, scope, coverage.parse_period("2027", date(2027, 3, 31))
            )

    f = ours("")
    # Per delivery: d1 -> CS-DL, d1 -> CS-NH, d6 -> outside, g1 -> DUK, the arrival at VP
    # (electronic); d3 never sent (missing); d4 awaiting dispatch; d2, d7 internal; d5
    # exempt: 5 / 6.
    t1 = f["T1"]
    assert (nd(t1), t1["pending"], t1["exempt"]) == ((5, 6), 1, 1)
    assert t1["counts"] == {"electronic": 5, "exempt": 1, "internal": 2, "missing": 1, "pending": 1}
    assert nd(t1["deliveries"]) == (5, 6)
    # Per document: d1, d6, g1 and the arrival electronic; d3 missing: 4 / 5.
    assert nd(t1["documents"]) == (4, 5) and t1["documents"]["pending"] == 1
    # T2: the documents of the committee's organs without an electronic version: d1, d2,
    # d3, d4, d6, d7 missing, d5 exempt (classified); the grassroots ones are not T2's.
    assert nd(f["T2"]) == (0, 6) and f["T2"]["exempt"] == 1
    btg = ours("BTG")["T1"]
    assert nd(btg) == (2, 3) and btg["counts"]["internal"] == 2
    assert nd(btg["documents"]) == (1, 2)
    assert nd(ours("CS-DL")["T1"]) == (1, 1)  # g1 counts for its sender
    assert nd(ours("VP")["T1"]) == (1, 1)  # the arrival counts for its receiver
    assert nd(ours("CS-GDDT")["T1"]) == (0, 0)

    # The offline verifier's copy, on the same ledger rows, states the same figures.
    with services.session_factory() as s:
        rows = [
            {"target": e.target, "unit_id": e.unit_id, "state": e.state}
            for e in s.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.period_date >= date(2027, 1, 1),
                    LedgerEntry.period_date <= date(2027, 12, 31),
                )
            )
        ]
        kinds = {u.id: u.kind for u in s.scalars(select(Unit))}
    mine = verifier.recompute(rows, kinds, 2027, services.settings.coverage.as_json()["targets"])
    for target in verifier.TARGETS:
        assert verifier.differences(f[target], mine[target]) == [], target
    for measure in ("deliveries", "documents"):
        assert verifier.differences(t1[measure], mine["T1"][measure]) == []

    # A register row that says "on paper" is a miss: the one place that decides it.
    monkeypatch.setattr(gather, "dispatch_electronic", lambda row: row.external_email is None)
    refresh(services, vn(2027, 3, 31, 13))
    t1 = ours("")["T1"]
    assert nd(t1) == (4, 6) and nd(t1["documents"]) == (3, 5)
    with services.session_factory() as s:
        d6_entry = s.scalars(
            select(LedgerEntry).where(
                LedgerEntry.target == "T1D",
                LedgerEntry.subject_kind == "document",
                LedgerEntry.subject_id == d6,
            )
        ).one()
        assert d6_entry.state == "missing" and "giấy" in (d6_entry.reason or "")
        paper = s.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T1", LedgerEntry.state == "missing")
        ).all()
        assert sorted(e.reason or "" for e in paper) == [
            "Chưa phát hành (gửi) đến cơ quan, đơn vị nhận; hạn gửi là 08/01/2027.",
            "Gửi bằng bản giấy đến vanphong@ubnd.example.vn.",
        ]
