"""bench: a year of the daily archival job (``archival``) over N issued B-LTA documents.

``python -m bench.archival --documents 10000`` (``--documents 200`` for a quick run)

One document is issued through the real journey (B-LTA: signer, seal, document
timestamp; the signer signs as the test factory does, at B-B, unless
``--signer-at-policy``: then through the API at B-LTA, as production signs) on a fresh
instance (SQLite, filesystem blobs); N documents are then made
from its rows (each its own document, revisions and signatures, all on that signed
file, as if the committee had issued N documents the same day under one TSA
certificate). The clock then moves day by day through the year before that TSA
certificate expires, and the job (``workflow.signatures.archival.renew_due``) runs once
a day: the first run reads every file once (``archival_stamps``), the day the renewal
window opens (``ARCHIVAL_RENEW_DAYS`` before the expiry) every document is renewed
(a new document timestamp, strict validation before and after), the other days only
check. Prints the job's time over the year, the renewal day's and a check-only day's,
and the renewals per second; every renewal is checked (one new revision per document).

What the shared file does and does not make cheaper: nothing in the job is keyed by a
file's hash (no validation cache, no per-file result); every document's file is read,
renewed (its own new timestamp and validation data) and its renewed file validated in
full (AdES B-LTA of every signature, the new timestamp directly). Two things are found
out once per pass and reused: the TSA certificates' present status, and the expected
long-term verdicts of each *situation* (same signer, seal and TSA certificates in the
same order; ``workflow.signatures.archival``), validated in full on its first document.
Here every document is in one situation, so one "before" validation is done in the
pass; a committee's real documents fall into as many situations as distinct sequences
of signers, each costing one more full validation per pass. The line ``expected
verdicts from`` counts where each renewal's expectation came from (``document``: the
document's own, validated because the renewed file differed from the expectation).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import func, insert, select

from storage.archival_models import ArchivalStamp
from storage.models import AuditEvent, Document, Revision, Signature
from tests.conftest import Api, app_config, make_template
from tests.factories import (
    DEMO_PASSWORD,
    ISSUING_ROUTE,
    approved,
    awaiting_issue,
    open_task,
    submitted_document,
)
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services
from workflow.signatures import archival


def _issue_one(app: Any, signer_at_policy: bool) -> int:
    services: Services = app.extensions[EXTENSION_KEY]
    if signer_at_policy:  # as the web and API sign: the signer's own B-LTA signature
        api = Api(app)
        doc_id = submitted_document(services, route=ISSUING_ROUTE, subject="Văn bản lưu trữ")
        approved(services, doc_id, "truongban", "vanthu")
        with services.session_factory() as session:
            sign_task = open_task(session, "bithu", doc_id).id
        signed = api.post("bithu", f"/tasks/{sign_task}/sign", json={"passphrase": DEMO_PASSWORD})
        if signed.status_code != 200:
            raise RuntimeError(signed.get_json())
        with services.session_factory() as session:
            task_id = open_task(session, "vanthu", doc_id).id
    else:  # the test factory: the signer at B-B (no timestamp of its own)
        (task_id,) = awaiting_issue(services, 1)
    issued = Api(app).post("vanthu", f"/tasks/{task_id}/issue", json={})
    if issued.status_code != 200:
        raise RuntimeError(issued.get_json())
    return int(issued.get_json()["document"]["id"])


def _copies(services: Services, seed: int, n: int) -> list[int]:
    """``n`` documents made from ``seed``'s rows (its file shared, content-addressed)."""
    ids = [seed]
    with services.session_factory() as session:
        doc = session.execute(select(Document.__table__).where(Document.id == seed)).one()
        revs = session.execute(select(Revision.__table__).where(Revision.document_id == seed)).all()
        sigs = session.execute(
            select(Signature.__table__).where(Signature.document_id == seed)
        ).all()
        for _ in range(n - 1):
            row = {k: v for k, v in doc._mapping.items() if k != "id"}
            row.update(number=None, symbol=None)
            new_id = session.execute(insert(Document.__table__).values(**row)).inserted_primary_key[
                0
            ]
            rev_map = {}
            for rev in revs:
                values = {k: v for k, v in rev._mapping.items() if k != "id"}
                values["document_id"] = new_id
                rev_map[rev.id] = session.execute(
                    insert(Revision.__table__).values(**values)
                ).inserted_primary_key[0]
            for sig in sigs:
                values = {k: v for k, v in sig._mapping.items() if k != "id"}
                values.update(document_id=new_id, revision_id=rev_map[sig.revision_id])
                session.execute(insert(Signature.__table__).values(**values))
            ids.append(int(new_id))
        session.commit()
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archival", description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument(
        "--signer-at-policy",
        action="store_true",
        help="the seed's signer signs through the API at the instance's level (B-LTA: a "
        "signature timestamp and a document timestamp of its own), as in production; "
        "default: the test factory's B-B signer signature",
    )
    args = parser.parse_args(argv)
    n = args.documents
    for noisy in ("pyhanko", "pyhanko_certvalidator", "signing", "workflow"):
        logging.getLogger(noisy).setLevel(logging.ERROR)  # expected expiry warnings
    with tempfile.TemporaryDirectory() as tmp:
        instance = make_template(Path(tmp) / "instance")
        config = app_config(instance, SIGNATURE_LEVEL="B-LTA")
        app = create_app(config)
        services: Services = app.extensions[EXTENSION_KEY]
        t0 = time.perf_counter()
        seed = _issue_one(app, args.signer_at_policy)
        issue_s = time.perf_counter() - t0
        ids = _copies(services, seed, n)
        expiry = services.trust_services.pki.tsa.cert.not_valid_after_utc
        services.engine.dispose()
        start = expiry - timedelta(days=364)  # a server started then renews its TSA cert
        window = services.settings.archival_renew_days
        days: list[tuple[datetime, float, int, int]] = []
        with time_machine.travel(start, tick=True) as traveller:
            later = create_app(config)
            moved: Services = later.extensions[EXTENSION_KEY]
            if moved.trust_services.pki.tsa.cert.not_valid_after_utc <= expiry:
                raise RuntimeError("the TSA certificate was not renewed on load")
            for day in range(365):
                traveller.move_to(start + timedelta(days=day))
                now = datetime.now(UTC)
                t = time.perf_counter()
                report = archival.renew_due(
                    moved.session_factory,
                    moved.blobs,
                    moved.trust,
                    moved.trust_services,
                    moved.settings,
                    now,
                )
                days.append((now, time.perf_counter() - t, report.checked, len(report.renewed)))
                if report.failed:
                    raise RuntimeError(f"renewals failed: {report.failed[:3]}")
            with moved.session_factory() as session:
                archival_revisions = session.scalar(
                    select(func.count()).select_from(Revision).where(Revision.kind == "archival")
                )
                stamped = session.scalar(
                    select(func.count())
                    .select_from(ArchivalStamp)
                    .where(ArchivalStamp.timestamps == 2)
                )
                sources: dict[str, int] = {}
                for details in session.scalars(
                    select(AuditEvent.details).where(AuditEvent.action == archival.RENEWED)
                ):
                    source = str(details.get("verdicts_expected_from"))
                    sources[source] = sources.get(source, 0) + 1
            moved.engine.dispose()
    total = sum(d[1] for d in days)
    renewal_days = [d for d in days if d[3]]
    check_only = [d[1] for d in days[1:] if not d[3]]
    renewed = sum(d[3] for d in days)
    signer = "B-LTA (API)" if args.signer_at_policy else "B-B (test factory)"
    print(
        f"archival job, a year of daily runs over {len(ids)} issued B-LTA documents "
        f"(signer's signature {signer})"
    )
    print(f"  seed issuance (real journey): {issue_s:.2f} s")
    print(f"  renewal window: {window} days before the TSA certificate expires ({expiry:%Y-%m-%d})")
    print(f"  job time over the year: {total:.1f} s ({len(days)} runs)")
    print(f"  first run (reads every file once): {days[0][1]:.2f} s")
    for when, secs, checked, count in renewal_days:
        print(
            f"  renewal run {when:%Y-%m-%d}: {count} renewed of {checked} in {secs:.1f} s "
            f"({secs / count * 1000:.0f} ms per document, {count / secs:.2f} documents/s)"
        )
    if check_only:
        print(
            f"  check-only run: median {statistics.median(check_only) * 1000:.0f} ms, "
            f"max {max(check_only) * 1000:.0f} ms"
        )
    print(
        f"  renewed: {renewed}; archival revisions: {archival_revisions}; with 2 stamps: {stamped}"
    )
    print(f"  expected verdicts from: {dict(sorted(sources.items()))}")
    if renewed != len(ids) or archival_revisions != len(ids) or stamped != len(ids):
        print("  FAILED: every document must be renewed exactly once")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
