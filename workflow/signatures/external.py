"""workflow: signatures made off the server (USB tokens, remote signing services, local
signing plugins): use-cases and their routes on the /api/v1 blueprint.

Like :mod:`workflow.signatures.flow`, each unit of work commits between phases so no database
lock is held while PDFs are prepared, signed and validated. A session is single-use: the
first completion attempt consumes it (committed at once), whatever the outcome.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from signing import external
from signing.countersign import large_document, new_ones_valid, signature_count, split
from signing.errors import PdfInputError, SigningError
from signing.external import ExternalSignatureError, PreparedExternal
from signing.profiles import PADES_LEVELS, SigningProfile
from signing.stamps import StampContent
from signing.validate import validate_pdf
from storage import audit
from storage.audit import AuditAction
from storage.blobs import StagedBlob
from storage.external_models import ExternalSigningSession
from storage.models import Certificate, Role, Task, User
from storage.types import utcnow
from workflow import http
from workflow.coverage import ledger as coverage
from workflow.documents import routing
from workflow.documents.states import StageAction
from workflow.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    WorkflowError,
)
from workflow.http import api_blueprint
from workflow.schemas import documents as document_schemas
from workflow.schemas import signatures as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import File, operation
from workflow.services import Services, get_services, get_session
from workflow.signatures import flow as signing_flow
from workflow.signatures.certificates import certificate_answer
from workflow.uploads import send_blob, stage_upload

bp = api_blueprint("external_api", __name__)

SESSION_TTL = timedelta(minutes=15)
"""How long a prepared external signature waits for the signature."""
PURPOSE = "external"
"""``Certificate.purpose`` of a certificate whose key stays on the holder's token."""


class SessionGoneError(WorkflowError):
    """The signing session has expired or was already used."""

    status = 410
    code = "session_gone"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _external_certs(session: Session, user_id: int, now: datetime) -> list[Certificate]:
    rows = session.scalars(
        select(Certificate).where(
            Certificate.user_id == user_id,
            Certificate.purpose == PURPOSE,
            Certificate.status == "active",
        )
    ).all()
    return [c for c in rows if c.not_before <= now <= c.not_after]


# --- registration -------------------------------------------------------------------


def register_certificate(
    session: Session,
    services: Services,
    actor: User,
    username: str,
    body: schemas.RegisterCertificateRequest,
) -> Certificate:
    """An administrator registers the certificate of a user's token (no key is stored)."""
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được đăng ký chứng thư số cho người dùng.")
    user = session.scalars(select(User).where(User.username == username.strip())).first()
    if user is None:
        raise NotFoundError("Không tìm thấy người dùng.")
    cert_pem, chain = _cert_and_chain(body.certificate_pem, body.chain_pem)
    if cert_pem is None:
        raise InvalidInputError("Cần 'certificate_pem': chứng thư số trên thiết bị ký (PEM).")
    try:
        cert = external.parse_certificate(cert_pem)
        external.check_certificate(cert, services.trust, chain)
    except ExternalSignatureError as exc:
        raise InvalidInputError(exc.message_vi, code=exc.code) from exc
    fingerprint = external.fingerprint(cert)
    if session.scalars(select(Certificate).where(Certificate.fingerprint == fingerprint)).first():
        raise ConflictError("Chứng thư số này đã được đăng ký trong hệ thống.")
    row = Certificate(
        user_id=user.id,
        purpose=PURPOSE,
        serial=format(cert.serial_number, "x"),
        subject=cert.subject.rfc4514_string(),
        fingerprint=fingerprint,
        cert_pem=cert_pem.decode() if b"-----BEGIN" in cert_pem else _pem(cert),
        encrypted_key_pem="",  # the key never leaves the holder's token
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        status="active",
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        AuditAction.CERT_ISSUED,
        actor_id=actor.id,
        object_type="certificate",
        object_id=row.id,
        details={"purpose": PURPOSE, "user": user.username, "fingerprint": fingerprint},
    )
    return row


