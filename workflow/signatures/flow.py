"""workflow: signing a document's current revision, in three phases.

1. :func:`prepare` reads and checks everything (task, certificate, lock) in the database;
2. :func:`produce` decrypts the key, signs file to file and validates the result, with no
   database transaction open, so a slow signature never holds a lock;
3. :func:`record` re-checks in a new transaction that nothing moved meanwhile (the task
   is still open, the document unchanged), then publishes the blob and the rows.

:func:`run` is the unit of work the views use (it commits between the phases);
:func:`sign` does the same in the caller's single transaction (CLI, benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from pyhanko.sign.signers import Signer
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session

from signing import freespace
from signing.anchors import box_below, find_first_anchor
from signing.countersign import (
    EarlierSignature,
    large_document,
    new_ones_valid,
    split,
)
from signing.errors import KeyLoadError, PdfInputError, SigningError, WrongPassphraseError
from signing.fresh import OWN_VERDICTS, Expected, check_fresh_signature
from signing.keys import load_signer
from signing.pades import sign_pdf_file
from signing.pages import last_page_box
from signing.profiles import SigningProfile, TrustConfig
from signing.revocation import RevocationSource
from signing.stamps import (
    PERSONAL_HEIGHT,
    PERSONAL_WIDTH,
    StampContent,
    StampPlacement,
    default_box_for,
    vietnam_display,
)
from signing.trust import TrustServices
from signing.validate import ValidationReport, validate_pdf
from storage import audit, validation_cache
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.db import begin_write
from storage.models import Certificate, Document, Revision, Role, Signature, Task, Unit, User
from storage.types import utcnow
from workflow.coverage import ledger as coverage
from workflow.documents import routing
from workflow.documents.states import StageAction
from workflow.errors import ConflictError, InvalidInputError, LockedError, WorkflowError

LevelPolicy = Callable[[str, str], str]
"""``(unit code, document type) -> PAdES level`` (see ``Settings.level_for``)."""


class BadPassphraseError(WorkflowError):
    """Wrong key passphrase; nothing was signed."""

    status = 403
    code = "wrong_passphrase"


class SigningFailedError(WorkflowError):
    """The server could not produce a signature its own validator accepts."""

    status = 500
    code = "signing_failed"


@dataclass(frozen=True)
class SignPlan:
    """Everything the signing needs, read in phase 1 (plain values), and the objects phase
    1 loaded, for phase 3 to reuse if their rows have not changed (see :func:`record`)."""

    task_id: int
    document_id: int
    document_version: int
    source_sha256: str
    certificate_id: int
    cert_pem: bytes
    encrypted_key_pem: bytes
    profile: SigningProfile
    now: datetime
    loaded: tuple[Task, Certificate] | None = field(default=None, compare=False, repr=False)
    """The task phase 1 claimed (its document, revisions and tasks loaded with it) and the
    certificate; held here because the session's identity map keeps only weak references."""


@dataclass(frozen=True)
class Produced:
    """A signed, validated revision staged in the blob store (not yet published)."""

    staged: StagedBlob
    report: ValidationReport
    earlier: tuple[EarlierSignature, ...] = ()
    """Signatures the document carried before (validated, reported, never blocking)."""


@dataclass(frozen=True)
class SignOutcome:
    """What signing produced."""

    task: Task
    revision: Revision
    signature: Signature
    report: ValidationReport
    earlier: tuple[EarlierSignature, ...] = ()


def active_certificate(session: Session, user: User, now: datetime) -> Certificate:
    """:returns: the user's current personal signing certificate.

    :raises ConflictError: none, revoked or expired.
    """
    cert = session.scalars(
        select(Certificate)
        .where(Certificate.user_id == user.id, Certificate.purpose == "personal")
        .order_by(Certificate.id.desc())
    ).first()
    if cert is None:
        raise ConflictError("Bạn chưa được cấp chứng thư số để ký. Hãy liên hệ quản trị hệ thống.")
    if cert.status != "active":
        raise ConflictError("Chứng thư số của bạn đã bị thu hồi; không thể ký.")
    if not (cert.not_before <= now <= cert.not_after):
        raise ConflictError("Chứng thư số của bạn đã hết hạn hoặc chưa có hiệu lực; không thể ký.")
    return cert


