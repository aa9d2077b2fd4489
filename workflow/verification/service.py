"""workflow: use-cases of signature verification: validation reports of any PDF (JSON,
HTML, a PDF signed with the organisation's seal), verification codes of issued documents
and their public page, and the QR code printed in the seal stamp."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from pyhanko.stamp import QRStampStyle
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing import etsi
from signing.keys import load_signer
from signing.pades import sign_pdf_file
from signing.profiles import SigningProfile, TrustConfig
from signing.revocation import CertStatus, RevocationSource
from signing.stamps import FONT_PATH, TEXT_PARAM, StampContent, stamp_style, stamp_text
from signing.validate import MSG_TIMESTAMP, SignatureReport, ValidationReport, validate_pdf
from storage.blobs import BlobStore, StagedBlob
from storage.models import Certificate, Document, Role, Unit, User
from storage.verification_models import VerificationCode
from workflow.documents.usecases import check_pdf
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.registry.issuers import issuer_of, seal_certificate
from workflow.signatures.flow import SigningFailedError
from workflow.vocab import DOC_TYPES, STATE_LABELS, vn_iso

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32 (no I, L, O, U)."""
CODE_LENGTH = 10
"""50 random bits: guessing a valid code is hopeless, so codes need no rate limit."""
_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
CHECKER_ROLES = (Role.AUDITOR, Role.CLERK)
MODIFICATIONS = {"none": "none", "lta_updates": "none", "form_filling": "form_filling"}
"""pyHanko's modification levels as the report's four categories (else ``'other'``)."""

CertStatusLookup = Callable[[int], CertStatus]
"""The revocation status of one of our certificates by serial (``Services.certificate_status``)."""


# --- verification codes ---------------------------------------------------------------


def new_code() -> str:
    """:returns: a fresh random code (never derived from the document)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """:returns: the code as stored (upper case, Crockford aliases, no ``-``/spaces), or
    None if it cannot be one."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_CROCKFORD_ALIASES)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def ensure_code(session: Session, document: Document) -> str:
    """The document's verification code, created on first call (no commit).

    Call it while holding the document's row lock (issuance does) so that two
    transactions cannot both create one.
    """
    existing = session.scalars(
        select(VerificationCode.code).where(VerificationCode.document_id == document.id)
    ).first()
    if existing is not None:
        return existing
    while True:
        code = new_code()
        taken = session.scalars(
            select(VerificationCode.id).where(VerificationCode.code == code)
        ).first()
        if taken is None:
            break
    session.add(VerificationCode(document_id=document.id, code=code))
    session.flush()
    return code


def code_of(session: Session, document: Document) -> str | None:
    """:returns: the document's verification code, if it has one."""
    return session.scalars(
        select(VerificationCode.code).where(VerificationCode.document_id == document.id)
    ).first()


def verification_url(base_url: str, code: str) -> str:
    """:returns: the public page of ``code`` under ``base_url`` (``PUBLIC_BASE_URL``)."""
    return f"{base_url.rstrip('/')}/v/{code}"


