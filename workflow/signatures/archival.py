"""workflow: keeping signed documents provable for decades: the archival renewal.

A B-LTA document rests on its newest document timestamp. Before that timestamp's TSA
certificate expires (``ARCHIVAL_RENEW_DAYS`` ahead) or its digest algorithm is
deprecated (``ARCHIVAL_WEAK_DIGESTS``), a new document timestamp is added over the whole
file, with the validation data of the previous one in the DSS; by policy
(``ARCHIVAL_UPGRADE_B_LT``) issued B-LT documents get their first one and become B-LTA.
Each renewal is a new revision (kind ``archival``), validated strictly before it is
stored, and audited; a failure is audited and retried at the next run.

The state of each revision's newest timestamp is kept in ``archival_stamps`` (read once
per revision), so the daily job does not open every PDF every day.

What a renewal checks, per document (nothing is stored otherwise): the renewed file's
newest signature is the new document timestamp, intact (message imprint over its byte
range), validly signed by a TSA certificate chaining to the trust anchors, followed only
by validation data (pyHanko's difference analysis); and every signature of the renewed
file, validated as AdES B-LTA (``validate_archival``), has the long-term verdict expected
of it: the document's own verdicts before the renewal. Validating every file twice in
full (before and after) was most of a renewal's time, so the "before" is first taken
from what is known: the verdicts stored with the revision by the renewal that made it,
or, for a revision no renewal made (the first renewal of an issued document), those of
the first document of the same *situation* in this pass (same signer, seal and TSA
certificates in the same order: ``signing.archival.signature_situation``), validated in
full before its renewal. Only where the renewed file's verdicts differ from that
expectation is the document's own "before" validated and compared, as the rule says. So
every stored file is validated in full, and a renewal is refused whenever its verdicts
differ from the document's own; the one case not checked per document is a renewal that
changed a document's verdicts into exactly the expected ones (its stored verdicts, or
its situation's). The TSA certificates' present status is checked once per pass
(``signing.archival.TsaStatus``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from signing.archival import (
    ArchivalState,
    TsaStatus,
    archival_state,
    renew_archival_timestamp,
    signature_situation,
    validate_archival,
)
from signing.errors import SigningError
from signing.profiles import TrustConfig
from signing.trust import TrustServices
from signing.validate import validate_newest_timestamp
from storage import audit
from storage.archival_models import ArchivalStamp
from storage.blobs import BlobStore
from storage.errors import StorageError
from storage.models import Document, Revision, Signature
from workflow.settings import Settings

log = logging.getLogger(__name__)

RENEWED = "document:archival_renewed"
FAILED = "document:archival_failed"


@dataclass
class RenewalReport:
    """What one pass did."""

    checked: int = 0
    renewed: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def text(self) -> str:
        return (
            f"kiểm tra {self.checked} văn bản lưu trữ; gia hạn dấu thời gian {len(self.renewed)}; "
            f"lỗi {len(self.failed)}"
        )


def candidates(session: Session, settings: Settings) -> list[int]:
    """:returns: ids of the issued documents with a file whose signatures are B-LTA (and
    B-LT, when the policy upgrades them), oldest first."""
    levels = ["B-LTA", "B-LT"] if settings.archival_upgrade_b_lt else ["B-LTA"]
    signed = select(Signature.document_id).where(Signature.pades_level.in_(levels))
    return list(
        session.scalars(
            select(Document.id)
            .where(
                Document.issued_at.is_not(None),
                Document.classification.is_(None),
                Document.id.in_(signed),
            )
            .order_by(Document.id)
        )
    )


def state_of(session: Session, blobs: BlobStore, doc: Document, now: datetime) -> ArchivalStamp:
    """:returns: the archival state of ``doc``'s current revision (read once, then kept)."""
    rev = doc.current_revision
    row = session.scalars(select(ArchivalStamp).where(ArchivalStamp.revision_id == rev.id)).first()
    if row is None:
        with blobs.local_copy(rev.blob_sha256) as path:
            state = archival_state(path)
        row = _record(session, doc, rev, state, now)
    return row


