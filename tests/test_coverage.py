"""Coverage ledger (targets T1-T4): figures by hand, misses, exemptions, tampering,
permissions, period parsing, exports."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from signing.validate import validate_pdf
from storage import ledger
from storage.ledger import LedgerEntry
from storage.ledger_counts import count_drift
from storage.models import AuditEvent, Document, Unit, User
from storage.registry_models import (
    Dispatch,
    IncomingEntry,
    ReportObligation,
    WorkFile,
    WorkFileItem,
)
from tests.conftest import (
    DEMO_PASSWORD,
    Api,
    PgCluster,
    closed,
    flip_byte,
    make_template,
    pg_template,
    rewrite_blob,
)
from tests.test_web import csrf_token, login
from tests.test_workflow_routes import act, upload_on
from workflow.coverage import ledger as coverage
from workflow.registry import issuance
from workflow.services import Services

NOW = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # 28/11/2026 in Vietnam

# A year of 2026 seen from its end: the documents are issued an hour before NOW, on an
# instance (certificates and all) made two hours before it.
pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW - timedelta(hours=1)


@pytest.fixture(scope="module")
def template_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(
        tmp_path_factory.mktemp("template-2026") / "instance", at=NOW - timedelta(hours=2)
    )


@pytest.fixture(scope="module")
def pg_template_instance(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster
) -> Iterator[tuple[Path, str]]:
    with pg_template(tmp_path_factory, pg_cluster, "_2026", at=NOW - timedelta(hours=2)) as made:
        yield made


@pytest.fixture
def cov_app(app: Flask) -> Flask:
    """The app (create_app registers the coverage pages and CLI)."""
    return app


def issue_via_full_route(api: Api, doc_type: str, subject: str) -> int:
    doc_id = upload_on(api, doc_type=doc_type, subject=subject)
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    task = api.task_for("bithu", doc_id)
    assert (
        api.post(
            "bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD}
        ).status_code
        == 200
    )
    act(api, "vanthu", doc_id, "issue")
    return doc_id


def at(month: int, day: int = 10) -> datetime:
    return datetime(2026, month, day, 3, 0, tzinfo=UTC)


def seed(api: Api, services: Services) -> dict[str, Any]:
    """A small year: 2 issued documents (BTG), 1 classified (VP), 1 dispatch, 1 incoming,
    work files and report obligations."""
    doc_a = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    doc_b = issue_via_full_route(api, "CV", "Công văn về hội nghị")
    with services.session_factory() as s:
        units = {u.code: u.id for u in s.scalars(select(Unit))}
        users = {u.username: u for u in s.scalars(select(User))}
        secret = issuance.register_classified(
            s, users["vanthu"], classification="mat", doc_type="QĐ", subject="Quyết định mật"
        )
        s.add(
            Dispatch(
                document_id=doc_a,
                recipient_unit_id=units["CS-DL"],
                dispatched_at=at(11, 27),
                dispatched_by_id=users["vanthu"].id,
                state="received",
            )
        )
        s.add(
            IncomingEntry(
                unit_id=units["CS-DL"],
                year=2026,
                number=1,
                source="external",
                blob_sha256="0" * 64,
                sender="UBND tỉnh",
                subject="Về việc báo cáo",
                doc_type="CV",
                state="received",
                received_at=at(5),
            )
        )
        owner = users["chuyenvien"].id

        def wf(
            code: str, unit: str, online: bool | None, classified: bool = False, closed: bool = True
        ) -> None:
            w = WorkFile(
                unit_id=units[unit],
                code=code,
                title=f"Hồ sơ {code}",
                owner_id=owner,
                classified=classified,
                opened_at=at(2),
                closed_at=at(6) if closed else None,
                processed_online=online,
            )
            s.add(w)
            s.flush()
            if online is False:
                s.add(WorkFileItem(work_file_id=w.id, offline_note="Trình giấy", added_by_id=owner))

        wf("BTG-1", "BTG", True)
        wf("BTG-2", "BTG", True)
        wf("BTG-3", "BTG", False)
        wf("BTG-4", "BTG", None, classified=True)
        wf("BTG-5", "BTG", None, closed=False)
        wf("DL-1", "CS-DL", True)
        wf("DL-2", "CS-DL", True)
        wf("DL-3", "CS-DL", False)

        def ob(kind: str, due: date, submitted: datetime | None, classified: bool = False) -> None:
            s.add(
                ReportObligation(
                    unit_id=units["CS-DL"],
                    report_type=kind,
                    title=f"Báo cáo {kind}",
                    period="2026",
                    due_date=due,
                    classified=classified,
                    submitted_at=submitted,
                )
            )

        ob("q1", date(2026, 4, 10), at(4, 5))  # on time
        ob("q2", date(2026, 7, 10), at(7, 20))  # late
        ob("q3", date(2026, 10, 10), None)  # missing
        ob("q4", date(2027, 1, 10), None)  # not due yet: not counted
        ob("mat", date(2026, 6, 30), None, classified=True)  # exempt
        s.commit()
        return {"a": doc_a, "b": doc_b, "secret": secret.id, "units": units}


def refresh(services: Services, now: datetime = NOW) -> Any:
    with services.session_factory() as s:
        result = coverage.refresh_ledger(s, services.blobs, services.trust, now=now)
        s.commit()
        return result


def figures(api: Api, query: str = "period=2026", user: str = "kiemtra") -> dict[str, Any]:
    r = api.get(user, f"/coverage?{query}")
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def nd(f: dict[str, Any]) -> tuple[int, int]:
    return f["numerator"], f["denominator"]


def assert_counts_exact(services: Services) -> None:
    """The summary counts equal COUNT(*) over the entries, and the figures read from
    them equal the figures grouped from the entries."""
    with services.engine.connect() as conn:
        assert count_drift(conn, LedgerEntry.__table__) == []
    with services.session_factory() as s:
        for unit_ids in (None, {1, 2, 3}):
            for start, end in (
                (date(2026, 1, 1), date(2026, 12, 31)),
                (date(2026, 3, 1), date(2026, 6, 30)),
            ):
                for by in (False, True):
                    counted = ledger.count_states(s, start, end, unit_ids, by_doc_type=by)
                    grouped = ledger.count_states(
                        s, start, end, unit_ids, by_doc_type=by, use_counts=False
                    )
                    assert sorted(counted, key=repr) == sorted(grouped, key=repr)
                counted_m = ledger.count_months(s, start, end, unit_ids)
                grouped_m = ledger.count_months(s, start, end, unit_ids, use_counts=False)
                assert sorted(counted_m, key=repr) == sorted(grouped_m, key=repr)
        # A range that is not whole months groups the entries.
        assert ledger.whole_months(date(2026, 1, 2), date(2026, 12, 31)) is None
        assert ledger.whole_months(date(2026, 1, 1), date(2026, 2, 28)) == (202601, 202602)


# The figures are SQL aggregates (by month, unit, state).
@pytest.mark.both_databases
def test_figures_misses_exemption_tamper(cov_app: Flask, api: Api, services: Services) -> None:
    ids = seed(api, services)
    # Issuance already recorded (and validated) both issued documents in the ledger;
    # the full refresh adds the rest (obligations, work files...) and validates nothing again.
    first = refresh(services)
    assert first.created > 0 and first.validated == 0
    assert refresh(services).created == 0  # idempotent

    f = figures(api)
    # T1 (seed's rules): doc A was dispatched to CS-DL, another organisation (electronic);
    # doc B, just issued, awaits dispatch within the grace period (pending: outside the
    # figure); the classified one is exempt; the document CS-DL received from outside does
    # not involve the bloc committee (out of T1): 1 / 1. (The earlier rules counted B as
    # a miss the second it was issued and CS-DL's own incoming document: 2 / 3.)
    assert nd(f["T1"]) == (1, 1) and f["T1"]["exempt"] == 1 and f["T1"]["met"] is True
    assert f["T1"]["pending"] == 1 and f["T1"]["counts"]["pending"] == 1
    assert f["T1"]["figure"] == 1.0 and f["T1"]["target"] == 1.0 and f["T1"]["gap"] == 0.0
    assert nd(f["T1"]["deliveries"]) == (1, 1) and f["T1"]["deliveries"]["definition"]
    # T2: A and B signed and valid, the classified one exempt: 2 / 2.
    assert nd(f["T2"]) == (2, 2) and f["T2"]["figure"] == 1.0 and f["T2"]["met"] is True
    # T3: bloc 2/3 (target 0.8: not met), grassroots 2/3 (target 0.6: met); 4 / 6 overall.
    assert nd(f["T3"]) == (4, 6) and f["T3"]["exempt"] == 1
    assert nd(f["T3"]["levels"]["bloc"]) == (2, 3) and f["T3"]["levels"]["bloc"]["target"] == 0.8
    assert f["T3"]["levels"]["grassroots"]["met"] is True and f["T3"]["met"] is False
    # T4: on time + late count as online; missing; not-due not counted; classified exempt.
    assert nd(f["T4"]) == (2, 3) and f["T4"]["counts"] == {
        "exempt": 1,
        "late": 1,
        "missing": 1,
        "submitted": 1,
    }

    # One unit (code or id), a quarter, a month, and the per type breakdown.
    btg = figures(api, "period=2026&unit=BTG")
    assert nd(btg["T1"]) == (1, 1) and nd(btg["T3"]) == (2, 3) and btg["T3"]["target"] == 0.8
    assert nd(figures(api, f"period=2026-Q2&unit={ids['units']['CS-DL']}")["T3"]) == (2, 3)
    assert figures(api, "period=2026-09")["T2"]["figure"] is None
    by = figures(api, "period=2026&by=doc_type")
    assert nd(by["T2"]["by_doc_type"]["NQ"]) == (1, 1)

    assert api.get("kiemtra", "/coverage/misses?target=T1&period=2026").get_json()["total"] == 0
    # Past the grace period (2 working days after its issue date), B is a miss.
    refresh(services, after_grace(services, ids["b"]))
    assert nd(figures(api)["T1"]) == (1, 2)
    misses = api.get("kiemtra", "/coverage/misses?target=T1&period=2026").get_json()
    assert misses["total"] == 1 and misses["items"][0]["id"] == ids["b"]
    assert_counts_exact(services)
    assert misses["items"][0]["symbol"] == "02-CV/ĐUK" and misses["items"][0]["state"] == "missing"

    # A special-rule exemption of B: recorded by the auditor, who is the approver.
    bad = api.post("kiemtra", "/coverage/exemptions", json={"document_id": ids["b"], "reason": ""})
    assert bad.status_code == 422
    assert (
        api.post(
            "truongban",
            "/coverage/exemptions",
            json={"document_id": ids["b"], "reason": "x", "decision": "y"},
        ).status_code
        == 403
    )
    ok = api.post(
        "kiemtra",
        "/coverage/exemptions",
        json={
            "document_id": ids["b"],
            "reason": "Văn bản theo quy chế đặc thù",
            "decision": "Quyết định số 12-QĐ/TU ngày 01/10/2026",
        },
    )
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["state"] == "exempt"
    again = api.post(
        "kiemtra",
        "/coverage/exemptions",
        json={"document_id": ids["b"], "reason": "a", "decision": "b"},
    )
    assert again.status_code == 409
    f = figures(api)
    assert nd(f["T2"]) == (1, 1) and f["T2"]["exempt"] == 2
    with services.session_factory() as s:
        entry = s.scalars(
            select(LedgerEntry).where(
                LedgerEntry.target == "T2", LedgerEntry.subject_id == ids["b"]
            )
        ).one()
        kiemtra = s.scalars(select(User).where(User.username == "kiemtra")).one()
        assert entry.exempt_approved_by_id == kiemtra.id and entry.exempt_decision.startswith(
            "Quyết định"
        )

    # Tamper with doc A's issued blob: revalidate flips it to signed_invalid, audited.
    with services.session_factory() as s:
        doc = s.get(Document, ids["a"])
        assert doc is not None
        key = doc.current_revision.blob_sha256
        entry = s.scalars(
            select(LedgerEntry).where(
                LedgerEntry.target == "T2", LedgerEntry.subject_id == ids["a"]
            )
        ).one()
        assert (
            entry.state == "signed_valid" and entry.pdf_sha256 == doc.current_revision.blob_sha256
        )
        assert len(entry.evidence["signatures"]) == 2
    rewrite_blob(services.blobs, key, flip_byte)
    with services.session_factory() as s:
        result = coverage.revalidate(s, services.blobs, services.trust, NOW)
        s.commit()
    assert [(c.subject_id, c.before, c.after) for c in result.changes] == [
        (ids["a"], "signed_valid", "signed_invalid")
    ]
    with services.session_factory() as s:
        logged = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "ledger:state_changed")
            .order_by(AuditEvent.seq)  # the log's order: PostgreSQL promises no other
        ).all()
        # The exemption of B (signed_valid -> exempt), then the tampering of A.
        t2 = [e for e in logged if e.details["target"] == "T2"]
        assert [(e.details["subject_id"], e.details["to"]) for e in t2] == [
            (ids["b"], "exempt"),
            (ids["a"], "signed_invalid"),
        ]
    f = figures(api)
    assert nd(f["T2"]) == (0, 1) and f["T2"]["met"] is False
    assert_counts_exact(services)
    miss = api.get("kiemtra", "/coverage/misses?target=T2&period=2026").get_json()["items"]
    assert miss[0]["id"] == ids["a"] and miss[0]["state"] == "signed_invalid" and miss[0]["reason"]


def test_permissions_and_periods(cov_app: Flask, api: Api) -> None:
    for user in ("kiemtra", "admin", "truongban", "bithu"):
        assert api.get(user, "/coverage?period=2026").status_code == 200
    for user in ("chuyenvien", "vanthu"):
        assert api.get(user, "/coverage").status_code == 403
    for bad in ("2026-13", "2026-Q5", "26", "2026-9", "năm nay"):
        r = api.get("kiemtra", f"/coverage?period={bad}")
        assert r.status_code == 422 and "Kỳ thống kê không hợp lệ" in r.get_json()["detail"]
    assert api.get("kiemtra", "/coverage?unit=KHONG-CO").status_code == 404
    assert api.get("kiemtra", "/coverage/misses?target=T9").status_code == 422
    empty = figures(api, "period=2026")
    assert empty["T1"]["figure"] is None and empty["T1"]["denominator"] == 0
    assert empty["T3"]["target"] == 0.8 and coverage.t3_target("grassroots", 2030) == 0.7
    assert coverage.t3_target("bloc", 2029) == 0.8 and coverage.t3_target("bloc", 2031) == 0.9


def after_grace(services: Services, doc_id: int) -> datetime:
    """A moment past the grace period of a document issued now (the wall clock)."""
    with services.session_factory() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.issued_at is not None
        return doc.issued_at + timedelta(days=7)


def test_dashboard_exports_and_signed_report(cov_app: Flask, api: Api, services: Services) -> None:
    ids = seed(api, services)
    # Past B's grace period: it is a T1 miss (within it, it would await dispatch).
    refresh(services, after_grace(services, ids["b"]))
    client = cov_app.test_client()
    login(client, "chuyenvien")
    assert client.get("/coverage").status_code == 403
    client = cov_app.test_client()
    login(client, "kiemtra")
    page = client.get("/coverage?period=2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "<title id=" in html and "66,7%" in html
    assert "/coverage/misses?target=T1" in html
    misses = client.get("/coverage/misses?target=T1&period=2026").get_data(as_text=True)
    assert "02-CV/ĐUK" in misses
    csv_body = client.get("/coverage/export.csv?period=2026").data
    assert csv_body.startswith("\ufeff".encode()) and "Chỉ tiêu".encode() in csv_body
    xlsx = client.get("/coverage/export.xlsx?period=2026")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    pdf = closed(client.get("/coverage/report.pdf?period=2026"))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    tmp = services.blobs.new_temp_path(".pdf")
    tmp.write_bytes(pdf.data)
    report = validate_pdf(tmp, services.trust)
    tmp.unlink()
    assert report.bottom_line and report.signatures[0].signer_name
    token = csrf_token(client, "/coverage?period=2026")
    done = client.post("/coverage/revalidate?period=2026", data={"csrf_token": token})
    assert done.status_code == 302
    result = cov_app.test_cli_runner().invoke(args=["revalidate"])
    assert result.exit_code == 0 and "documents validated" in result.output


# INSERT .. ON CONFLICT, savepoints and rollbacks: each database's own.
@pytest.mark.both_databases
def test_counts_follow_every_write_rollback_and_savepoint(services: Services) -> None:
    """New, moved (state, unit, month, type), deleted entries; a rollback; a savepoint
    rolled back and one released: the summary counts stay exact."""
    with services.session_factory() as s:
        units = sorted(s.scalars(select(Unit.id)))[:2]

        def entry(i: int, state: str = "missing") -> LedgerEntry:
            return LedgerEntry(
                target="T1",
                unit_id=units[0],
                doc_type="CV",
                period_date=date(2026, 3, i),
                subject_kind="test",
                subject_id=i,
                state=state,
                evidence={},
            )

        s.add_all([entry(i) for i in range(1, 6)])
        s.commit()
        e1, e2, e3, e4, e5 = s.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.subject_kind == "test")
            .order_by(LedgerEntry.subject_id)
        )
        e1.state = "electronic"
        e2.unit_id = units[1]
        e3.period_date = date(2026, 4, 1)
        e4.doc_type = None
        s.delete(e5)
        s.flush()
        e1.state = "exempt"  # twice in one transaction
        s.commit()
        assert_counts_exact(services)

        e2.state = "electronic"
        s.add(entry(9))
        s.flush()
        s.rollback()
        assert_counts_exact(services)

        with s.begin_nested():
            s.add(entry(10))
        try:
            with s.begin_nested():
                s.add(entry(11))
                s.flush()
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        s.commit()
        assert_counts_exact(services)
        both = ledger.count_states(s, date(2026, 3, 1), date(2026, 4, 30))
        assert sum(r.count for r in both if r.target == "T1") == 5


# Concurrent writers: PostgreSQL's row locks, SQLite's single writer.
@pytest.mark.both_databases
def test_concurrent_writers_keep_the_counts_exact(services: Services) -> None:
    """Writers on the same counter rows, in parallel (PostgreSQL: upserts at commit, in
    key order; SQLite: one writer at a time)."""
    with services.session_factory() as s:
        unit = min(s.scalars(select(Unit.id)))
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def writer(base: int) -> None:
        try:
            start.wait()
            for batch in range(4):
                with services.session_factory() as s:
                    for i in range(5):
                        n = base + batch * 10 + i
                        s.add(
                            LedgerEntry(
                                target="T3",
                                unit_id=unit,
                                period_date=date(2026, 6, 1 + n % 28),
                                subject_kind="race",
                                subject_id=n,
                                state="online",
                                evidence={},
                            )
                        )
                    s.flush()
                    for e in s.scalars(
                        select(LedgerEntry).where(
                            LedgerEntry.subject_kind == "race",
                            LedgerEntry.subject_id >= base,
                            LedgerEntry.subject_id < base + 1000,
                        )
                    ):
                        e.state = "offline" if e.state == "online" else "online"
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert_counts_exact(services)
    with services.session_factory() as s:
        rows = ledger.count_states(s, date(2026, 6, 1), date(2026, 6, 30))
    assert sum(r.count for r in rows if r.target == "T3") == 60