def qr_svg(url: str) -> bytes:
    """:returns: a QR code of ``url`` as a standalone SVG (vector, no Pillow)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = BytesIO()
    image.save(out)
    return out.getvalue()


def qr_png(url: str, box_size: int = 8) -> bytes:
    """:returns: a QR code of ``url`` as PNG (needs Pillow, which reportlab requires)."""
    code = qrcode.QRCode(box_size=box_size, border=2)
    code.add_data(url)
    out = BytesIO()
    code.make_image().save(out)
    return out.getvalue()


def seal_stamp_style() -> QRStampStyle:
    """The seal stamp style with a QR code left of the text (same font, border, layout).

    Pass it with :func:`seal_stamp_params` to pyHanko's ``PdfSigner``.
    """
    fields = {f.name: getattr(stamp_style(), f.name) for f in dataclasses.fields(stamp_style())}
    fields["inner_content_layout"] = None  # let QRStampStyle place the QR and the text
    return QRStampStyle(**fields, qr_inner_size=60)


def seal_stamp_params(content: StampContent, url: str) -> dict[str, str]:
    """:returns: the appearance text parameters of :func:`seal_stamp_style`."""
    return {TEXT_PARAM: stamp_text(content), "url": url}


# --- validation reports -----------------------------------------------------------------


def require_checker(actor: User) -> None:
    """:raises ForbiddenError: only auditors and clerks check arbitrary files."""
    if not any(actor.has_role(role) for role in CHECKER_ROLES):
        raise ForbiddenError("Chỉ kiểm tra viên và văn thư được kiểm tra chữ ký số của tệp bất kỳ.")


@dataclass(frozen=True)
class Checker:
    """What validation needs (built by the view from the services)."""

    trust: TrustConfig
    """Trust roots and intermediates."""
    revocation: RevocationSource | None
    """Fresh revocation data for our certificates."""
    cert_status: CertStatusLookup | None
    """Revocation status and time of our certificates by serial."""


def _iso(moment: datetime | None) -> str | None:
    return vn_iso(moment) if moment is not None else None


def _revocation(
    sig: SignatureReport, facts: etsi.SignatureFacts | None, checker: Checker
) -> tuple[dict[str, Any], datetime | None, bool]:
    """The revocation part of a signature's report, the revocation time, unknown flag."""
    embedded = list(facts.revocation_embedded) if facts else []
    status, revoked_at, known = ("revoked" if sig.revoked else "not_checked"), None, True
    if facts and facts.chain and facts.reaches_trust_anchor and checker.cert_status:
        result = checker.cert_status(int(facts.chain[0].serial, 16))
        known = result.known
        if result.revoked:
            status, revoked_at = "revoked", result.revoked_at
        elif not sig.revoked:
            status = "good" if known else "unknown"
    best = sig.timestamp_time or sig.signing_time
    at_signing = {"good": "good", "unknown": "unknown", "not_checked": "unknown"}.get(status)
    if status == "revoked":
        at_signing = "unknown"
        if revoked_at is not None and best is not None:
            at_signing = "good" if best < revoked_at else "revoked"
    body = {
        "status": status,
        "revoked_at": _iso(revoked_at),
        "at_signing_time": at_signing,
        "embedded": bool(embedded),
        "embedded_kinds": embedded,
    }
    return body, revoked_at, not known


def _cert_json(cert: etsi.CertInfo) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "not_before": _iso(cert.not_before),
        "not_after": _iso(cert.not_after),
        "fingerprint_sha256": cert.fingerprint_sha256,
        "trust_anchor": cert.trust_anchor,
    }


def _signature_json(
    sig: SignatureReport, facts: etsi.SignatureFacts | None, checker: Checker, now: datetime
) -> tuple[dict[str, Any], etsi.EtsiResult]:
    revocation, revoked_at, unknown = _revocation(sig, facts, checker)
    result = etsi.indication(sig, facts, revoked_at=revoked_at, revocation_unknown=unknown, now=now)
    chain = [_cert_json(c) for c in facts.chain] if facts else []
    anchor = next((c for c in chain if c["trust_anchor"]), None)
    ts = facts.timestamp if facts else None
    timestamp = None
    if sig.timestamp_time is not None or ts is not None:
        timestamp = {
            "time": _iso(sig.timestamp_time or (ts.time if ts else None)),
            "authority": ts.authority if ts else "",
            "authority_fingerprint_sha256": ts.authority_fingerprint_sha256 if ts else "",
            "valid": sig.timestamp_time is not None and MSG_TIMESTAMP not in sig.problems,
        }
    certification = None
    if facts and facts.certification is not None:
        certification = {"permission": facts.certification, "docmdp_ok": sig.docmdp_ok}
    signed_revision = facts.signed_revision if facts else None
    body = {
        "field_name": sig.field_name,
        "kind": "document_timestamp" if sig.pades_level == "DTS" else "signature",
        "signer": {"name": sig.signer_name, "subject": sig.signer_subject},
        "certificate_chain": chain,
        "trust": {
            "trusted": sig.trusted,
            "root": anchor["subject"] if anchor and sig.trusted else None,
            "root_fingerprint_sha256": anchor["fingerprint_sha256"] if anchor else None,
        },
        "revocation": revocation,
        "signing_time": _iso(sig.signing_time),
        "timestamp": timestamp,
        "coverage": {
            "level": sig.coverage,
            "whole_file": sig.coverage == "entire_file",
            "signed_revision": signed_revision,
            "total_revisions": facts.total_revisions if facts else None,
        },
        "modifications": {
            "level": MODIFICATIONS.get(sig.modification_level, sig.modification_level),
            "pyhanko_level": sig.modification_level,
            "docmdp_ok": sig.docmdp_ok,
        },
        "pades_level": sig.pades_level,
        "subfilter": sig.subfilter,
        "certification": certification,
        "intact": sig.intact,
        "valid": sig.valid,
        "bottom_line": sig.bottom_line,
        "problems": list(sig.problems),
        "summary": sig.summary,
        "etsi": result.to_dict(),
    }
    return body, result


