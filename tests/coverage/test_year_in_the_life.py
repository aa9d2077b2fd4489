"""Issue #11: "a year in the life" (2027) of the bloc committee, checked target by target.

Hundreds of register rows are written directly (the registers as a clerk fills them:
documents of the grassroots committees sent to the bloc committee, documents arriving
from outside, work files, report obligations), and every special case goes through the
real API and use-cases with the clock frozen on its day: documents issued on the full
route (signed at level B-B), one dispatched partly on paper, one recalled, one signed on
a route without issuance, classified entries, documents received on paper, a report on
time, a late one, a rejected one (returned on receipt), one delivered on paper, an issued
document awaiting dispatch inside and past the grace period (2 working days).

The ledger is refreshed in full on Wednesday 29/12/2027 12:00 (the scheduled job: the
"as of"), and every T1-T4 figure of ``GET /api/v1/coverage`` equals the arithmetic
written here by hand, as does the offline verifier's copy recomputed from the audit
bundle."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from storage.models import Document, Unit, User
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation, WorkFile
from tests.conftest import DEMO_PASSWORD, Api, app_config, flip_byte, rewrite_blob
from tests.test_coverage import issue_via_full_route
from tests.test_records import board_signer, signed_report
from tests.test_workflow_routes import act, upload_on
from trinhky_verify import figures as verifier
from workflow import create_app
from workflow.audit.web import checkpoint_now
from workflow.coverage import ledger as coverage
from workflow.registry import issuance
from workflow.services import EXTENSION_KEY, Services
from workflow.vocab import VN_TZ

REPO = Path(__file__).resolve().parents[2]
AS_OF = datetime(2027, 12, 29, 12, 0, tzinfo=VN_TZ)  # a Wednesday
GRASSROOTS = ("CS-DL", "CS-NH", "CS-GDDT")
BOARDS = ("BTC", "BTG", "BKT")


def vn(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=VN_TZ)


def nd(f: dict[str, Any]) -> tuple[int, int]:
    return f["numerator"], f["denominator"]


def figures(api: Api, query: str) -> dict[str, Any]:
    r = api.get("kiemtra", f"/coverage?{query}")
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


@dataclass(frozen=True)
class World:
    app: Flask
    api: Api
    services: Services
    clock: Any
    """time-machine's coordinates: ``move_to`` moves the frozen clock."""


def travel(clock: Any, api: Api, moment: datetime) -> None:
    """Move the clock (the API's tokens expire meanwhile: log in again)."""
    clock.move_to(moment, tick=True)
    api.tokens.clear()


# --- the registers, written in bulk -------------------------------------------------------------


