"""Signing layer: validate every signature in a PDF into a plain, JSON-ready report."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import SuspiciousModification
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from signing import speedups  # noqa: F401  (installs the equivalent speed-ups)
from signing.active import ActiveItem, find_active_content
from signing.profiles import INTERNAL_LIST, TrustConfig
from signing.revocation import RevocationData, RevocationSource, revinfo_policy
from signing.stamps import VIETNAM_TZ

MSG_NOT_INTACT = "Chữ ký không còn nguyên vẹn: tệp đã bị sửa sau khi ký"
MSG_NOT_VALID = "Chữ ký số không hợp lệ về mặt mật mã"
MSG_UNTRUSTED = "Chứng thư số không được tin cậy (không chuỗi về gốc tin cậy của hệ thống)"
MSG_REVOKED = "Chứng thư số đã bị thu hồi"
MSG_MODIFIED = "Tệp đã bị thay đổi sau khi ký theo cách không được phép"
MSG_DOCMDP = "Thay đổi sau khi ký vi phạm giới hạn của chữ ký chứng thực"
MSG_COVERAGE = "Chữ ký không bao phủ toàn bộ phiên bản tài liệu đã ký"
MSG_TIMESTAMP = "Dấu thời gian của chữ ký không hợp lệ hoặc không được tin cậy"
MSG_BROKEN = "Không đọc được chữ ký (dữ liệu chữ ký bị hỏng)"
MSG_GENERIC = "Chữ ký không đạt yêu cầu kiểm tra"
MSG_UNREADABLE = "Không đọc được tệp PDF (tệp hỏng hoặc không phải PDF)."
MSG_ENCRYPTED = "Tệp PDF được mã hóa (có mật khẩu). Hãy gỡ mật khẩu rồi kiểm tra lại."

_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
}


@dataclass(frozen=True)
class SignatureReport:
    """Result of validating one embedded signature or document timestamp."""

    field_name: str
    """Name of the signature field."""
    signer_name: str
    """CN of the signer certificate (Vietnamese preserved)."""
    signer_subject: str
    """Signer certificate subject, RFC 4514."""
    issuer_subject: str
    """Signer certificate issuer, RFC 4514."""
    cert_fingerprint_sha256: str
    """Lowercase hex SHA-256 of the signer certificate's DER."""
    intact: bool
    """The digest over the signed byte ranges matches."""
    valid: bool
    """The cryptographic signature is correct."""
    trusted: bool
    """The signer certificate chains to one of the trust roots."""
    revoked: bool
    """The signer certificate (or its chain) is revoked."""
    coverage: str
    """``'entire_file'``, ``'entire_revision'`` or ``'partial'``."""
    modification_level: str
    """Changes after signing: ``'none'``, ``'lta_updates'``, ``'form_filling'``,
    ``'annotations'`` or ``'other'``."""
    signing_time: datetime | None
    """Signing time claimed by the signer."""
    timestamp_time: datetime | None
    """Time from the signature timestamp token (or the document timestamp)."""
    pades_level: str
    """``'B-B'``, ``'B-T'``, ``'B-LT'`` or ``'B-LTA'`` (document timestamps: ``'DTS'``)."""
    subfilter: str
    """Signature subfilter, e.g. ``'/ETSI.CAdES.detached'``."""
    docmdp_ok: bool | None
    """Changes comply with the certification (DocMDP) policy; None if not checked."""
    summary: str
    """pyHanko's one-line summary."""
    bottom_line: bool
    """Overall verdict: pyHanko's bottom line and trusted and intact."""
    problems: tuple[str, ...]
    """Vietnamese reasons when :attr:`bottom_line` is False."""
    trust_list: str = ""
    """Name of the trust list the signer's chain ended in (empty: untrusted)."""