def report_json(path: Path, checker: Checker, now: datetime | None = None) -> dict[str, Any]:
    """Validate a PDF and describe every signature (the ``/api/v1/validate`` contract).

    :returns: ``verdict``, ``error``, ``indication`` (overall ETSI status),
        ``signatures`` (signer, chain, trust, revocation, timestamp, coverage,
        modifications, PAdES level, certification, ETSI status) and ``validated_at``.
    """
    moment = now or datetime.now(UTC)
    report: ValidationReport = validate_pdf(path, checker.trust, checker.revocation)
    facts = etsi.collect_facts(path, checker.trust) if report.error is None else ()
    signatures, results = [], []
    for i, sig in enumerate(report.signatures):
        body, result = _signature_json(sig, facts[i] if i < len(facts) else None, checker, moment)
        signatures.append(body)
        results.append(result)
    total = next((f.total_revisions for f in facts if f is not None), None)
    return {
        "verdict": report.verdict,
        "error": report.error,
        "indication": etsi.overall(report, results).to_dict(),
        "revisions": total,
        "signatures": signatures,
        "validated_at": vn_iso(moment),
        "active_content": [item.label for item in report.active_content],
    }


def check_upload(
    blobs: BlobStore, staged: StagedBlob, filename: str, checker: Checker
) -> dict[str, Any]:
    """The report of an uploaded PDF; the staged file is always deleted, nothing is stored.

    :raises InvalidInputError: empty, not a PDF, damaged or encrypted (explained).
    """
    try:
        check_pdf(staged)
        body = report_json(staged.path, checker)
    finally:
        blobs.discard(staged)
    if body["error"] is not None:
        raise InvalidInputError(str(body["error"]), code="pdf_unreadable")
    return {"file": {"name": filename, "sha256": staged.sha256, "size": staged.size}, **body}


# --- the public page of a verification code ---------------------------------------------


def _public_signature(session: Session, sig: dict[str, Any]) -> dict[str, Any]:
    """A signature without personal names: whose (organisation's seal or a person's)."""
    fingerprint = (
        sig["certificate_chain"][0]["fingerprint_sha256"] if sig["certificate_chain"] else ""
    )
    cert = session.scalars(
        select(Certificate).where(Certificate.fingerprint == fingerprint)
    ).first()
    if sig["kind"] == "document_timestamp":
        kind, label = "document_timestamp", "Dấu thời gian tài liệu"
    elif cert is not None and cert.purpose == "seal":
        kind, label = "seal", f"Chữ ký số của tổ chức: {sig['signer']['name']}"
    else:
        kind, label = "personal", "Chữ ký số của người có thẩm quyền"
    return {
        "kind": kind,
        "label": label,
        "signed_at": (sig["timestamp"] or {}).get("time") or sig["signing_time"],
        "pades_level": sig["pades_level"],
        "intact": sig["intact"],
        "trusted": sig["trust"]["trusted"],
        "coverage": sig["coverage"]["level"],
        "modifications": sig["modifications"]["level"],
        "valid": sig["bottom_line"],
        "etsi": sig["etsi"],
    }


def find_code(session: Session, code: str) -> tuple[VerificationCode, Document]:
    """:returns: the code's row and its issued document.

    :raises NotFoundError: no issued document has this code.
    """
    normal = normalise_code(code)
    row = None
    if normal is not None:
        row = session.scalars(
            select(VerificationCode).where(VerificationCode.code == normal)
        ).first()
    if row is None or row.document.issued_at is None:
        raise NotFoundError("Không có văn bản nào đã ban hành với mã xác thực này.")
    return row, row.document