def write_registers(services: Services) -> dict[str, int]:
    """Per month of 2027 (12 months), straight into the registers:

    - each grassroots committee issues 4 documents sent electronically to the bloc
      committee (3 x 4 = 12 a month: T1 electronic, counted for the sender);
    - CS-DL issues 1 more sent to the bloc committee on paper (T1 missing);
    - CS-DL issues 1 sent to CS-NH only (not the bloc committee's business: out of T1);
    - the committee's office receives 6 documents from outside electronically (T1
      electronic, counted for VP) and 1 on paper (T1 missing);
    - BTG closes 2 work files processed online, BTC closes 1 kept on paper (T3);
    plus one classified work file (BKT, June: exempt).
    """
    counts = {"documents": 0, "incoming": 0, "workfiles": 0}
    with services.session_factory() as s:
        units = {u.code: u.id for u in s.scalars(select(Unit))}
        clerk = s.scalars(select(User).where(User.username == "vanthu")).one().id
        owner = s.scalars(select(User).where(User.username == "chuyenvien")).one().id
        n = iter(range(1, 10_000))

        def doc(unit: str, issued: datetime) -> int:
            k = next(n)
            row = Document(
                unit_id=units[unit],
                issuer_unit_id=units[unit],
                created_by_id=clerk,
                subject=f"Văn bản số {k}",
                doc_type="CV",
                state="issued",
                issued_at=issued,
                symbol=f"{k:03d}-CV/YEAR",
                number=k,
                year=2027,
            )
            s.add(row)
            s.flush()
            counts["documents"] += 1
            return row.id

        def send(doc_id: int, at: datetime, unit: str, form: str = "electronic") -> None:
            s.add(
                Dispatch(
                    document_id=doc_id,
                    recipient_unit_id=units[unit],
                    dispatched_at=at,
                    dispatched_by_id=clerk,
                    state="sent" if form == "electronic" else "paper",
                    form=form,
                )
            )

        def arrived(at: datetime, form: str) -> None:
            s.add(
                IncomingEntry(
                    unit_id=units["VP"],
                    year=2027,
                    number=next(n),
                    source="external",
                    blob_sha256="0" * 64 if form == "electronic" else None,
                    sender="UBND tỉnh",
                    subject="Về việc phối hợp",
                    doc_type="CV",
                    state="received",
                    received_at=at,
                    form=form,
                )
            )
            counts["incoming"] += 1

        def workfile(unit: str, closed: datetime, **kw: Any) -> None:
            s.add(
                WorkFile(
                    unit_id=units[unit],
                    code=f"HS-{next(n)}",
                    title="Hồ sơ công việc",
                    owner_id=owner,
                    opened_at=closed - timedelta(days=20),
                    closed_at=closed,
                    **kw,
                )
            )
            counts["workfiles"] += 1

        for month in range(1, 13):
            for unit in GRASSROOTS:
                for _ in range(4):
                    send(doc(unit, vn(2027, month, 5)), vn(2027, month, 6), "DUK")
            send(doc("CS-DL", vn(2027, month, 7)), vn(2027, month, 8), "DUK", "paper")
            send(doc("CS-DL", vn(2027, month, 7)), vn(2027, month, 8), "CS-NH")
            for day in range(10, 16):
                arrived(vn(2027, month, day), "electronic")
            arrived(vn(2027, month, 16), "paper")
            workfile("BTG", vn(2027, month, 20), processed_online=True)
            workfile("BTG", vn(2027, month, 21), processed_online=True)
            workfile("BTC", vn(2027, month, 22), processed_online=False, form="paper")
        workfile("BKT", vn(2027, 6, 25), classified=True, processed_online=True)
        s.commit()
    return counts


def settle_obligations(services: Services, special: set[int]) -> None:
    """The reports not handled through the API, as the registers hold them: every due
    board report of January-November and grassroots report of Q1-Q3 delivered the day
    before its due date and received, except BTC's June and July reports (never sent)
    and CS-NH's Q2 report (delivered 3 days late)."""
    with services.session_factory() as s:
        for ob in s.scalars(select(ReportObligation)):
            if ob.id in special or ob.due_date >= AS_OF.date():
                continue
            if ob.unit.code == "BTC" and ob.period in ("2027-06", "2027-07"):
                continue
            days = 3 if (ob.unit.code, ob.period) == ("CS-NH", "2027-Q2") else -1
            at = datetime.combine(ob.due_date + timedelta(days=days), vn(2027, 1, 1).timetz())
            ob.sent_at = at
            ob.submitted_at = at + timedelta(hours=2)
        s.commit()