def _signing_unit(session: Session, actor: User, doc: Document, task: Task) -> Unit | None:
    stage = routing.stage_at(doc, task.stage_position)
    if stage.assignee_unit_code:
        return session.scalars(select(Unit).where(Unit.code == stage.assignee_unit_code)).first()
    principal = task.on_behalf_of or actor
    units = sorted(principal.units_with(Role(stage.assignee_role)))
    return session.get(Unit, units[0]) if units else None


def personal_stamp(
    blobs: BlobStore | None,
    user: User,
    unit: Unit | None,
    now: datetime,
    extra: tuple[str, ...] = (),
) -> StampContent:
    """The competent person's stamp (Decree 30): title, signature image if uploaded, name."""
    image = None
    if blobs is not None and user.signature_png_sha256 and blobs.exists(user.signature_png_sha256):
        image = blobs.read_bytes(user.signature_png_sha256)
    # Decree 30 shows the title, the image and the name; the unit and the signing time in
    # Vietnam time (ISO 8601) follow, so the stamp says who signed, for whom and when.
    lines = (*extra, unit.name if unit else "", f"Thời gian ký: {vietnam_display(now)}")
    return StampContent(
        kind="personal",
        signer_name=user.full_name,
        title=user.title,
        unit=unit.name if unit else "",
        signed_at=now,
        extra_lines=tuple(line for line in lines if line),
        image_png=image,
    )


SIGNATURE_BLOCK_ANCHORS = ("T/M", "TM.", "KT.", "TRƯỞNG BAN", "BÍ THƯ", "PHÓ BÍ THƯ")
"""Words that open the signature block of a Party document (Decree 30 style), searched on
the last page when the signer's title is not printed there."""


def personal_placement(
    source: Path, actor: User, principal: User | None
) -> tuple[StampPlacement, bool]:
    """Where the signer's stamp goes by default: under the signer's title printed on the
    last page (the signature block), else under the block's opening words (``T/M``,
    ``TRƯỞNG BAN``...), else the bottom right corner; in each case moved to the nearest
    place that covers none of the document's text.

    :returns: the placement, and whether it was found under the printed title (then the
        stamp need not print the title again).
    """
    wanted: tuple[float, float, float, float] | None = None
    page, titled = -1, False
    titles = [t for t in (principal.title if principal else None, actor.title) if t]
    # The page text is read once for all the anchors, titles first.
    found = find_first_anchor(source, [*titles, *SIGNATURE_BLOCK_ANCHORS], page=-1)
    if found is not None:
        index, hit = found
        titled = index < len(titles)
        wanted, page = box_below(hit, PERSONAL_WIDTH, PERSONAL_HEIGHT), hit.page
    page_box = last_page_box(source)
    if wanted is None:
        wanted = default_box_for(StampContent("", "", "", utcnow(), kind="personal"), page_box)
    free = freespace.nearest_free(wanted, page_box, freespace.text_boxes(source, page))
    return StampPlacement(page=page, box=free or wanted), titled