def public_record(
    session: Session, blobs: BlobStore, checker: Checker, code: str
) -> dict[str, Any]:
    """What anyone may learn from a verification code: the register entry (no subject of
    a classified document, no drafter or approver) and the live validity of the
    signatures of the issued file.

    :raises NotFoundError: no issued document has this code.
    """
    row, doc = find_code(session, code)
    register = {
        "symbol": doc.symbol,
        "number": doc.number,
        "issued_at": vn_iso(doc.issued_at),
        "issuer": doc.issuer_unit.name if doc.issuer_unit else None,
        "doc_type": doc.doc_type,
        "doc_type_label": DOC_TYPES.get(doc.doc_type, doc.doc_type),
        "state": doc.state,
        "state_label": STATE_LABELS.get(doc.state, doc.state),
        "recalled": doc.recalled_at is not None,
        "recalled_at": _iso(doc.recalled_at),
        "classified": bool(doc.classification),
        "subject": None if doc.classification else doc.subject,
    }
    body: dict[str, Any] = {"code": row.code, "register": register}
    if not doc.has_content:
        body.update(status="no_content", file=None, indication=None, signatures=[])
        return body
    rev = doc.current_revision
    with blobs.local_copy(rev.blob_sha256) as path:
        full = report_json(path, checker)
    signatures = [_public_signature(session, s) for s in full["signatures"]]
    passed = full["indication"]["indication"] == etsi.Indication.TOTAL_PASSED
    status = "recalled" if register["recalled"] else ("valid" if passed else "invalid")
    body.update(
        status=status,
        file={"sha256": rev.blob_sha256, "size": rev.size},
        indication=full["indication"],
        signatures=signatures,
        validated_at=full["validated_at"],
    )
    return body


# --- the signed PDF report --------------------------------------------------------------

_INDICATION_VN = {
    "TOTAL-PASSED": "HỢP LỆ (TOTAL-PASSED)",
    "INDETERMINATE": "CHƯA XÁC ĐỊNH ĐƯỢC (INDETERMINATE)",
    "TOTAL-FAILED": "KHÔNG HỢP LỆ (TOTAL-FAILED)",
}
_MODIFICATIONS_VN = {
    "none": "không có",
    "form_filling": "điền biểu mẫu",
    "annotations": "thêm chú thích",
    "other": "thay đổi khác (không được phép)",
}
_REVOCATION_VN = {
    "good": "chưa bị thu hồi",
    "revoked": "đã bị thu hồi",
    "unknown": "không xác định",
    "not_checked": "không kiểm tra",
}


def indication_label(indication: dict[str, Any] | None) -> str:
    """:returns: the Vietnamese wording of an ETSI status, with its sub-indication."""
    if not indication:
        return "Không có"
    label = _INDICATION_VN.get(indication["indication"], indication["indication"])
    sub = indication.get("sub_indication")
    return f"{label} / {sub}" if sub else label


def _signature_rows(sig: dict[str, Any]) -> list[tuple[str, str]]:
    ts = sig["timestamp"]
    cov = sig["coverage"]
    rows = [
        ("Kết luận (ETSI EN 319 102-1)", indication_label(sig["etsi"])),
        ("Người ký", sig["signer"]["name"] or "(không rõ)"),
        ("Thời điểm ký (người ký khai)", sig["signing_time"] or "không có"),
        (
            "Dấu thời gian",
            f"{ts['time']} · {ts['authority']} · {'hợp lệ' if ts['valid'] else 'không hợp lệ'}"
            if ts
            else "không có",
        ),
        (
            "Tin cậy",
            f"có, gốc: {sig['trust']['root']}" if sig["trust"]["trusted"] else "không",
        ),
        (
            "Thu hồi",
            f"{_REVOCATION_VN.get(sig['revocation']['status'], '')}; tại thời điểm ký: "
            f"{_REVOCATION_VN.get(sig['revocation']['at_signing_time'], '')}; dữ liệu nhúng: "
            + (", ".join(sig["revocation"]["embedded_kinds"]) or "không"),
        ),
        (
            "Phạm vi",
            ("toàn bộ tệp" if cov["whole_file"] else f"phiên bản {cov['signed_revision']}")
            + f" / {cov['total_revisions']} phiên bản",
        ),
        ("Thay đổi sau khi ký", _MODIFICATIONS_VN.get(sig["modifications"]["level"], "")),
        ("Mức PAdES", sig["pades_level"]),
    ]
    if sig["certification"]:
        rows.append(("Chữ ký chứng thực (DocMDP)", f"P={sig['certification']['permission']}"))
    rows.extend(("Lỗi", p) for p in sig["problems"])
    for i, cert in enumerate(sig["certificate_chain"]):
        rows.append(
            (
                f"Chứng thư {i + 1}",
                f"{cert['subject']} · cấp bởi {cert['issuer']} · số hiệu {cert['serial']} · "
                f"hiệu lực {cert['not_before']} đến {cert['not_after']} · "
                f"SHA-256 {cert['fingerprint_sha256']}",
            )
        )
    return rows