# --- the year -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(template_instance: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One app on a copy of the initialised instance (SQLite), for the whole module, with
    the clock frozen (moved by :func:`travel`)."""
    instance = tmp_path_factory.mktemp("year") / "instance"
    shutil.copytree(template_instance, instance)
    database_url = f"sqlite:///{instance / 'trinhky.sqlite3'}"
    application = create_app(app_config(instance, DATABASE_URL=database_url))
    traveller = time_machine.travel(vn(2027, 1, 2), tick=True)
    clock = traveller.start()
    try:
        yield World(application, Api(application), application.extensions[EXTENSION_KEY], clock)
    finally:
        traveller.stop()
        application.extensions[EXTENSION_KEY].engine.dispose()


@pytest.fixture(scope="module")
def year(world: World) -> dict[str, Any]:
    """The year 2027, built once; the ledger refreshed in full at :data:`AS_OF`."""
    app, api, services, clock = world.app, world.api, world.services, world.clock
    bulk = write_registers(services)
    ids: dict[str, Any] = {"bulk": bulk}
    units = {u: i for u, i in _unit_ids(services).items()}
    runner = app.test_cli_runner()
    travel(clock, api, vn(2027, 1, 2))
    for m in range(1, 13):
        assert (
            runner.invoke(args=["generate-obligations", "--period", f"2027-{m:02d}"]).exit_code == 0
        )
    for q in range(1, 5):
        assert runner.invoke(args=["generate-obligations", "--period", f"2027-Q{q}"]).exit_code == 0
    board_signer(services)

    def obligation(unit: str, period: str) -> int:
        with services.session_factory() as s:
            return s.scalars(
                select(ReportObligation.id)
                .join(Unit, Unit.id == ReportObligation.unit_id)
                .where(Unit.code == unit, ReportObligation.period == period)
            ).one()

    def report(unit_period: str, at: datetime) -> dict[str, Any]:
        travel(clock, api, at)
        doc = signed_report(api)
        ob = obligation("BTG", unit_period)
        sent = api.post(
            "chuyenvien", f"/reports/obligations/{ob}/submit", json={"document_id": doc}
        )
        assert sent.status_code == 200, sent.get_json()
        return {"doc": doc, "ob": ob, "entry": sent.get_json()["incoming_entry_id"]}

    # T4 through the API. January's BTG report: sent 3/2, received the same day (due 5/2).
    jan = report("2027-01", vn(2027, 2, 3))
    assert api.post("vanthu", f"/incoming/{jan['entry']}/receive").get_json()["state"] == "received"
    # February's: sent 10/3, after its due date (5/3): late.
    feb = report("2027-02", vn(2027, 3, 10))
    assert api.post("vanthu", f"/incoming/{feb['entry']}/receive").get_json()["state"] == "received"
    # March's: its file arrives broken, the clerk's receipt returns it (rejected); the
    # unit never sends another one (the stored file is put right again afterwards).
    mar = report("2027-03", vn(2027, 4, 2))
    with services.session_factory() as s:
        key = s.get(Document, mar["doc"]).current_revision.blob_sha256  # type: ignore[union-attr]
    rewrite_blob(services.blobs, key, flip_byte)
    returned = api.post("vanthu", f"/incoming/{mar['entry']}/receive")
    assert returned.get_json()["state"] == "returned"
    rewrite_blob(services.blobs, key, flip_byte)  # the same bit again: the original file
    # BKT's April report delivered on paper, recorded by the committee's clerk.
    travel(clock, api, vn(2027, 5, 4))
    bkt = obligation("BKT", "2027-04")
    paper = api.post("vanthu", f"/reports/obligations/{bkt}/paper", json={})
    assert paper.status_code == 200, paper.get_json()
    ids["reports"] = [jan["doc"], feb["doc"], mar["doc"]]
    settle_obligations(services, {jan["ob"], feb["ob"], mar["ob"], bkt})

    # T1 and T2 through the API, in June.
    travel(clock, api, vn(2027, 6, 14))  # a Monday
    a = issue_via_full_route(api, "NQ", "Nghị quyết về chuyển đổi số")
    b = issue_via_full_route(api, "CV", "Công văn về hội nghị sơ kết")
    c = issue_via_full_route(api, "TB", "Thông báo (thu hồi trước khi gửi)")
    sent = api.post(
        "vanthu", f"/documents/{a}/dispatch", json={"recipients": [units["CS-DL"], units["CS-NH"]]}
    )
    assert sent.status_code == 201, sent.get_json()
    sent = api.post("vanthu", f"/documents/{b}/dispatch", json={"recipients": [units["CS-DL"]]})
    assert sent.status_code == 201, sent.get_json()
    on_paper = api.post(
        "vanthu", f"/documents/{b}/paper-dispatches", json={"external": ["UBND tỉnh"]}
    )
    assert on_paper.status_code == 201, on_paper.get_json()
    recalled = api.post("vanthu", f"/documents/{c}/recall", json={"reason": "Sai thể thức"})
    assert recalled.status_code == 200, recalled.get_json()
    # A plan signed at the end of a route without issuance (T2 only).
    plan = upload_on(api, route="thuong-truc-ky", doc_type="KH", subject="Kế hoạch năm 2027")
    act(api, "truongban", plan, "approve")
    task = api.task_for("bithu", plan)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    # Classified: a document registered as metadata only, one received on paper.
    with services.session_factory() as s:
        vanthu = s.scalars(select(User).where(User.username == "vanthu")).one()
        secret = issuance.register_classified(
            s, vanthu, classification="mat", doc_type="QĐ", subject="Quyết định mật"
        )
        s.commit()
        ids["secret"] = secret.id
    secret_in = api.post(
        "vanthu",
        "/incoming/paper",
        json={"sender": "Tỉnh ủy", "classification": "tuyet_mat", "subject": ""},
    )
    assert secret_in.status_code == 201, secret_in.get_json()
    # A document from outside received on paper by the committee's clerk.
    paper_in = api.post(
        "vanthu",
        "/incoming/paper",
        json={"sender": "Tỉnh ủy", "subject": "Về việc chuyển đổi số", "doc_type": "CV"},
    )
    assert paper_in.status_code == 201, paper_in.get_json()

    # Signed by hand at a grassroots committee, sent to the bloc committee on paper; the
    # committee's clerk registers the paper copy (matched: one exchange, counted once).
    hand = api.post(
        "vanthugd",
        "/outgoing/paper",
        json={
            "doc_type": "NQ",
            "subject": "Nghị quyết ký tay của Đảng ủy Sở",
            "signer": "Nguyễn Văn An",
            "signed_on": "2027-06-14",
            "unit": "CS-GDDT",
        },
    )
    assert hand.status_code == 201, hand.get_json()
    hand_doc = hand.get_json()
    posted = api.post(
        "vanthugd",
        f"/documents/{hand_doc['id']}/paper-dispatches",
        json={"recipients": [units["DUK"]]},
    )
    assert posted.status_code == 201, posted.get_json()
    copy = api.post(
        "vanthu",
        "/incoming/paper",
        json={
            "sender_unit": "CS-GDDT",
            "original_symbol": hand_doc["symbol"],
            "subject": hand_doc["subject"],
            "doc_type": "NQ",
        },
    )
    assert copy.status_code == 201 and copy.get_json()["document_id"] == hand_doc["id"]

    # December: issued and not dispatched, past (Mon 20/12: deadline Wed 22/12) and
    # inside (Tue 28/12: deadline Thu 30/12) the grace period at the refresh of 29/12.
    travel(clock, api, vn(2027, 12, 20, 10))
    late = issue_via_full_route(api, "CV", "Công văn chưa gửi (quá hạn)")
    travel(clock, api, vn(2027, 12, 28, 10))
    waiting = issue_via_full_route(api, "CV", "Công văn chờ phát hành")

    travel(clock, api, AS_OF)
    with services.session_factory() as s:
        coverage.refresh_ledger(
            s, services.blobs, services.trust, now=AS_OF, policy=services.settings.coverage
        )
        s.commit()
    ids.update(a=a, b=b, c=c, plan=plan, late=late, waiting=waiting, units=units)
    return ids


def _unit_ids(services: Services) -> dict[str, int]:
    with services.session_factory() as s:
        return {u.code: u.id for u in s.scalars(select(Unit))}


def test_t1_documents_and_deliveries(year: dict[str, Any], world: World) -> None:
    api = world.api
    f = figures(api, "period=2027")
    assert f["year"] == 2027 and f["as_of"] == "2027-12-29T12:00:00+07:00"

    # --- T1 per delivery (the headline: each document once per exchange, i.e. per
    # receiving organisation; an issued document sent nowhere: one expected delivery) ---
    t1 = f["T1"]
    electronic = (
        12 * 3 * 4  # grassroots documents sent electronically to the bloc committee
        + 12 * 6  # documents from outside received electronically by the office
        + 2  # a -> CS-DL, a -> CS-NH
        + 1  # b -> CS-DL
    )
    missing = (
        12  # CS-DL's documents sent to the bloc committee on paper
        + 12  # documents from outside received on paper by the office (bulk)
        + 1  # b -> UBND tỉnh, on paper
        + 1  # the document from Tỉnh ủy received on paper through the API
        + 1  # CS-GDDT's hand-signed document sent on paper (its paper copy: the same)
        + 1  # late: issued 20/12, not sent anywhere by 22/12 (one expected delivery)
    )
    exempt = (
        1  # the classified document registered as metadata only (sent nowhere)
        + 1  # the classified document received on paper
    )
    outside = {
        "internal": 1  # c: recalled before any dispatch
        + 3,  # the three BTG reports: sent within the bloc committee only
        "dispatched": 2,  # a and b themselves: their exchanges count instead
        "pending": 1,  # waiting: issued 28/12, may be sent until 30/12
    }
    assert nd(t1) == (electronic, electronic + missing)  # 219 / 247
    assert (t1["exempt"], t1["pending"]) == (exempt, outside["pending"])
    assert t1["counts"] == {
        "electronic": electronic,
        "missing": missing,
        "exempt": exempt,
        **outside,
    }
    assert t1["figure"] == pytest.approx(electronic / (electronic + missing))
    assert t1["target"] == 1.0 and t1["met"] is False
    assert nd(t1["deliveries"]) == nd(t1)
    # --- T1 per document (each exchanged document once, whatever its recipients) ---
    docs = t1["documents"]
    d_electronic = (
        12 * 3 * 4  # grassroots documents sent to the bloc committee electronically
        + 12 * 6  # documents from outside received electronically
        + 1  # a: both its exchanges electronic
    )
    d_missing = (
        12  # CS-DL's paper documents
        + 12  # paper arrivals at the office (bulk)
        + 1  # b: one of its two exchanges on paper
        + 1  # Tỉnh ủy's paper document
        + 1  # CS-GDDT's hand-signed document
        + 1  # late
    )
    assert nd(docs) == (d_electronic, d_electronic + d_missing)  # 217 / 245
    assert docs["counts"] == {
        "electronic": d_electronic,
        "missing": d_missing,
        "exempt": exempt,
        "internal": outside["internal"],
        "pending": outside["pending"],
    }
    # Per unit: a grassroots committee's documents count for it as the sender.
    assert nd(figures(api, "period=2027&unit=CS-NH")["T1"]) == (12 * 4, 12 * 4)
    assert nd(figures(api, "period=2027&unit=CS-DL")["T1"]) == (12 * 4, 12 * 4 + 12)
    assert nd(figures(api, "period=2027&unit=CS-GDDT")["T1"]) == (12 * 4, 12 * 4 + 1)
    # A month: June has 4 x 3 + 6 electronic deliveries and a's 2 and b's 1; missed: 2 in
    # bulk, b -> UBND tỉnh, the paper arrival from Tỉnh ủy, CS-GDDT's hand-signed one.
    june = figures(api, "period=2027-06")["T1"]
    assert nd(june) == (12 + 6 + 2 + 1, 12 + 6 + 2 + 1 + 2 + 1 + 1 + 1)
    # Per document: a met, b missed.
    assert nd(june["documents"]) == (12 + 6 + 1, 12 + 6 + 1 + 2 + 1 + 1 + 1)


SIGNED_VALID = (
    2  # a, b: issued, signed by the Secretary (B-B)
    + 1  # c: recalled, but it was issued signed
    + 1  # the plan signed at the end of a route without issuance
    + 3  # the three BTG reports (their route ends with the signature)
    + 2  # late and waiting (issued, signed)
)
"""T2: every final signed document of the Standing Committee, boards and office."""


def test_t2_every_final_signed_document(year: dict[str, Any], world: World) -> None:
    t2 = figures(world.api, "period=2027")["T2"]
    signed_valid = SIGNED_VALID
    assert nd(t2) == (signed_valid, signed_valid) and t2["exempt"] == 1  # the classified one
    assert t2["figure"] == 1.0 and t2["met"] is True


def test_t3_work_files(year: dict[str, Any], world: World) -> None:
    api = world.api
    t3 = figures(api, "period=2027")["T3"]
    assert nd(t3) == (12 * 2, 12 * 2 + 12) and t3["exempt"] == 1  # BTG online; BTC on paper
    assert nd(figures(api, "period=2027&unit=BTC")["T3"]) == (0, 12)


def test_t4_reports_received_electronically(year: dict[str, Any], world: World) -> None:
    api = world.api
    t4 = figures(api, "period=2027")["T4"]
    due = 3 * 11 + 3 * 3  # board reports January-November, grassroots Q1-Q3
    on_time = (
        (3 * 11 - 4 - 2)  # board reports settled on time (not BTG Jan-Mar, BKT Apr, BTC Jun-Jul)
        + (3 * 3 - 1)  # grassroots reports on time (not CS-NH Q2)
        + 1  # BTG January, through the API
    )
    late_t4 = 1 + 1  # BTG February (API), CS-NH Q2
    assert nd(t4) == (on_time + late_t4, due)
    assert t4["counts"]["late"] == late_t4 and t4["counts"]["submitted"] == on_time
    assert t4["counts"]["missing"] == 1 + 1 + 2  # BTG March returned, BKT April on paper, BTC x2
    # December's board reports and Q4's are not due yet and nothing was delivered: not
    # recorded at all (outside the figure, not even as pending).
    assert t4["pending"] == 0 and sum(t4["counts"].values()) == due
    assert nd(figures(api, "period=2027&unit=BTC")["T4"]) == (9, 11)


def test_the_audit_bundle_and_the_offline_verifier(
    year: dict[str, Any], world: World, tmp_path: Path
) -> None:
    """The committee's bundle for 2027 (the audit chain anchored by a checkpoint first):
    the verifier exits 0 with no FAIL line, and its figures recomputed from the bundle's
    ledger equal the server's."""
    api, services = world.api, world.services
    stamper = services.trust_services.timestamper

    def timestamp(digest: bytes) -> bytes:
        return bytes(asyncio.run(stamper.async_timestamp(digest, "sha256")).dump())

    with services.session_factory() as s:
        report, checkpoint = checkpoint_now(s, timestamp)  # the audit chain anchored
        assert report.ok and checkpoint is not None
        s.commit()
    stated = figures(api, "period=2027")
    bundle = api.post("kiemtra", "/bundles", json={"unit": "DUK", "period": "2027"})
    assert bundle.status_code == 200, bundle.get_data(as_text=True)
    path = tmp_path / "year.zip"
    path.write_bytes(bundle.data)
    done = subprocess.run(
        [sys.executable, "-m", "trinhky_verify", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[FAIL]" not in done.stdout
    with zipfile.ZipFile(path) as zf:
        ledger_rows = [json.loads(line) for line in zf.read("ledger.jsonl").splitlines() if line]
        in_bundle = json.loads(zf.read("figures.json"))
        manifest = json.loads(zf.read("manifest.json"))
    units = manifest["scope"]["units"]
    kinds = {int(k): str(v["kind"]) for k, v in units.items()}
    rows = ledger_rows
    mine = verifier.recompute(rows, kinds, 2027, in_bundle["policy"]["targets"])
    for target in verifier.TARGETS:
        assert verifier.differences(in_bundle["figures"][target], mine[target]) == [], target
        assert nd(mine[target]) == nd(stated[target]), target
        n, d = nd(stated[target])
        assert f"[ OK ] figures: {target}: {n}/{d} = " in done.stdout, target
    assert nd(mine["T1"]["deliveries"]) == nd(stated["T1"]["deliveries"])


def test_a_paper_signed_standing_committee_document_lowers_t2_at_once(
    year: dict[str, Any], world: World
) -> None:
    """(Runs last: it adds a document.) No refresh between the registration and the
    figure: the registration's hook records the T2 miss."""
    api = world.api
    signed_valid = SIGNED_VALID
    assert nd(figures(api, "period=2027")["T2"]) == (signed_valid, signed_valid)
    hand = api.post(
        "vanthu",
        "/outgoing/paper",
        json={
            "doc_type": "NQ",
            "subject": "Nghị quyết ký tay của Thường trực",
            "signer": "bithu",
            "signed_on": "2027-12-29",
            "unit": "TT",
        },
    )
    assert hand.status_code == 201, hand.get_json()
    t2_after = figures(api, "period=2027")["T2"]
    assert nd(t2_after) == (signed_valid, signed_valid + 1) and t2_after["figure"] < 1.0
    assert t2_after["met"] is False