@dataclass(frozen=True)
class ValidationReport:
    """Result of validating a whole PDF file."""

    signatures: tuple[SignatureReport, ...]
    """One report per signature, in file order."""
    error: str | None = None
    """Vietnamese message when the file could not be read at all."""
    active_content: tuple[ActiveItem, ...] = ()
    """JavaScript, XFA, launch actions, embedded files... in the file (shown to the
    signer and in reports: a valid signature does not make them harmless)."""

    @property
    def verdict(self) -> str:
        """``'valid'``, ``'invalid'``, ``'unsigned'`` or ``'unreadable'``."""
        if self.error is not None:
            return "unreadable"
        if not self.signatures:
            return "unsigned"
        return "valid" if all(s.bottom_line for s in self.signatures) else "invalid"

    @property
    def bottom_line(self) -> bool:
        """True if the file has signatures and all of them pass."""
        return self.verdict == "valid"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary; datetimes as ISO 8601 in Vietnam time.

        :returns: the report as plain data.
        """
        signatures = [
            {k: _jsonable(v) for k, v in dataclasses.asdict(s).items()} for s in self.signatures
        ]
        return {
            "verdict": self.verdict,
            "bottom_line": self.bottom_line,
            "error": self.error,
            "signatures": signatures,
            "active_content": [item.label for item in self.active_content],
        }

    def to_cache(self) -> dict[str, Any]:
        """:returns: :meth:`to_dict` plus what :meth:`from_dict` needs to rebuild the
        report whole (the active content's kinds and places, not only their labels)."""
        data = self.to_dict()
        data["active_items"] = [
            {"kind": item.kind, "where": item.where} for item in self.active_content
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        """The report :meth:`to_dict` gave (datetimes to the second, as shown).

        :param data: the output of :meth:`to_dict` (e.g. read back from a cache).
        :returns: the report.
        """
        times = {"signing_time", "timestamp_time"}
        names = {f.name for f in dataclasses.fields(SignatureReport)}
        signatures = []
        for item in data.get("signatures", []):
            values = {k: v for k, v in item.items() if k in names}
            for key in times:
                if values.get(key):
                    values[key] = datetime.fromisoformat(values[key])
            values["problems"] = tuple(values.get("problems", ()))
            signatures.append(SignatureReport(**values))
        error = data.get("error")
        active = tuple(
            ActiveItem(str(item["kind"]), str(item["where"]))
            for item in data.get("active_items", [])
        )
        return cls(
            signatures=tuple(signatures),
            error=str(error) if error is not None else None,
            active_content=active,
        )


def _jsonable(value: object) -> object:
    """Datetimes to ISO 8601 strings in Vietnam time, tuples to lists."""
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM_TZ).replace(microsecond=0).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _load_certs(blobs: tuple[bytes, ...]) -> list[asn1_x509.Certificate]:
    """Parse PEM (one or several certificates) or DER blobs."""
    certs: list[asn1_x509.Certificate] = []
    for blob in blobs:
        if asn1_pem.detect(blob):
            certs.extend(
                asn1_x509.Certificate.load(der) for _, _, der in asn1_pem.unarmor(blob, True)
            )
        else:
            certs.append(asn1_x509.Certificate.load(blob))
    return certs


def _context(trust: TrustConfig, revinfo: RevocationData | None = None) -> ValidationContext:
    """A fresh validation context: no network, soft-fail revocation checks.

    With revocation data for the certificate, that data is required (and so a
    revoked certificate is found even if it declares no OCSP/CRL URL).
    """
    revinfo = revinfo or RevocationData()
    return ValidationContext(
        trust_roots=_load_certs(trust.trust_roots_pem),
        other_certs=_load_certs(trust.other_certs_pem) + _load_certs(revinfo.certs),
        ocsps=list(revinfo.ocsp_responses),
        crls=list(revinfo.crls),
        allow_fetching=False,
        revinfo_policy=revinfo_policy(bool(revinfo.ocsp_responses or revinfo.crls)),
    )


def _token_certs(sig: EmbeddedPdfSignature) -> list[asn1_x509.Certificate]:
    """Certificates inside the signature timestamp token (the TSA's), if any."""
    attrs = sig.signer_info["unsigned_attrs"]
    certs: list[asn1_x509.Certificate] = []
    if not attrs:
        return certs
    for attr in attrs:
        if attr["type"].native != "signature_time_stamp_token":
            continue
        for token in attr["values"]:
            certs.extend(
                c.chosen for c in token["content"]["certificates"] if c.name == "certificate"
            )
    return certs


load_certs = _load_certs
"""Parse PEM (one or several certificates) or DER blobs (public name)."""


def _revinfo(
    certs: list[asn1_x509.Certificate], revocation: RevocationSource | None
) -> RevocationData:
    """Fresh revocation data for ``certs`` (empty without a source)."""
    if revocation is None or not certs:
        return RevocationData()
    return revocation.revocation_data([x509.load_der_x509_certificate(c.dump()) for c in certs])


@dataclass(frozen=True)
class CertFacts:
    name: str
    subject: str
    issuer: str
    fingerprint: str


def cert_facts(cert: asn1_x509.Certificate | None) -> CertFacts:
    """Names and fingerprint of a certificate, tolerating garbage."""
    if cert is None:
        return CertFacts("", "", "", "")
    der = cert.dump()
    try:
        parsed = x509.load_der_x509_certificate(der)
        cns = parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        name = str(cns[0].value) if cns else ""
        subject = parsed.subject.rfc4514_string()
        issuer = parsed.issuer.rfc4514_string()
    except ValueError:
        name = subject = issuer = ""
    return CertFacts(name, subject, issuer, hashlib.sha256(der).hexdigest())


def _modification_level(status: Any) -> str:
    """pyHanko's modification level as a lowercase name."""
    if isinstance(status.diff_result, SuspiciousModification):
        return "other"
    level = status.modification_level
    if level is None:
        return "none"
    return str(level.name).lower()


def _coverage(status: Any) -> str:
    return _COVERAGE.get(status.coverage, "partial")


def _has_revocation_dss(reader: PdfFileReader) -> bool:
    """Whether the document security store holds revocation data (OCSP or CRL)."""
    dss = reader.root.get("/DSS")
    if dss is None:
        return False
    dss = dss.get_object()
    return bool(dss.get("/OCSPs")) or bool(dss.get("/CRLs"))


def _pades_level(
    sig: EmbeddedPdfSignature, has_ts: bool, dss_revinfo: bool, doc_ts_revisions: list[int]
) -> str:
    """PAdES baseline level from the timestamp, the DSS and later document timestamps."""
    if not has_ts:
        return "B-B"
    if not dss_revinfo:
        return "B-T"
    if any(rev > sig.signed_revision for rev in doc_ts_revisions):
        return "B-LTA"
    return "B-LT"


def _problems(status: Any, trusted: bool, coverage: str, mod_level: str) -> list[str]:
    """Vietnamese reasons for a failed signature."""
    problems = []
    if not status.intact:
        problems.append(MSG_NOT_INTACT)
    elif not status.valid:
        problems.append(MSG_NOT_VALID)
    if status.revoked:
        problems.append(MSG_REVOKED)
    elif not trusted:
        problems.append(MSG_UNTRUSTED)
    if coverage == "partial":
        problems.append(MSG_COVERAGE)
    if status.docmdp_ok is False:
        problems.append(MSG_DOCMDP if mod_level != "other" else MSG_MODIFIED)
    elif mod_level in ("annotations", "other"):
        problems.append(MSG_MODIFIED)
    ts = getattr(status, "timestamp_validity", None)
    if ts is not None and not (ts.intact and ts.valid and ts.trust_problem_indic is None):
        problems.append(MSG_TIMESTAMP)
    return problems


def _trust_list(status: Any, trust: TrustConfig) -> str:
    """The trust list holding the anchor of the signer's validation path ('' if none)."""
    path = getattr(status, "validation_path", None)
    if path is None or status.trust_problem_indic is not None:
        return ""
    try:
        anchor = path.first
        der = anchor.dump() if anchor is not None else b""
    except Exception:  # an attribute-certificate path or an odd anchor: no list name
        return ""
    names = dict(trust.list_names)
    return names.get(hashlib.sha256(der).hexdigest(), INTERNAL_LIST)


def _report(
    sig: EmbeddedPdfSignature,
    status: Any,
    facts: CertFacts,
    is_doc_ts: bool,
    level: str,
    trust_list: str = "",
) -> SignatureReport:
    """Turn a pyHanko status into a :class:`SignatureReport`."""
    trusted = status.trust_problem_indic is None
    coverage = _coverage(status)
    mod_level = _modification_level(status)
    if is_doc_ts:  # DocumentTimestampStatus has no bottom_line of its own
        pyhanko_ok = bool(status.valid) and mod_level not in ("annotations", "other")
    else:
        pyhanko_ok = bool(status.bottom_line)
    bottom_line = pyhanko_ok and trusted and bool(status.intact)
    problems: list[str] = []
    if not bottom_line:
        problems = _problems(status, trusted, coverage, mod_level) or [MSG_GENERIC]
    if is_doc_ts:
        signing_time, timestamp_time = None, status.timestamp
    else:
        signing_time = status.signer_reported_dt
        ts = status.timestamp_validity
        timestamp_time = ts.timestamp if ts is not None else None
    return SignatureReport(
        field_name=str(sig.field_name),
        signer_name=facts.name,
        signer_subject=facts.subject,
        issuer_subject=facts.issuer,
        cert_fingerprint_sha256=facts.fingerprint,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=trusted,
        revoked=bool(status.revoked),
        coverage=coverage,
        modification_level=mod_level,
        signing_time=signing_time,
        timestamp_time=timestamp_time,
        pades_level=level,
        subfilter=str(sig.sig_object.get("/SubFilter", "")),
        docmdp_ok=status.docmdp_ok,
        summary=str(status.summary()),
        bottom_line=bottom_line,
        problems=tuple(problems),
        trust_list=trust_list,
    )


def _broken_report(sig: EmbeddedPdfSignature, exc: Exception) -> SignatureReport:
    """Report for a signature pyHanko could not even evaluate."""
    try:
        facts = cert_facts(sig.signer_cert)
    except Exception:  # the CMS blob itself may be garbage
        facts = cert_facts(None)
    try:
        field_name = str(sig.field_name)
        subfilter = str(sig.sig_object.get("/SubFilter", ""))
    except Exception:  # damaged signature dictionary
        field_name, subfilter = "", ""
    return SignatureReport(
        field_name=field_name,
        signer_name=facts.name,
        signer_subject=facts.subject,
        issuer_subject=facts.issuer,
        cert_fingerprint_sha256=facts.fingerprint,
        intact=False,
        valid=False,
        trusted=False,
        revoked=False,
        coverage="partial",
        modification_level="other",
        signing_time=None,
        timestamp_time=None,
        pades_level="B-B",
        subfilter=subfilter,
        docmdp_ok=None,
        summary=f"{type(exc).__name__}: {exc}",
        bottom_line=False,
        problems=(MSG_BROKEN,),
    )


def _validate_reader(
    reader: PdfFileReader,
    trust: TrustConfig,
    revocation: RevocationSource | None,
    skip_diff_from: int | None = None,
) -> tuple[SignatureReport, ...]:
    """Validate every embedded signature of an opened document."""
    signatures: list[EmbeddedPdfSignature] = list(reader.embedded_signatures)
    doc_ts_revisions = [
        s.signed_revision for s in signatures if s.sig_object.get("/Type") == "/DocTimeStamp"
    ]
    dss_revinfo = _has_revocation_dss(reader)
    reports = []
    for index, sig in enumerate(signatures):
        is_doc_ts = sig.sig_object.get("/Type") == "/DocTimeStamp"
        skip_diff = skip_diff_from is not None and index >= skip_diff_from
        status: Any
        try:
            signer_revinfo = _revinfo([sig.signer_cert], revocation)
            if is_doc_ts:
                status = validate_pdf_timestamp(
                    sig, validation_context=_context(trust, signer_revinfo), skip_diff=skip_diff
                )
                level = "DTS"
            else:
                status = validate_pdf_signature(
                    sig,
                    signer_validation_context=_context(trust, signer_revinfo),
                    ts_validation_context=_context(trust, _revinfo(_token_certs(sig), revocation)),
                    skip_diff=skip_diff,
                )
                has_ts = status.timestamp_validity is not None
                level = _pades_level(sig, has_ts, dss_revinfo, doc_ts_revisions)
            facts = cert_facts(status.signing_cert)
            anchor_list = _trust_list(status, trust)
            reports.append(_report(sig, status, facts, is_doc_ts, level, anchor_list))
        except Exception as exc:  # bad input is a result
            reports.append(_broken_report(sig, exc))
    return tuple(reports)


def open_with_empty_password(reader: PdfFileReader) -> bool:
    """Open an encrypted document with the empty user password, as viewers do silently.

    Signatures in such files are validated like any other (the signature's
    ``/Contents`` and byte ranges are over the encrypted file as stored).

    :param reader: a reader of an encrypted document.
    :returns: whether it opened (False: a password or a recipient certificate is needed).
    """
    if not isinstance(reader.security_handler, StandardSecurityHandler):
        return False
    return reader.decrypt("").status != AuthStatus.FAILED


def _active(reader: PdfFileReader) -> tuple[ActiveItem, ...]:
    try:
        return find_active_content(reader, ACTIVE_CONTENT_PAGES)
    except Exception:  # a broken page tree: the signatures' report still stands
        return ()


ACTIVE_CONTENT_PAGES = 2000
"""Pages looked at for active content (the upload limit's default)."""


def validate_pdf(
    path: Path,
    trust: TrustConfig,
    revocation: RevocationSource | None = None,
    *,
    skip_diff_from: int | None = None,
) -> ValidationReport:
    """Validate every signature and document timestamp in a PDF file.

    A failed validation is a result, not an exception; a file that cannot be
    parsed, or is encrypted with a password other than the empty one, gives a report
    with :attr:`ValidationReport.error` set.

    :param path: the PDF file (streamed, not read into memory).
    :param trust: trust roots and intermediate certificates.
    :param revocation: fresh revocation data for the signer and TSA certificates
        (e.g. :meth:`signing.trust.TrustServices.revocation_source`); None checks
        no revocation (soft-fail, as pyHanko fetches nothing). A certificate
        revoked according to it gives ``revoked=True`` and a failed bottom line.
    :param skip_diff_from: the signatures from this index on skip pyHanko's analysis of
        the revisions after them. For the check of a signature the server has just
        made: what follows it (DSS, document timestamp) the server wrote itself, and the
        analysis costs minutes on large documents (tens of thousands of objects).
    :returns: the report.
    """
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted and not open_with_empty_password(reader):
                return ValidationReport(signatures=(), error=MSG_ENCRYPTED)
            signatures = _validate_reader(reader, trust, revocation, skip_diff_from)
            return ValidationReport(signatures=signatures, active_content=_active(reader))
    except Exception:  # the PDF stack raises many unrelated types on bad input
        return ValidationReport(signatures=(), error=MSG_UNREADABLE)


def validate_newest_timestamp(path: Path, trust: TrustConfig) -> SignatureReport | None:
    """Validate only the newest document timestamp of the PDF at ``path`` (what an archival
    renewal adds): its message imprint over its byte range, the TSA's signature, the TSA
    certificate's chain to ``trust`` (no revocation data required, as in
    :func:`validate_pdf`) and pyHanko's difference analysis of what follows it.

    :returns: its report, or ``None`` when the last signature of the file is not a
        document timestamp.
    """
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        signatures = list(reader.embedded_signatures)
        if not signatures or signatures[-1].sig_object.get("/Type") != "/DocTimeStamp":
            return None
        sig = signatures[-1]
        try:
            status = validate_pdf_timestamp(sig, validation_context=_context(trust))
            facts = cert_facts(status.signing_cert)
            return _report(sig, status, facts, True, "DTS", _trust_list(status, trust))
        except Exception as exc:  # bad input is a result
            return _broken_report(sig, exc)