def render_report_pdf(report: dict[str, Any], out: Path) -> None:
    """Write the validation report as a Vietnamese PDF (DejaVu Sans) with reportlab."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if "TrinhKyDejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TrinhKyDejaVu", str(FONT_PATH)))
    body = ParagraphStyle("body", fontName="TrinhKyDejaVu", fontSize=9, leading=13)
    title = ParagraphStyle("title", parent=body, fontSize=15, leading=21, spaceAfter=6)
    heading = ParagraphStyle("heading", parent=body, fontSize=11, leading=16, spaceBefore=8)

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    file = report.get("file") or {}
    story: list[Any] = [
        para("BÁO CÁO KIỂM TRA CHỮ KÝ SỐ", title),
        para(f"Tệp: {file.get('name', '')} · {file.get('size', '')} byte"),
        para(f"SHA-256: {file.get('sha256', '')}"),
        para(f"Thời điểm kiểm tra: {report['validated_at']}"),
        para(f"Kết luận chung: {indication_label(report['indication'])}", heading),
    ]
    if not report["signatures"]:
        story.append(para("Tệp không có chữ ký số."))
    for i, sig in enumerate(report["signatures"], 1):
        story.append(para(f"Chữ ký {i}: {sig['field_name']}", heading))
        table = Table([[para(k), para(v)] for k, v in _signature_rows(sig)], colWidths=(120, 330))
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(table)
    story += [Spacer(1, 12), para("Báo cáo được ký số bởi tổ chức bằng hệ thống TrinhKy.")]
    doc = SimpleDocTemplate(
        str(out), pagesize=A4, title="Báo cáo kiểm tra chữ ký số", author="TrinhKy"
    )
    doc.build(story)


def seal_for(session: Session, actor: User) -> tuple[Certificate, Unit]:
    """:returns: the seal certificate (and its unit) of the actor's issuing committee, else
    the first active seal certificate.

    :raises ConflictError: no seal certificate is configured.
    """

    units = sorted(actor.units_with(Role.CLERK) or actor.units_with(Role.AUDITOR))
    unit = session.get(Unit, units[0]) if units else None
    if unit is not None:
        issuer = issuer_of(session, unit)
        try:
            return seal_certificate(session, issuer), issuer
        except ConflictError:
            pass
    first = session.scalars(
        select(Certificate.unit_id)
        .where(Certificate.purpose == "seal", Certificate.status == "active")
        .order_by(Certificate.id)
    ).first()
    fallback = session.get(Unit, first) if first is not None else None
    if fallback is None:
        raise ConflictError("Chưa có chứng thư số của tổ chức để ký báo cáo. Hãy báo quản trị.")
    return seal_certificate(session, fallback), fallback


def signed_report_pdf(
    session: Session,
    blobs: BlobStore,
    checker: Checker,
    report: dict[str, Any],
    actor: User,
    seal_passphrase: str,
    timestamper: Any = None,
) -> bytes:
    """The report as a PDF signed with the organisation's seal (B-T with a timestamper).

    Nothing is stored: the temporary files are removed before returning.

    :raises SigningFailedError: the seal key cannot be used or the result does not validate.
    """
    cert, unit = seal_for(session, actor)
    plain, signed = blobs.new_temp_path(".pdf"), blobs.new_temp_path(".pdf")
    try:
        render_report_pdf(report, plain)
        try:
            signer = load_signer(
                cert.cert_pem.encode(),
                cert.encrypted_key_pem.encode(),
                seal_passphrase,
                checker.trust.other_certs_pem,
            )
            profile = SigningProfile(
                field_name="XacThucBaoCao",
                reason="Báo cáo kiểm tra chữ ký số",
                location=unit.name,
                level="B-T" if timestamper is not None else "B-B",
            )
            sign_pdf_file(plain, signed, signer, profile, timestamper=timestamper)
        except Exception as exc:  # noqa: BLE001 - any key or signing problem is the server's
            raise SigningFailedError("Không ký được báo cáo bằng chữ ký số của tổ chức.") from exc
        if not validate_pdf(signed, checker.trust, checker.revocation).bottom_line:
            raise SigningFailedError("Báo cáo vừa ký không vượt qua bước kiểm tra chữ ký.")
        return signed.read_bytes()
    finally:
        plain.unlink(missing_ok=True)
        signed.unlink(missing_ok=True)