def _record(
    session: Session,
    doc: Document,
    rev: Revision,
    state: ArchivalState,
    now: datetime,
    verdicts: list[list[Any]] | None = None,
) -> ArchivalStamp:
    row = ArchivalStamp(
        document_id=doc.id,
        revision_id=rev.id,
        timestamps=state.timestamps,
        tsa_not_after=state.tsa_not_after,
        digest_algorithm=state.digest_algorithm,
        checked_at=now,
        verdicts=verdicts,
    )
    session.add(row)
    session.flush()
    return row


@dataclass
class PassKnowledge:
    """What one pass of the job finds out once and uses for every document."""

    tsa: TsaStatus
    """The present status of the TSA certificates."""
    situations: dict[tuple[Any, ...], tuple[bool, ...]] = field(default_factory=dict)
    """The long-term verdicts, in file order, of the first document of each situation
    (with the trust list's version), validated before its renewal."""

    @classmethod
    def start(cls, trust: TrustConfig, services: TrustServices) -> PassKnowledge:
        return cls(TsaStatus(trust, services.revocation_source()))


def _verdicts(path: Path, trust: TrustConfig, knowledge: PassKnowledge) -> list[list[Any]]:
    """Each signature's long-term verdict now (the clock's now, not the pass's start: the
    new timestamp and its revocation data are later than that), ``[[field, passed]...]``
    in file order, the newest timestamp checked against our TSA's present status."""
    found = validate_archival(path, trust, None, tsa_status=knowledge.tsa)
    return [[r.field_name, r.passed] for r in found]


def _expected(
    row: ArchivalStamp, path: Path, trust: TrustConfig, knowledge: PassKnowledge
) -> tuple[list[list[Any]] | tuple[bool, ...], str]:
    """:returns: the verdicts the renewed file of ``row``'s revision (at ``path``) is
    expected to have, and where they come from (``stored``: this revision's own, by
    field; ``situation``: its situation's in this pass, by position)."""
    if row.verdicts is not None:
        return row.verdicts, "stored"
    key = (trust.version, signature_situation(path))
    known = knowledge.situations.get(key)
    if known is None:
        known = tuple(bool(p) for _, p in _verdicts(path, trust, knowledge))
        knowledge.situations[key] = known
    return known, "situation"


def _kept(expected: list[list[Any]] | tuple[bool, ...], found: list[list[Any]]) -> bool:
    if isinstance(expected, tuple):
        return expected == tuple(bool(p) for _, p in found)
    return [[str(n), bool(p)] for n, p in expected] == [[str(n), bool(p)] for n, p in found]


def reason_due(row: ArchivalStamp, settings: Settings, now: datetime) -> str | None:
    """:returns: why ``row``'s document needs a new timestamp now (``expiry``,
    ``algorithm``, ``upgrade``), or ``None``."""
    if row.timestamps == 0:
        return "upgrade" if settings.archival_upgrade_b_lt else None
    if (row.digest_algorithm or "").lower() in settings.archival_weak_digests:
        return "algorithm"
    if row.tsa_not_after is not None and row.tsa_not_after - now < timedelta(
        days=settings.archival_renew_days
    ):
        return "expiry"
    return None


