"""The ledger head: a digest of every entry's content (not of the time it was last
looked at), and the checkpoint of both heads (storage/heads.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from storage.audit_models import AuditCheckpoint
from storage.heads import (
    LEDGER_HEAD,
    LEDGER_HEAD_FORMAT,
    checkpoint_heads,
    ledger_head,
    ledger_line,
)
from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Unit
from workflow.services import Services

NOW = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


def add_entries(services: Services, n: int) -> list[int]:
    with services.session_factory() as session:
        unit = session.scalars(select(Unit).where(Unit.code == "CS-GDDT")).one()
        entries = [
            LedgerEntry(
                target="T4",
                unit_id=unit.id,
                doc_type="BC",
                period_date=date(2026, 10, 10),
                subject_kind="report",
                subject_id=1000 + i,
                state="missing",
                label=f"bao-cao {i}",
                title="Báo cáo công tác đảng quý III năm 2026",
                reason="Chưa gửi báo cáo trên hệ thống.",
                evidence={"due_date": "2026-10-10", "document_id": None},
                checked_at=NOW,
            )
            for i in range(n)
        ]
        session.add_all(entries)
        session.commit()
        return [e.id for e in entries]


def head(services: Services) -> tuple[int, str, int]:
    with services.session_factory() as session:
        h = ledger_head(session, batch=2)  # several batches
    return h.entries, h.sha256, h.last_id


def test_the_ledger_head_digests_content_in_id_order(services: Services) -> None:
    assert head(services)[:2] == (0, hashlib.sha256().hexdigest())
    ids = add_entries(services, 5)
    entries, digest, last = head(services)
    assert (entries, last) == (5, ids[-1])
    with services.session_factory() as session:
        rows = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        lines = b"".join(
            ledger_line({c.key: getattr(r, c.key) for c in LedgerEntry.__table__.columns})
            for r in rows
        )
    assert digest == hashlib.sha256(lines).hexdigest()
    assert lines.count(b"\n") == 5 and "Báo cáo".encode() in lines  # UTF-8, not \\u escapes

    with services.session_factory() as session:  # looked at again: the same content
        for r in session.scalars(select(LedgerEntry)):
            r.checked_at = NOW + timedelta(days=1)
        session.commit()
    assert head(services)[1] == digest
    with services.session_factory() as session:  # a state changes: another head
        session.get(LedgerEntry, ids[2]).state = "submitted"  # type: ignore[union-attr]
        session.commit()
    assert head(services)[1] != digest


def test_checkpoint_heads_records_each_change_once(services: Services) -> None:
    add_entries(services, 2)
    with services.session_factory() as session:
        first = checkpoint_heads(session, None, now=NOW)
        session.commit()
        assert first.report.ok and first.ledger_event is not None and first.checkpoint
        assert first.ledger_event.details["format"] == LEDGER_HEAD_FORMAT
        again = checkpoint_heads(session, None, now=NOW)  # nothing moved
        assert again.ledger_event is None and again.checkpoint is None
        forced = checkpoint_heads(session, None, now=NOW, force=True)  # the button
        assert forced.ledger_event is None and forced.checkpoint is not None
        session.commit()
        heads = session.scalars(
            select(AuditEvent).where(AuditEvent.action == LEDGER_HEAD).order_by(AuditEvent.seq)
        ).all()
        cps = session.scalars(select(AuditCheckpoint)).all()
    assert len(heads) == 1 and len(cps) == 2
    assert {c.seq for c in cps} == {heads[0].seq} and all(c.timestamp_token is None for c in cps)