def prepare(
    session: Session,
    actor: User,
    task_id: int,
    level: LevelPolicy,
    blobs: BlobStore | None = None,
    placement: StampPlacement | None = None,
) -> SignPlan:
    """Phase 1: check the task, the certificate and the key lock.

    :param placement: where the signer put the stamp on the page; by default it goes
        to the signature block found in the text (see :func:`personal_placement`).

    :raises LockedError: the key is locked after repeated wrong passphrases.
    """
    task = routing.claim(session, actor, task_id, {StageAction.SIGN})
    doc = task.document
    now = utcnow()
    cert = active_certificate(session, actor, now)
    if cert.locked_until is not None and cert.locked_until > now:
        minutes = max(1, int((cert.locked_until - now).total_seconds() // 60))
        raise LockedError(
            "Khóa ký số của bạn đang tạm khóa do nhập sai mật khẩu nhiều lần. "
            f"Hãy thử lại sau {minutes} phút."
        )
    unit = _signing_unit(session, actor, doc, task)
    principal = task.on_behalf_of
    extra = (f"KT. {principal.title}",) if principal else ()
    stamp = personal_stamp(blobs, actor, unit, now, extra)
    if placement is None:
        placement = StampPlacement()
        found_anchor = False
        if blobs is not None:
            with blobs.local_copy(doc.current_revision.blob_sha256) as source:
                placement, found_anchor = personal_placement(source, actor, principal)
    else:
        found_anchor = False  # chosen on the page: the stamp shows the title itself
    if found_anchor:
        # The document prints the title above the signature block: the stamp need not.
        stamp = replace(stamp, title="")
    profile = SigningProfile(
        level=level(doc.unit.code, doc.doc_type),
        field_name=f"ChuKy{len(doc.revisions) + 1}_{actor.username}",
        reason=f"{task.stage_name}: {doc.subject[:120]}",
        location=unit.name if unit else None,
        stamp=stamp,
        placement=placement,
    )
    return SignPlan(
        task_id=task.id,
        document_id=doc.id,
        document_version=doc.version,
        source_sha256=doc.current_revision.blob_sha256,
        certificate_id=cert.id,
        cert_pem=cert.cert_pem.encode(),
        encrypted_key_pem=cert.encrypted_key_pem.encode(),
        profile=profile,
        now=now,
        loaded=(task, cert),
    )


def unlock_key(plan: SignPlan, passphrase: str, trust: TrustConfig) -> Signer:
    """:returns: the signer, its key decrypted once.

    :raises BadPassphraseError: wrong passphrase.
    """
    try:
        return load_signer(
            plan.cert_pem,
            plan.encrypted_key_pem,
            passphrase,
            trust.other_certs_pem + trust.trust_roots_pem,
        )
    except WrongPassphraseError as exc:
        raise BadPassphraseError("Mật khẩu khóa ký số không đúng. Văn bản chưa được ký.") from exc
    except KeyLoadError as exc:
        raise SigningFailedError("Không đọc được khóa ký số. Hãy báo quản trị hệ thống.") from exc


def sign_to_staged(
    blobs: BlobStore,
    trust: TrustConfig,
    source_sha256: str,
    signer: Signer,
    profile: SigningProfile,
    services: TrustServices | None = None,
) -> Produced:
    """Sign a stored revision into a staged blob and validate it; no database.

    Levels above B-B take their timestamp and revocation data from the embedded trust
    services, in process.

    :raises InvalidInputError: the stored PDF cannot be signed (explained).
    :raises SigningFailedError: the result did not validate (nothing is kept).
    """
    out = blobs.new_temp_path(".pdf")
    revocation = services.revocation_source() if services is not None else None
    try:
        try:
            with blobs.local_copy(source_sha256) as source:
                source_size = source.stat().st_size
                if profile.level == "B-B" or services is None:
                    before = sign_pdf_file(source, out, signer, profile, allow_empty_password=True)
                else:
                    before = sign_pdf_file(
                        source,
                        out,
                        signer,
                        profile,
                        timestamper=services.timestamper,
                        revocation=revocation,
                        allow_empty_password=True,
                    )
        except PdfInputError as exc:
            raise InvalidInputError(str(exc), code=f"pdf_{exc.code}") from exc
        except SigningError as exc:
            raise SigningFailedError(
                "Không tạo được chữ ký số cho văn bản này. Văn bản chưa được ký."
            ) from exc
        report = _check_signed(
            out, trust, signer, profile, services, revocation, before, source_sha256, source_size
        )
        # Strict on the signature made here; earlier ones (other CAs, self-signed,
        # broken) are reported to the signer, never a reason to refuse (countersigning).
        if not new_ones_valid(report, before):
            new, _ = split(report, before)
            raise SigningFailedError(
                "Chữ ký vừa tạo không vượt qua bước kiểm tra nên không được lưu: "
                + "; ".join(p for s in new for p in s.problems)
            )
        return Produced(blobs.stage_file(out), report, split(report, before)[1])
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _check_signed(
    out: Path,
    trust: TrustConfig,
    signer: Signer,
    profile: SigningProfile,
    services: TrustServices | None,
    revocation: RevocationSource | None,
    before: int,
    source_sha256: str,
    source_size: int,
) -> ValidationReport:
    """Validate the file just signed: the direct check of the new signature
    (:mod:`signing.fresh`) for a first signature up to B-LT, else the full validation."""
    if before == 0 and signer.signing_cert is not None:
        expected = Expected(
            field_name=profile.field_name,
            level=profile.level if services is not None else "B-B",
            signer_cert=signer.signing_cert,
            tsa_cert=services.timestamper.tsa_cert if services is not None else None,
            ocsp_responder_cert=services.ocsp.responder_cert if services is not None else None,
            source_sha256=source_sha256,
            source_size=source_size,
        )
        verdicts = services.own_verdicts if services is not None else OWN_VERDICTS
        report = check_fresh_signature(out, expected, trust, revocation, utcnow(), verdicts)
        if report is not None:
            return report
    # What follows the new signature (DSS, document timestamp) the server has just
    # written; on a large document its diff analysis would take minutes.
    skip = before if large_document(out) else None
    return validate_pdf(out, trust, revocation, skip_diff_from=skip)


def produce(
    blobs: BlobStore,
    trust: TrustConfig,
    plan: SignPlan,
    passphrase: str,
    services: TrustServices | None = None,
) -> Produced:
    """Phase 2: decrypt the key, sign and validate, outside any transaction."""
    signer = unlock_key(plan, passphrase, trust)
    return sign_to_staged(blobs, trust, plan.source_sha256, signer, plan.profile, services)


def sign_and_store(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    doc: Document,
    actor_id: int,
    certificate_id: int,
    signer: Signer,
    profile: SigningProfile,
    services: TrustServices | None,
    now: datetime,
) -> Revision:
    """Sign ``doc``'s current revision and store the result as its new revision, in the
    caller's transaction (the organisation's signatures at issuance); the staged file is
    discarded if storing fails."""
    produced = sign_to_staged(
        blobs, trust, doc.current_revision.blob_sha256, signer, profile, services
    )
    try:
        rev, _sig = store_signed(
            session, blobs, doc, actor_id, certificate_id, profile.field_name, produced, now
        )
    except BaseException:
        blobs.discard(produced.staged)
        raise
    return rev


def store_signed(
    session: Session,
    blobs: BlobStore,
    doc: Document,
    actor_id: int,
    certificate_id: int,
    field_name: str,
    produced: Produced,
    now: datetime,
    publishing: Future[str] | None = None,
) -> tuple[Revision, Signature]:
    """Publish a produced signature as the document's new revision (caller's transaction).

    :param publishing: the blob's publication already under way (see :func:`run`); the
        caller waits for it before committing. By default it is published here.
    """
    source = doc.current_revision
    sha = produced.staged.sha256 if publishing is not None else blobs.publish(produced.staged)
    # The report the new revision was just validated with: its pages never validate it again.
    version = validation_cache.trust_version(session)
    validation_cache.add_report(session, sha, version, produced.report.to_cache())
    rev = Revision(
        number=source.number + 1,
        blob_sha256=sha,
        size=produced.staged.size,
        filename=source.filename,
        kind="signed",
        created_by_id=actor_id,
        created_at=now,
    )
    doc.revisions.append(rev)
    session.flush()
    sig = Signature(
        document_id=doc.id,
        revision_id=rev.id,
        signer_id=actor_id,
        certificate_id=certificate_id,
        field_name=field_name,
        # The new signature's own level (at B-LTA the last entry is the document timestamp).
        pades_level=next(
            (r.pades_level for r in produced.report.signatures if r.field_name == field_name),
            produced.report.signatures[-1].pades_level,
        ),
        signed_at=now,
    )
    session.add(sig)
    return rev, sig


def earlier_details(earlier: tuple[EarlierSignature, ...]) -> dict[str, object]:
    """Audit details on the earlier signatures of a countersigned document (none: {})."""
    if not earlier:
        return {}
    return {
        "earlier_signatures": [
            {
                "field": e.field_name,
                "signer": e.signer_name,
                "trusted": e.trusted,
                "kept_intact": e.kept_intact,
            }
            for e in earlier
        ]
    }


def _reclaim(session: Session, actor: User, plan: SignPlan) -> Task:
    """Phase 3's task, checked again under the document's lock.

    When the document's row (its version) and its tasks' rows are as phase 1 read them,
    the objects phase 1 loaded are current and are used as they are (two light queries);
    otherwise everything is read afresh (:func:`routing.claim`), and what changed decides.
    """
    task = plan.loaded[0] if plan.loaded is not None else None
    if (
        task is not None
        and object_session(task) is session
        and task.document_id == plan.document_id
    ):
        doc = task.document
        version = session.scalar(
            select(Document.version).where(Document.id == doc.id).with_for_update()
        )
        rows = session.execute(
            select(
                Task.id,
                Task.state,
                Task.action,
                Task.stage_position,
                Task.assignee_id,
                Task.on_behalf_of_id,
            ).where(Task.document_id == doc.id)
        ).all()
        held = {
            (t.id, t.state, t.action, t.stage_position, t.assignee_id, t.on_behalf_of_id)
            for t in doc.tasks
        }
        if version == plan.document_version == doc.version and {tuple(r) for r in rows} == held:
            routing.check_delegation(session, actor, task)
            return task
    # Objects loaded in phase 1 are stale: read everything afresh.
    session.expire_all()
    return routing.claim(session, actor, plan.task_id, {StageAction.SIGN})


def record(
    session: Session,
    blobs: BlobStore,
    actor: User,
    plan: SignPlan,
    produced: Produced,
    publishing: Future[str] | None = None,
) -> SignOutcome:
    """Phase 3: check nothing moved since phase 1, then store and advance the route.

    :param publishing: as for :func:`store_signed`.
    :raises ConflictError: the task was acted on or the document changed meanwhile.
    """
    task = _reclaim(session, actor, plan)
    doc = task.document
    if (
        doc.version != plan.document_version
        or doc.current_revision.blob_sha256 != plan.source_sha256
    ):
        raise ConflictError(
            "Văn bản vừa được người khác xử lý trong lúc ký. Chữ ký này không được lưu; "
            "hãy tải lại trang."
        )
    # A good passphrase ends the count of wrong ones (one statement, whatever it is now).
    session.execute(
        update(Certificate)
        .where(
            Certificate.id == plan.certificate_id,
            or_(Certificate.failed_unlocks != 0, Certificate.locked_until.is_not(None)),
        )
        .values(failed_unlocks=0, locked_until=None)
    )
    cert = session.get(Certificate, plan.certificate_id)
    assert cert is not None  # noqa: S101 - read in phase 1, never deleted
    rev, sig = store_signed(
        session,
        blobs,
        doc,
        actor.id,
        cert.id,
        plan.profile.field_name,
        produced,
        plan.now,
        publishing,
    )
    routing.close_task(task, actor, "signed", None)
    routing.advance(session, doc, task, signed=True)
    audit.append(
        session,
        AuditAction.SIGNED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "task": task.id,
            "revision": rev.number,
            "sha256": rev.blob_sha256,
            "certificate": cert.fingerprint,
            "field": plan.profile.field_name,
            "level": sig.pades_level,
            "on_behalf_of": task.on_behalf_of_id,
            **earlier_details(produced.earlier),
        },
    )
    return SignOutcome(task, rev, sig, produced.report, produced.earlier)


def record_key_failure(
    session: Session, actor: User, plan: SignPlan, max_failures: int, lock_seconds: int
) -> None:
    """Count a wrong passphrase; lock the key for a while after too many."""
    cert = session.get(Certificate, plan.certificate_id)
    assert cert is not None  # noqa: S101
    cert.failed_unlocks += 1
    locked = cert.failed_unlocks >= max_failures
    if locked:
        cert.failed_unlocks = 0
        cert.locked_until = utcnow() + timedelta(seconds=lock_seconds)
    audit.append(
        session,
        AuditAction.KEY_LOCKED if locked else AuditAction.SIGN_FAILED,
        actor_id=actor.id,
        object_type="document",
        object_id=plan.document_id,
        details={"reason": "wrong_passphrase", "certificate": cert.fingerprint},
    )


def sign(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    task_id: int,
    passphrase: str,
    *,
    key_max_failures: int,
    key_lock_seconds: int,
    level: LevelPolicy = lambda unit, doc_type: "B-B",
    services: TrustServices | None = None,
) -> SignOutcome:
    """All three phases in the caller's transaction (the caller commits, also after a
    :class:`BadPassphraseError`, to keep the failure count)."""
    plan = prepare(session, actor, task_id, level, blobs)
    try:
        produced = produce(blobs, trust, plan, passphrase, services)
    except BadPassphraseError:
        record_key_failure(session, actor, plan, key_max_failures, key_lock_seconds)
        raise
    try:
        return record(session, blobs, actor, plan, produced)
    except BaseException:
        blobs.discard(produced.staged)
        raise


_ONE_SIGNING = threading.Lock()
"""One signing request at a time per process (see :func:`run`)."""
_PUBLISHER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trinhky-publish")
"""Publishes signed blobs while phase 3 writes the rows (see :func:`run`)."""


def run(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    task_id: int,
    passphrase: str,
    *,
    key_max_failures: int,
    key_lock_seconds: int,
    level: LevelPolicy,
    services: TrustServices | None,
    placement: StampPlacement | None = None,
) -> SignOutcome:
    """The views' unit of work: phase 1, commit, phase 2 with no transaction, phase 3,
    commit. A wrong passphrase is counted and committed before the error propagates.

    One at a time per process: the signing is CPU work under the GIL, and a gthread
    worker's threads signing side by side only slowed each other (each one's write phase
    waiting on the others' CPU work: HTTP signing at 18 a second with 16 threads against
    26 with one). The signed blob is published (made durable) in another thread beside
    phase 3, and the commit waits for it."""
    with _ONE_SIGNING:
        plan = prepare(session, actor, task_id, level, blobs, placement)
        session.commit()  # end the read transaction: signing must not hold database locks
        try:
            produced = produce(blobs, trust, plan, passphrase, services)
        except BadPassphraseError:
            begin_write(session)
            record_key_failure(session, actor, plan, key_max_failures, key_lock_seconds)
            session.commit()
            raise
        # The blob is made durable (fsync, or the object store's upload) beside phase 3's
        # rows, not before them: on this file system the fsyncs took longer than the rows,
        # with the worker idle. The coverage ledger, which reads the file, and the commit
        # come only once it is done.
        publishing = _PUBLISHER.submit(blobs.publish, produced.staged)
        try:
            begin_write(session)  # phase 3 writes: take the lock first, hold it only for this
            outcome = record(session, blobs, actor, plan, produced, publishing)
            publishing.result()  # the ledger reads the new revision's file
            coverage.record_signature(
                session, blobs, trust, outcome.task.document, now=plan.now, report=produced.report
            )
            session.commit()
        except BaseException:
            session.rollback()
            # A blob published for rows that were not committed is left to the clean-up
            # (unreferenced blobs past their grace time), as when a commit fails.
            wait([publishing])
            blobs.discard(produced.staged)
            raise
        return outcome