def renew(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    services: TrustServices,
    doc: Document,
    reason: str,
    now: datetime,
    knowledge: PassKnowledge | None = None,
) -> Revision:
    """Add a document timestamp to ``doc`` (a new revision, validated strictly before it
    is stored) and audit it, in the caller's transaction.

    :param knowledge: what this pass of the job already knows (default: nothing yet).
    :raises SigningError: the renewal or its validation failed (nothing is stored).
    """
    knowledge = knowledge or PassKnowledge.start(trust, services)
    source = doc.current_revision
    before = state_of(session, blobs, doc, now)
    out = blobs.new_temp_path(".pdf")
    try:
        with blobs.local_copy(source.blob_sha256) as path:
            expected, expected_from = _expected(before, path, trust, knowledge)
            state = renew_archival_timestamp(
                path,
                out,
                services.timestamper,
                services.revocation_source(),
                trust,
                tsa_status=knowledge.tsa,
            )
            # Strict: the new timestamp validates now (intact, trusted, only validation
            # data after it), and every signature's long-term verdict is what it was
            # (nothing lost, nothing rewritten): the expected verdicts, or, where they
            # differ, this document's own, validated now.
            newest = validate_newest_timestamp(out, trust)
            if (
                state.timestamps != before.timestamps + 1
                or newest is None
                or not (newest.intact and newest.valid and newest.trusted)
                or newest.modification_level not in ("none", "lta_updates")
            ):
                raise SigningError(
                    "the new document timestamp does not validate; nothing was stored"
                )
            verdicts = _verdicts(out, trust, knowledge)
            if not _kept(expected, verdicts):
                expected, expected_from = _verdicts(path, trust, knowledge), "document"
                if not _kept(expected, verdicts):
                    raise SigningError(
                        f"the renewed file's long-term verdicts {verdicts} differ from the "
                        f"document's {expected}; nothing was stored"
                    )
        staged = blobs.stage_file(out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    sha = blobs.publish(staged)
    rev = Revision(
        number=source.number + 1,
        blob_sha256=sha,
        size=staged.size,
        filename=source.filename,
        kind="archival",
        created_by_id=None,
        created_at=now,
    )
    doc.revisions.append(rev)
    session.flush()
    _record(session, doc, rev, state, now, verdicts)
    audit.append(
        session,
        RENEWED,
        actor_id=None,
        object_type="document",
        object_id=doc.id,
        details={
            "reason": reason,
            "revision": rev.number,
            "sha256": sha,
            "timestamps": state.timestamps,
            "previous_tsa_not_after": before.tsa_not_after.isoformat()
            if before.tsa_not_after
            else None,
            "tsa_not_after": state.tsa_not_after.isoformat() if state.tsa_not_after else None,
            "verdicts_expected_from": expected_from,
        },
        at=now,
    )
    return rev


def _not_due(session: Session, ids: list[int], settings: Settings, now: datetime) -> set[int]:
    """:returns: those of ``ids`` whose current revision has a kept state that is not due
    (read in bulk: most days, for most documents, nothing else is done)."""
    quiet: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        newest = (
            select(Revision.document_id, func.max(Revision.number).label("number"))
            .where(Revision.document_id.in_(chunk))
            .group_by(Revision.document_id)
            .subquery()
        )
        rows = session.execute(
            select(Revision.document_id, ArchivalStamp)
            .join(
                newest,
                (Revision.document_id == newest.c.document_id)
                & (Revision.number == newest.c.number),
            )
            .join(ArchivalStamp, ArchivalStamp.revision_id == Revision.id)
        ).all()
        quiet.update(doc_id for doc_id, row in rows if reason_due(row, settings, now) is None)
    return quiet


def renew_due(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    trust: TrustConfig,
    services: TrustServices,
    settings: Settings,
    now: datetime,
    only: list[int] | None = None,
) -> RenewalReport:
    """One pass: every candidate (or the documents ``only``) is checked and, when due,
    renewed, each in a transaction of its own (one failure stops nothing else)."""
    report = RenewalReport()
    with sessions() as session:
        ids = candidates(session, settings) if only is None else list(only)
        quiet = _not_due(session, ids, settings, now)
    report.checked += len(quiet)
    # A timestamp by a TSA certificate that is itself due would be due again tomorrow:
    # the TSA certificate is renewed when a server starts (within a year of its expiry).
    tsa_left = services.pki.tsa.cert.not_valid_after_utc - now
    tsa_due = tsa_left < timedelta(days=settings.archival_renew_days)
    knowledge = PassKnowledge.start(trust, services)
    for doc_id in ids:
        if doc_id in quiet:
            continue
        with sessions() as session:
            doc = session.get(Document, doc_id)
            if doc is None or not doc.has_content:
                continue
            report.checked += 1
            row = state_of(session, blobs, doc, now)
            reason = reason_due(row, settings, now)
            if reason is None:
                session.commit()
                continue
            try:
                if tsa_due:
                    raise SigningError(
                        "the TSA certificate itself expires within the renewal window: "
                        "restart the server to renew it"
                    )
                renew(session, blobs, trust, services, doc, reason, now, knowledge)
                session.commit()
                report.renewed.append(doc_id)
            except (SigningError, StorageError, OSError) as exc:
                session.rollback()
                message = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("archival renewal of document %s failed: %s", doc_id, message)
                audit.append(
                    session,
                    FAILED,
                    actor_id=None,
                    object_type="document",
                    object_id=doc_id,
                    details={"reason": reason, "error": message},
                    at=now,
                )
                session.commit()
                report.failed.append((doc_id, message))
    return report