def _pem(cert: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return str(cert.public_bytes(Encoding.PEM).decode())


def _cert_and_chain(
    cert_pem: str | None, chain: list[str] | None
) -> tuple[bytes | None, list[bytes]]:
    return (cert_pem.encode() if cert_pem else None), [c.encode() for c in chain or ()]


# --- prepare ------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A prepared session and the secret id handed to the client."""

    row: ExternalSigningSession
    session_id: str
    prepared: PreparedExternal | None


def _profile(session: Session, actor: User, task: Task, level: str) -> SigningProfile:
    doc = task.document
    unit = signing_flow._signing_unit(session, actor, doc, task)
    principal = task.on_behalf_of
    extra = (f"Ký thay: {principal.full_name} - {principal.title}",) if principal else ()
    return SigningProfile(
        level=level,
        field_name=f"ChuKy{len(doc.revisions) + 1}_{actor.username}",
        reason=f"{task.stage_name}: {doc.subject[:120]}",
        location=unit.name if unit else None,
        stamp=StampContent(
            signer_name=actor.full_name,
            title=actor.title,
            unit=unit.name if unit else "",
            signed_at=utcnow(),
            extra_lines=extra,
        ),
    )


def run_prepare(
    session: Session,
    services: Services,
    actor: User,
    task_id: int,
    body: schemas.ExternalPrepareRequest,
) -> Prepared:
    """Prepare an external signature of a sign task (commits)."""
    mode = body.mode or "signature"
    cert_pem, chain = _cert_and_chain(body.certificate_pem, body.chain_pem)
    blobs, trust = services.blobs, services.trust
    # Phase 1: checks, then end the read transaction.
    task = routing.claim(session, actor, task_id, {StageAction.SIGN})
    doc = task.document
    now = utcnow()
    level = services.settings.level_for(doc.unit.code, doc.doc_type)
    profile = _profile(session, actor, task, level)
    registered = _external_certs(session, actor.id, now)
    cert_row: Certificate | None = None
    if mode == "signature":
        if cert_pem is None:
            raise InvalidInputError("Cần 'certificate_pem': chứng thư số đọc từ thiết bị ký.")
        try:
            fp = external.fingerprint(external.parse_certificate(cert_pem))
        except ExternalSignatureError as exc:
            raise InvalidInputError(exc.message_vi, code=exc.code) from exc
        cert_row = next((c for c in registered if c.fingerprint == fp), None)
        if cert_row is None:
            raise ForbiddenError(
                "Chứng thư số trên thiết bị chưa được đăng ký cho bạn, đã hết hạn hoặc đã bị "
                "thu hồi. Hãy đề nghị quản trị hệ thống đăng ký chứng thư số của bạn.",
                code="certificate_not_registered",
            )
    elif not registered:
        raise ForbiddenError(
            "Bạn chưa có chứng thư số trên thiết bị ký được đăng ký (hoặc đã hết hạn, bị thu "
            "hồi). Hãy đề nghị quản trị hệ thống đăng ký.",
            code="certificate_not_registered",
        )
    plan = (task.id, doc.id, doc.version, doc.current_revision.blob_sha256)
    session.commit()
    # Phase 2: the prepared PDF, outside any transaction.
    prepared: PreparedExternal | None = None
    staged: StagedBlob | None = None
    if mode == "signature":
        assert cert_pem is not None  # noqa: S101 - checked above
        out = blobs.new_temp_path(".pdf")
        try:
            with blobs.local_copy(plan[3]) as source:
                prepared = external.prepare_external(
                    source,
                    out,
                    cert_pem,
                    chain or list(trust.other_certs_pem + trust.trust_roots_pem),
                    profile,
                )
        except PdfInputError as exc:
            out.unlink(missing_ok=True)
            raise InvalidInputError(str(exc), code=f"pdf_{exc.code}") from exc
        except ExternalSignatureError as exc:
            out.unlink(missing_ok=True)
            raise InvalidInputError(exc.message_vi, code=exc.code) from exc
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        staged = blobs.stage_file(out)
    # Phase 3: nothing moved meanwhile? Then blob before row.
    try:
        session.expire_all()
        task = routing.claim(session, actor, task_id, {StageAction.SIGN})
        if task.document.version != plan[2]:
            raise ConflictError("Văn bản vừa được người khác xử lý; hãy tải lại và ký lại.")
        token = secrets.token_urlsafe(32)
        row = ExternalSigningSession(
            token_sha256=_token_hash(token),
            mode=mode,
            task_id=plan[0],
            document_id=plan[1],
            user_id=actor.id,
            certificate_id=cert_row.id if cert_row else None,
            document_version=plan[2],
            source_sha256=plan[3],
            prepared_sha256=blobs.publish(staged) if staged else None,
            field_name=profile.field_name,
            level=level,
            document_digest=prepared.document_digest if prepared else None,
            reserved_start=prepared.reserved_start if prepared else None,
            reserved_end=prepared.reserved_end if prepared else None,
            signed_attrs=prepared.signed_attrs if prepared else None,
            signature_mechanism=prepared.signature_mechanism if prepared else None,
            created_at=now,
            expires_at=utcnow() + SESSION_TTL,
        )
        session.add(row)
        session.commit()
    except BaseException:
        session.rollback()
        if staged is not None:
            blobs.discard(staged)
        raise
    return Prepared(row, token, prepared)


# --- complete / upload --------------------------------------------------------------


def _open_session(session: Session, actor: User, token: str) -> ExternalSigningSession:
    row = session.scalars(
        select(ExternalSigningSession).where(
            ExternalSigningSession.token_sha256 == _token_hash(token)
        )
    ).first()
    if row is None or row.user_id != actor.id:
        raise NotFoundError("Không tìm thấy phiên ký số này.", code="session_not_found")
    return row


def _consume(session: Session, actor: User, token: str, mode: str) -> ExternalSigningSession:
    """Phase 1: take the session (once only) and check the task is still open; commits."""
    row = _open_session(session, actor, token)
    if row.mode != mode:
        raise ConflictError(
            "Phiên ký này không dùng cách gửi chữ ký vừa chọn "
            f"(phiên dạng «{row.mode}»): dùng /complete cho 'signature', /upload cho 'plugin'.",
            code="wrong_mode",
        )
    now = utcnow()
    if row.used_at is not None:
        raise SessionGoneError("Phiên ký này đã được dùng; hãy chuẩn bị phiên ký mới.")
    if row.expires_at <= now:
        raise SessionGoneError("Phiên ký đã hết hạn; hãy chuẩn bị phiên ký mới.")
    taken = session.execute(
        update(ExternalSigningSession)
        .where(ExternalSigningSession.id == row.id, ExternalSigningSession.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(taken, "rowcount", 0) != 1:
        raise SessionGoneError("Phiên ký này đã được dùng; hãy chuẩn bị phiên ký mới.")
    session.commit()
    session.refresh(row)
    routing.claim(session, actor, row.task_id, {StageAction.SIGN})
    session.commit()
    return row


def _refuse(
    session: Session, actor: User, row: ExternalSigningSession, exc: WorkflowError
) -> WorkflowError:
    """Record a refused attempt (the session stays used) and return the error to raise."""
    session.rollback()
    fresh = session.get(ExternalSigningSession, row.id)
    if fresh is not None:
        fresh.outcome = "refused"
    audit.append(
        session,
        AuditAction.SIGN_FAILED,
        actor_id=actor.id,
        object_type="document",
        object_id=row.document_id,
        details={"reason": exc.code, "via": f"external:{row.mode}", "task": row.task_id},
    )
    session.commit()
    return exc


def _expected(session: Session, row: ExternalSigningSession) -> dict[str, int]:
    """Fingerprint → certificate id of the signer(s) this session accepts."""
    certs = _external_certs(session, row.user_id, utcnow())
    if row.certificate_id is not None:
        certs = [c for c in certs if c.id == row.certificate_id]
    return {c.fingerprint: c.id for c in certs}


def check_level(made: str, required: str) -> None:
    """The document type's signing-level policy holds for uploaded signatures too.

    :raises InvalidInputError: ``made`` (e.g. B-B, no signature timestamp) is below
        ``required`` (e.g. B-LT).
    """
    rank = {level: i for i, level in enumerate(PADES_LEVELS)}
    if rank.get(made, -1) < rank.get(required, 0):
        raise InvalidInputError(
            f"Chữ ký gửi lên đạt mức PAdES {made}, thấp hơn mức {required} mà quy định ký "
            "số của loại văn bản này yêu cầu (cần có dấu thời gian của chữ ký). Chữ ký "
            "không được lưu; hãy ký lại bằng phần mềm ký có dấu thời gian.",
            code="level_too_low",
        )


def _finish(
    services: Services,
    row: ExternalSigningSession,
    signed: Path,
    field_name: str,
    expected: dict[str, int],
) -> tuple[signing_flow.Produced, int, str]:
    """Phase 2 tail: long-term data, validation, expected signer; stages the result."""
    blobs = services.blobs
    final = signed
    if row.level in ("B-LT", "B-LTA"):
        final = blobs.new_temp_path(".pdf")
        try:
            external.extend_long_term(
                signed,
                final,
                row.level,
                services.trust,
                services.trust_services.revocation_source(),
                services.trust_services.timestamper,
                # Where the server itself wrote the CMS (not a plugin's own file).
                (row.reserved_start, row.reserved_end)
                if row.mode == "signature" and row.reserved_start and row.reserved_end
                else None,
            )
        except SigningError as exc:
            final.unlink(missing_ok=True)
            raise signing_flow.SigningFailedError(
                "Không bổ sung được dữ liệu kiểm tra dài hạn cho chữ ký. Văn bản chưa được ký."
            ) from exc
        finally:
            signed.unlink(missing_ok=True)
    try:
        with blobs.local_copy(row.source_sha256) as source:
            before = signature_count(source)
        report = validate_pdf(
            final,
            services.trust,
            services.trust_services.revocation_source(),
            skip_diff_from=before if large_document(final) else None,
        )
        mine = [s for s in report.signatures if s.field_name == field_name]
        if len(mine) != 1:
            raise InvalidInputError("Không tìm thấy chữ ký mới trong tệp.", code="no_signature")
        if mine[0].cert_fingerprint_sha256 not in expected:
            raise ForbiddenError(
                f"Văn bản được ký bằng chứng thư số của «{mine[0].signer_name}», không phải "
                "chứng thư số đã đăng ký của người được giao ký. Chữ ký không được lưu.",
                code="wrong_signer",
            )
        if not new_ones_valid(report, before):
            raise InvalidInputError(
                "Chữ ký không vượt qua bước kiểm tra nên không được lưu: "
                + "; ".join(p for s in split(report, before)[0] for p in s.problems),
                code="invalid_signature",
            )
        check_level(mine[0].pades_level, row.level)
        cert_id = expected[mine[0].cert_fingerprint_sha256]
        produced = signing_flow.Produced(blobs.stage_file(final), report, split(report, before)[1])
        return produced, cert_id, mine[0].pades_level
    except BaseException:
        final.unlink(missing_ok=True)
        raise


def _record(
    session: Session,
    services: Services,
    actor: User,
    row_id: int,
    produced: signing_flow.Produced,
    certificate_id: int,
    field_name: str,
    level: str,
) -> signing_flow.SignOutcome:
    """Phase 3: nothing moved since prepare? Store, close the task, advance, audit."""
    session.expire_all()
    row = session.get(ExternalSigningSession, row_id)
    assert row is not None  # noqa: S101 - rows are never deleted
    task = routing.claim(session, actor, row.task_id, {StageAction.SIGN})
    doc = task.document
    if doc.version != row.document_version or doc.current_revision.blob_sha256 != (
        row.source_sha256
    ):
        raise ConflictError(
            "Văn bản vừa được người khác xử lý trong lúc ký. Chữ ký này không được lưu; "
            "hãy tải lại trang."
        )
    now = utcnow()
    rev, sig = signing_flow.store_signed(
        session, services.blobs, doc, actor.id, certificate_id, field_name, produced, now
    )
    sig.pades_level = level  # the new signature's level (the last report may be a DTS)
    routing.close_task(task, actor, "signed", None)
    routing.advance(session, doc, task, signed=True)
    coverage.record_signature(
        session, services.blobs, services.trust, doc, now=now, report=produced.report
    )
    row.outcome = "signed"
    cert = session.get(Certificate, certificate_id)
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
            "certificate": cert.fingerprint if cert else None,
            "field": field_name,
            "level": level,
            "on_behalf_of": task.on_behalf_of_id,
            "via": f"external:{row.mode}",
            **signing_flow.earlier_details(produced.earlier),
        },
    )
    return signing_flow.SignOutcome(task, rev, sig, produced.report, produced.earlier)


def _run(
    session: Session,
    services: Services,
    actor: User,
    row: ExternalSigningSession,
    produce: Any,
) -> signing_flow.SignOutcome:
    """Phases 2 and 3 around ``produce(expected) -> (path, field_name)``; commits."""
    expected = _expected(session, row)
    session.commit()
    try:
        if not expected:
            raise ForbiddenError(
                "Chứng thư số đã đăng ký của bạn không còn hiệu lực; chữ ký không được lưu.",
                code="certificate_not_registered",
            )
        try:
            signed, field_name = produce(expected)
        except ExternalSignatureError as exc:
            status = ForbiddenError if exc.code == "wrong_signer" else InvalidInputError
            raise status(exc.message_vi, code=exc.code) from exc
        produced, cert_id, level = _finish(services, row, signed, field_name, expected)
    except WorkflowError as exc:
        raise _refuse(session, actor, row, exc) from exc.__cause__
    try:
        outcome = _record(session, services, actor, row.id, produced, cert_id, field_name, level)
        session.commit()
    except WorkflowError as exc:
        services.blobs.discard(produced.staged)
        raise _refuse(session, actor, row, exc) from exc.__cause__
    except BaseException:
        session.rollback()
        services.blobs.discard(produced.staged)
        raise
    return outcome


def run_complete(
    session: Session,
    services: Services,
    actor: User,
    token: str,
    body: schemas.ExternalCompleteRequest,
) -> signing_flow.SignOutcome:
    """Embed a raw signature or a CMS, validate, check the signer, store (commits)."""
    given = {"signature_b64": body.signature_b64, "cms_b64": body.cms_b64}
    kinds = [k for k, v in given.items() if v is not None]
    if len(kinds) != 1:
        raise InvalidInputError("Cần đúng một trong 'signature_b64' hoặc 'cms_b64' (base64).")
    try:
        data = base64.b64decode(given[kinds[0]] or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(f"'{kinds[0]}' không phải base64 hợp lệ.") from exc
    if not data:
        raise InvalidInputError(f"'{kinds[0]}' rỗng.")
    row = _consume(session, actor, token, "signature")
    cert = session.get(Certificate, row.certificate_id) if row.certificate_id else None
    assert cert is not None and row.prepared_sha256 is not None  # noqa: S101 - signature mode
    assert row.document_digest is not None and row.signed_attrs is not None  # noqa: S101
    prepared = PreparedExternal(
        document_digest=row.document_digest,
        reserved_start=row.reserved_start or 0,
        reserved_end=row.reserved_end or 0,
        signed_attrs=row.signed_attrs,
        signature_mechanism=row.signature_mechanism or "",
    )
    cert_pem = cert.cert_pem.encode()
    trust = services.trust
    timestamper = services.trust_services.timestamper if row.level != "B-B" else None
    prepared_sha256 = row.prepared_sha256

    def produce(expected: dict[str, int]) -> tuple[Path, str]:
        if kinds[0] == "cms_b64" and external.inspect_cms(data).signer_fingerprint not in expected:
            raise ExternalSignatureError(
                "wrong_signer",
                "Khối CMS được ký bằng chứng thư số khác với chứng thư số đã khai báo khi "
                "chuẩn bị. Chữ ký không được lưu.",
            )
        out = services.blobs.new_temp_path(".pdf")
        try:
            with services.blobs.open(prepared_sha256) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            if kinds[0] == "signature_b64":
                chain = list(trust.other_certs_pem + trust.trust_roots_pem)
                external.embed_raw_signature(out, prepared, data, cert_pem, chain, timestamper)
            else:
                external.embed_cms(out, prepared, data, timestamper)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return out, row.field_name

    return _run(session, services, actor, row, produce)


def run_upload(
    session: Session, services: Services, actor: User, token: str, staged: StagedBlob
) -> signing_flow.SignOutcome:
    """Accept a PDF signed by a local plugin: the exact prepared bytes plus one signature."""
    try:
        row = _consume(session, actor, token, "plugin")
    except BaseException:
        services.blobs.discard(staged)
        raise
    source_sha256 = row.source_sha256

    def produce(expected: dict[str, int]) -> tuple[Path, str]:
        with services.blobs.local_copy(source_sha256) as base:
            found = external.check_appended(base, staged.path)
        return staged.path, found.field_name

    try:
        return _run(session, services, actor, row, produce)
    finally:
        services.blobs.discard(staged)


# --- routes -------------------------------------------------------------------------


@bp.post("/users/<username>/certificates")
@operation(body=schemas.RegisterCertificateRequest, responses={201: schemas.Certificate})
def external_register_certificate(username: str) -> Any:
    """Register the certificate of a user's signing token (administrators; no key)."""
    body = parse(schemas.RegisterCertificateRequest, http.json_body())
    db = get_session()
    row = register_certificate(db, get_services(), http.actor(), username, body)
    db.commit()
    owner = db.get(User, row.user_id) if row.user_id else None
    return certificate_answer(row, owner, utcnow()).dump(), 201


@bp.post("/tasks/<int:task_id>/external/prepare")
@operation(body=schemas.ExternalPrepareRequest, responses={201: schemas.ExternalPrepared})
def external_prepare(task_id: int) -> Any:
    """Prepare a signature made off the server: the data to sign, or the PDF for a plugin."""
    request_body = parse(schemas.ExternalPrepareRequest, http.json_body())
    result = run_prepare(get_session(), get_services(), http.actor(), task_id, request_body)
    row, sid = result.row, result.session_id
    body: dict[str, Any] = {
        "session_id": sid,
        "mode": row.mode,
        "task_id": row.task_id,
        "document_id": row.document_id,
        "field_name": row.field_name,
        "level": row.level,
        "expires_at": row.expires_at,
        "document_url": f"/api/v1/external/{sid}/document",
    }
    if result.prepared is not None:
        body.update(
            data_to_sign_b64=base64.b64encode(result.prepared.signed_attrs).decode(),
            digest_algorithm=external.DIGEST_ALGORITHM,
            signature_mechanism=result.prepared.signature_mechanism,
            complete_url=f"/api/v1/external/{sid}/complete",
        )
    else:
        body.update(source_sha256=row.source_sha256, upload_url=f"/api/v1/external/{sid}/upload")
    return schemas.ExternalPrepared(**body).dump(), 201


@bp.get("/external/<session_id>")
@operation(responses={200: schemas.ExternalSession})
def external_status(session_id: str) -> Any:
    """State of a signing session (its owner only)."""
    row = _open_session(get_session(), http.actor(), session_id)
    return schemas.ExternalSession(
        mode=row.mode,
        task_id=row.task_id,
        document_id=row.document_id,
        expires_at=row.expires_at,
        used=row.used_at is not None,
        outcome=row.outcome,
    ).dump()


@bp.get("/external/<session_id>/document")
@operation(responses={200: File(("application/pdf",), "the PDF of the session")})
def external_document(session_id: str) -> Any:
    """The exact PDF of the session: to sign (plugin mode) or prepared (signature mode)."""
    row = _open_session(get_session(), http.actor(), session_id)
    if row.used_at is not None or row.expires_at <= utcnow():
        raise SessionGoneError("Phiên ký đã hết hạn hoặc đã được dùng.")
    sha = row.prepared_sha256 or row.source_sha256
    response = send_blob(sha, f"ky-{row.id}.pdf")
    response.headers["X-Content-SHA256"] = sha
    return response


@bp.post("/external/<session_id>/complete")
@operation(body=schemas.ExternalCompleteRequest, responses={200: document_schemas.SignOutcome})
def external_complete(session_id: str) -> Any:
    """Finish with a raw signature (``signature_b64``) or a CMS (``cms_b64``)."""
    body = parse(schemas.ExternalCompleteRequest, http.json_body())
    outcome = run_complete(get_session(), get_services(), http.actor(), session_id, body)
    return document_schemas.SignOutcome.of(outcome, utcnow()).dump()


@bp.post("/external/<session_id>/upload")
@operation(form=schemas.ExternalUploadForm, responses={200: document_schemas.SignOutcome})
def external_upload(session_id: str) -> Any:
    """Finish with a PDF signed by a local plugin (multipart ``file``)."""
    staged, _name = stage_upload()
    outcome = run_upload(get_session(), get_services(), http.actor(), session_id, staged)
    return document_schemas.SignOutcome.of(outcome, utcnow()).dump()


__all__ = ["SESSION_TTL", "SessionGoneError", "run_complete", "run_prepare", "run_upload"]
