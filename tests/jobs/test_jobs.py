"""Each periodic job's effect, run through the runner with the time passed in: report
obligations, overdue reports in T4, reminders, re-validation of T2, the TSA-stamped
checkpoint of the audit-log and ledger heads, stale bulk signing jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select, update

from signing.certutil import cert_pem
from storage.audit import verify_chain
from storage.audit_models import AuditCheckpoint
from storage.checkpoints import checkpoint_digest, token_info
from storage.heads import LEDGER_HEAD, ledger_head
from storage.job_models import BulkJob
from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Certificate, Unit, User
from storage.registry_models import Notification, ReportObligation
from storage.types import utcnow
from tests.conftest import Api, flip_byte, rewrite_blob
from tests.jobs.conftest import JOB_NAMES, NOW, Clock, runs
from tests.test_coverage import issue_via_full_route
from tests.test_reminders import overdue_document
from trinhky_verify import pdfsig
from workflow.jobs.runner import Runner
from workflow.jobs.schedule import due_slot
from workflow.records import reporting
from workflow.services import Services
from workflow.vocab import VN_TZ


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)  # type: ignore[misc]


def count(services: Services, model: object, *where: object) -> int:
    with services.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def t4_entries(services: Services) -> dict[int, str]:
    with services.session_factory() as session:
        rows = session.execute(
            select(LedgerEntry.subject_id, LedgerEntry.state).where(LedgerEntry.target == "T4")
        )
        return {int(i): str(s) for i, s in rows}


# --- obligations -------------------------------------------------------------------------------


def test_obligations_job_creates_the_current_periods_once(
    services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    with services.session_factory() as session:
        closed = session.scalars(select(Unit).where(Unit.code == "CS-NH")).one()
        closed.active = False  # a deactivated unit owes nothing new
        session.commit()
        units = {u.id: u for u in session.scalars(select(Unit).where(Unit.active.is_(True)))}
    runner = make_runner()
    outcome = runner.tick("obligations")
    assert outcome.status == "ok", outcome.error
    assert outcome.due_at == vn(2026, 11, 10, 0, 0)  # the daily slot: midnight, Vietnam time

    with services.session_factory() as session:
        made = session.scalars(select(ReportObligation)).all()
    expected = {
        (unit_id, kind.code, period)
        for kind in reporting.REGIME
        for period in ("2026-11", "2026-Q4", "2026")
        if reporting.parse_period(period).frequency == kind.frequency
        for unit_id, unit in units.items()
        if unit.kind in kind.unit_kinds
    }
    assert {(o.unit_id, o.report_type, o.period) for o in made} == expected
    assert len(made) == len(expected) > 0
    assert all(o.unit_id != closed.id for o in made)
    assert f"{len(expected)} nghĩa vụ báo cáo mới" in (outcome.summary or "")

    clock.advance(timedelta(days=1))
    again = runner.tick("obligations")
    assert again.status == "ok" and again.summary is not None
    assert again.summary.startswith("0 nghĩa vụ báo cáo mới")
    assert count(services, ReportObligation) == len(expected)
    assert [r.outcome for r in runs(services, "obligations")] == ["ok", "ok"]


# --- overdue reports in T4 --------------------------------------------------------------------


def test_overdue_job_enters_missed_reports_in_t4(
    services: Services, make_runner: Callable[..., Runner], clock: Clock, api: Api
) -> None:
    with services.session_factory() as session:
        generated = reporting.generate_obligations(session, "2026-Q3")
        session.commit()
        ids = {o.id for o in generated.created}
        due = {o.due_date for o in generated.created}
    assert ids and due == {vn(2026, 10, 10).date()}
    before = api.get("kiemtra", "/coverage?period=2026").get_json()["T4"]
    runner = make_runner()

    clock.now = vn(2026, 10, 10, 23, 30)  # the due date itself: not late yet
    assert runner.tick("overdue").summary == (
        "0 nghĩa vụ báo cáo quá hạn được ghi vào sổ chỉ tiêu (T4)"
    )
    assert ids.isdisjoint(t4_entries(services))

    clock.now = vn(2026, 10, 11, 0, 5)
    outcome = runner.tick("overdue")
    assert outcome.status == "ok" and outcome.due_at == vn(2026, 10, 11, 0, 0)
    assert outcome.summary == f"{len(ids)} nghĩa vụ báo cáo quá hạn được ghi vào sổ chỉ tiêu (T4)"
    entries = t4_entries(services)
    assert {entries[i] for i in ids} == {"missing"}

    after = api.get("kiemtra", "/coverage?period=2026").get_json()["T4"]
    assert after["denominator"] == before["denominator"] + len(ids)
    assert after["numerator"] == before["numerator"]
    misses = api.get("kiemtra", "/coverage/misses?target=T4&period=2026&limit=500").get_json()
    assert ids <= {m["id"] for m in misses["items"] if m["kind"] == "report"}

    clock.advance(timedelta(hours=1))
    assert runner.tick("overdue").summary is not None
    assert t4_entries(services) == entries  # nothing twice


# --- reminders --------------------------------------------------------------------------------------


def test_reminders_job_reminds_an_overdue_task_once_a_day(
    services: Services, make_runner: Callable[..., Runner], clock: Clock, api: Api
) -> None:
    doc_id = overdue_document(api)  # due in one working day from now
    with services.session_factory() as session:
        head = session.scalars(select(User).where(User.username == "truongban")).one().id
    mine = (
        Notification.user_id == head,
        Notification.document_id == doc_id,
        Notification.kind == "reminder",
    )
    clock.now = utcnow() + timedelta(days=10)
    runner = make_runner()
    first = runner.tick("reminders")
    assert first.status == "ok" and first.summary is not None
    assert first.summary.startswith("đôn đốc 1 việc quá hạn")
    assert count(services, Notification, *mine) == 1
    clock.advance(timedelta(hours=1))
    assert (runner.tick("reminders").summary or "").startswith("đôn đốc 0 việc")
    assert count(services, Notification, *mine) == 1


# --- re-validation (T2) ---------------------------------------------------------------------


def test_revalidation_job_catches_a_changed_stored_file(
    services: Services, make_runner: Callable[..., Runner], clock: Clock, api: Api
) -> None:
    doc_id = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số năm 2027")
    with services.session_factory() as session:
        entry = session.scalars(
            select(LedgerEntry).where(LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id)
        ).one()
        assert entry.state == "signed_valid"
        key = str(entry.pdf_sha256)
    rewrite_blob(services.blobs, key, flip_byte)

    clock.now = utcnow()
    outcome = make_runner().tick("revalidation")
    assert outcome.status == "ok", outcome.error
    assert "1 chữ ký không còn hợp lệ" in (outcome.summary or "")
    with services.session_factory() as session:
        state = session.scalars(
            select(LedgerEntry.state).where(
                LedgerEntry.target == "T2", LedgerEntry.subject_id == doc_id
            )
        ).one()
        changed = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "ledger:state_changed")
            .order_by(AuditEvent.seq)
        ).all()
    assert state == "signed_invalid"
    assert [(e.details["from"], e.details["to"]) for e in changed] == [
        ("signed_valid", "signed_invalid")
    ]


# --- checkpoints of both heads --------------------------------------------------------------


def embedded_pki(services: Services) -> pdfsig.Pki:
    """The embedded PKI as a bundle carries it (root, issuing CA, TSA; the CRL)."""
    pki = services.trust_services.pki
    others = [pki.issuing_cert, pki.tsa.cert]
    from asn1crypto import crl

    return pdfsig.Pki(
        pdfsig.load_certs(cert_pem(pki.root_cert)),
        [c for cert in others for c in pdfsig.load_certs(cert_pem(cert))],
        [crl.CertificateList.load(services.trust_services.crl())],
    )


def checkpoints(services: Services) -> list[AuditCheckpoint]:
    with services.session_factory() as session:
        return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))


def ledger_heads(services: Services) -> list[AuditEvent]:
    with services.session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == LEDGER_HEAD).order_by(AuditEvent.seq)
            )
        )


def test_checkpoint_job_stamps_the_audit_and_ledger_heads(
    services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    with services.session_factory() as session:
        reporting.generate_obligations(session, "2026-Q3")
        session.commit()
    runner = make_runner()
    clock.now = vn(2026, 10, 12, 9, 0)
    assert runner.tick("overdue").status == "ok"  # the ledger has entries now

    clock.now = vn(2026, 10, 12, 9, 20)
    first = runner.tick("checkpoints")
    assert first.status == "ok", first.error
    assert first.due_at == vn(2026, 10, 12, 9, 0)
    (cp,) = checkpoints(services)
    (head_event,) = ledger_heads(services)
    with services.session_factory() as session:
        head = ledger_head(session)
    assert head.entries > 0
    assert head_event.details == head.details()  # the ledger's digest, in the chain
    assert head_event.at == clock.now
    assert cp.seq == head_event.seq and cp.head_hash == head_event.hash  # stamped with it
    assert cp.created_at == clock.now
    assert cp.timestamp_token is not None and "TSA" in (cp.tsa_name or "")
    info = token_info(cp.timestamp_token)
    assert info is not None and info.imprint == checkpoint_digest(cp.head_hash)
    problem = pdfsig.token_signature(
        cp.timestamp_token, checkpoint_digest(cp.head_hash), embedded_pki(services), utcnow()
    )
    assert problem is None  # signature valid, TSA chains to the embedded root
    assert f"điểm kiểm tra #{cp.id} có dấu thời gian tại bản ghi số {cp.seq}" in (
        first.summary or ""
    )

    # Nothing new: neither a second ledger head nor a second checkpoint.
    clock.advance(timedelta(hours=1))
    quiet = runner.tick("checkpoints")
    assert quiet.status == "ok" and "không có bản ghi mới" in (quiet.summary or "")
    assert len(checkpoints(services)) == 1 and len(ledger_heads(services)) == 1

    # The ledger changes: a new head, stamped again.
    with services.session_factory() as session:
        reporting.generate_obligations(session, "2026-09")
        session.commit()
    clock.now = vn(2026, 10, 12, 11, 5)
    assert runner.tick("overdue").status == "ok"
    clock.now = vn(2026, 10, 12, 11, 10)
    assert runner.tick("checkpoints").status == "ok"
    cps, heads = checkpoints(services), ledger_heads(services)
    assert len(cps) == 2 and len(heads) == 2
    assert heads[1].details["entries"] > heads[0].details["entries"]
    assert heads[1].details["sha256"] != heads[0].details["sha256"]
    assert cps[1].seq == heads[1].seq
    with services.session_factory() as session:
        report = verify_chain(session)
    assert report.ok and report.checkpoints_checked == 2 and report.checkpoints_ok


def test_checkpoint_job_refuses_a_broken_chain(
    services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    from tests.test_audit_log import EVENTS, tampering

    with tampering(services) as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 1).values(object_id="999"))
    before = count(services, AuditEvent)
    outcome = make_runner().tick("checkpoints")
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("Chuỗi nhật ký kiểm toán không toàn vẹn tại bản ghi số 1")
    assert checkpoints(services) == [] and count(services, AuditEvent) == before
    (run,) = runs(services, "checkpoints")
    assert (run.outcome, run.error, run.finished_at) == ("failed", outcome.error, clock.now)


# --- stale bulk signing jobs ----------------------------------------------------------------


def test_bulk_sweep_fails_jobs_whose_process_stopped(
    services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    with services.session_factory() as session:
        signer = session.scalars(select(User).where(User.username == "bithu")).one()
        cert = session.scalars(select(Certificate).where(Certificate.user_id == signer.id)).first()
        assert cert is not None
        long_ago = utcnow() - timedelta(hours=2)
        for job_id, beat in (("a" * 32, long_ago), ("b" * 32, utcnow())):
            session.add(
                BulkJob(
                    id=job_id,
                    owner_id=signer.id,
                    certificate_id=cert.id,
                    status="running",
                    total=1,
                    created_at=beat,
                    updated_at=beat,
                )
            )
        session.commit()
    outcome = make_runner().tick("bulk-sweep")
    assert outcome.summary == "1 lượt ký hàng loạt bị gián đoạn được đánh dấu lỗi"
    with services.session_factory() as session:
        states = {i: s for i, s in session.execute(select(BulkJob.id, BulkJob.status))}
    assert states == {"a" * 32: "failed", "b" * 32: "running"}


def test_every_job_runs_on_a_fresh_instance(
    app: Flask, services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    clock.now = NOW
    outcomes = make_runner().run_all()
    assert [(o.job, o.status) for o in outcomes] == [(name, "ok") for name in JOB_NAMES]
    assert {r.due_at for r in runs(services)} == {
        due_slot(NOW, timedelta(hours=1)),
        due_slot(NOW, timedelta(days=1)),
        due_slot(NOW, timedelta(minutes=1)),
        due_slot(NOW, timedelta(minutes=10)),
    }
    (cp,) = checkpoints(services)
    assert cp.timestamp_token is not None
