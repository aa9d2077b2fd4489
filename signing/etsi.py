"""Signing layer: ETSI EN 319 102-1 indications and report facts for validated PDF signatures.

:func:`indication` maps one :class:`signing.validate.SignatureReport` (plus the facts
read by :func:`collect_facts`, and pyHanko's AdES sub-indication when one was
computed) to the ETSI vocabulary; :func:`overall` combines them for a document.
The first rule that applies wins:

========================================================  ===============  ==============================
Condition                                                 Indication       Sub-indication
========================================================  ===============  ==============================
the file cannot be parsed (``ValidationReport.error``)    TOTAL-FAILED     FORMAT_FAILURE
no signature in the file (document level only)            INDETERMINATE    SIGNED_DATA_NOT_FOUND
pyHanko could not evaluate the CMS object (broken)        TOTAL-FAILED     FORMAT_FAILURE
no signer certificate in the CMS object                   INDETERMINATE    NO_SIGNING_CERTIFICATE_FOUND
``intact`` is False (digest over the byte ranges)         TOTAL-FAILED     HASH_FAILURE
``valid`` is False (the signature value)                  TOTAL-FAILED     SIG_CRYPTO_FAILURE
``coverage == 'partial'`` (byte ranges miss data)         TOTAL-FAILED     FORMAT_FAILURE
``revoked``: a valid timestamp before the revocation      (no effect: the signature provably predates it)
``revoked``: the signer claims a time after revocation    TOTAL-FAILED     REVOKED
``revoked``: otherwise (no proof of existence before)     INDETERMINATE    REVOKED_NO_POE
not ``trusted``: no path from the signer to a trust root  INDETERMINATE    NO_CERTIFICATE_CHAIN_FOUND
not ``trusted``: signer not yet valid at the signing time TOTAL-FAILED     NOT_YET_VALID
not ``trusted``: signer expired, no timestamp inside the  INDETERMINATE    OUT_OF_BOUNDS_NO_POE
validity period
not ``trusted``: revocation status unknown                INDETERMINATE    TRY_LATER
not ``trusted``: otherwise (key usage, path constraints)  INDETERMINATE    CHAIN_CONSTRAINTS_FAILURE
DocMDP violated, or annotations/other changes after the   INDETERMINATE    SIG_CONSTRAINTS_FAILURE
signature (PAdES modification rules)
the signature timestamp is present but not valid          INDETERMINATE    SIG_CONSTRAINTS_FAILURE
the report's bottom line is False for another reason      INDETERMINATE    SIG_CONSTRAINTS_FAILURE
everything above passes                                   TOTAL-PASSED     (none)
========================================================  ===============  ==============================

pyHanko's AdES engine (e.g. :func:`signing.archival.validate_archival`, an
``AdESSubIndic`` such as ``AdESIndeterminate.NO_POE``) refines the result when given:
a FAILED or INDETERMINATE AdES result replaces a TOTAL-PASSED one, and a PASSED AdES
result (long-term validation with the DSS and document timestamps) lifts the
time-related INDETERMINATE sub-indications (REVOKED_NO_POE, OUT_OF_BOUNDS_NO_POE,
TRY_LATER, NO_POE). It never lifts a hash, crypto, format or modification failure.
The document's indication is the worst one of its signatures (TOTAL-FAILED, then
INDETERMINATE), with the sub-indication of the first signature having it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from signing.certutil import signer_certificate
from signing.profiles import TrustConfig
from signing.validate import (
    MSG_BROKEN,
    MSG_TIMESTAMP,
    SignatureReport,
    ValidationReport,
    _load_certs,
    open_with_empty_password,
)


class Indication(enum.StrEnum):
    """ETSI EN 319 102-1 main status indications."""

    TOTAL_PASSED = "TOTAL-PASSED"
    INDETERMINATE = "INDETERMINATE"
    TOTAL_FAILED = "TOTAL-FAILED"


class SubIndication(enum.StrEnum):
    """ETSI EN 319 102-1 sub-indications used by this module (clause 5.1.3)."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    EXPIRED = "EXPIRED"
    POLICY_PROCESSING_ERROR = "POLICY_PROCESSING_ERROR"
    SIGNATURE_POLICY_NOT_AVAILABLE = "SIGNATURE_POLICY_NOT_AVAILABLE"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    GENERIC = "GENERIC"


_LIFTABLE = {
    SubIndication.REVOKED_NO_POE,
    SubIndication.OUT_OF_BOUNDS_NO_POE,
    SubIndication.TRY_LATER,
    SubIndication.NO_POE,
}
"""Time-related sub-indications that a PASSED long-term (AdES) validation resolves."""

_RANK = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}


@dataclass(frozen=True)
class EtsiResult:
    """An ETSI EN 319 102-1 validation status."""

    indication: Indication
    """TOTAL-PASSED, INDETERMINATE or TOTAL-FAILED."""
    sub_indication: SubIndication | None = None
    """Why it is not TOTAL-PASSED; None when it is."""

    def to_dict(self) -> dict[str, str | None]:
        """:returns: ``{"indication": ..., "sub_indication": ...}`` as plain strings."""
        sub = self.sub_indication.value if self.sub_indication is not None else None
        return {"indication": self.indication.value, "sub_indication": sub}


PASSED = EtsiResult(Indication.TOTAL_PASSED)


def _failed(sub: SubIndication) -> EtsiResult:
    return EtsiResult(Indication.TOTAL_FAILED, sub)


def _indeterminate(sub: SubIndication) -> EtsiResult:
    return EtsiResult(Indication.INDETERMINATE, sub)


# --- facts the report does not carry --------------------------------------------------


@dataclass(frozen=True)
class CertInfo:
    """One certificate of a chain, for display."""

    subject: str
    """Subject, RFC 4514."""
    issuer: str
    """Issuer, RFC 4514."""
    serial: str
    """Serial number, lowercase hex."""
    not_before: datetime
    """Start of validity."""
    not_after: datetime
    """End of validity."""
    fingerprint_sha256: str
    """Lowercase hex SHA-256 of the DER."""
    trust_anchor: bool
    """The certificate is one of the configured trust roots."""


@dataclass(frozen=True)
class TimestampInfo:
    """A signature timestamp token, or the document timestamp itself."""

    time: datetime | None
    """The token's genTime."""
    authority: str
    """Subject of the TSA certificate (RFC 4514), or the TSTInfo ``tsa`` name."""
    authority_fingerprint_sha256: str
    """Lowercase hex SHA-256 of the TSA certificate ('' if not embedded)."""


@dataclass(frozen=True)
class SignatureFacts:
    """What a validation report shows besides pyHanko's verdict, read from the file."""

    field_name: str
    """Name of the signature field."""
    is_document_timestamp: bool
    """A ``/DocTimeStamp`` rather than a signature."""
    chain: tuple[CertInfo, ...]
    """Signer certificate first, then its issuers as far as they are known."""
    reaches_trust_anchor: bool
    """The chain ends in a configured trust root."""
    revocation_embedded: tuple[str, ...]
    """Revocation data carried by the file: ``'ocsp'``, ``'crl'`` (DSS or CMS attribute)."""
    timestamp: TimestampInfo | None
    """The signature timestamp (for a document timestamp: itself)."""
    signed_revision: int
    """1-based revision the signature covers."""
    total_revisions: int
    """Number of revisions in the file."""
    certification: int | None
    """DocMDP permission (1 no changes, 2 form filling, 3 annotations) of a certification
    signature; None for an approval signature."""


def _names(cert: asn1_x509.Certificate) -> tuple[str, str]:
    """Subject and issuer, RFC 4514 (asn1crypto's wording if cryptography refuses it)."""
    try:
        parsed = x509.load_der_x509_certificate(cert.dump())
        return parsed.subject.rfc4514_string(), parsed.issuer.rfc4514_string()
    except ValueError:
        return cert.subject.human_friendly, cert.issuer.human_friendly


def _cert_info(cert: asn1_x509.Certificate, anchors: set[str]) -> CertInfo:
    fingerprint = hashlib.sha256(cert.dump()).hexdigest()
    validity = cert["tbs_certificate"]["validity"]
    subject, issuer = _names(cert)
    return CertInfo(
        subject=subject,
        issuer=issuer,
        serial=format(cert.serial_number, "x"),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        fingerprint_sha256=fingerprint,
        trust_anchor=fingerprint in anchors,
    )


def _chain(
    signer: asn1_x509.Certificate, pool: Sequence[asn1_x509.Certificate], anchors: set[str]
) -> tuple[tuple[CertInfo, ...], bool]:
    """Walk from the signer to its root through issuer names; stops at loops."""
    chain = [signer]
    seen = {signer.sha256}
    current = signer
    while current.self_signed == "no":
        issuer = next(
            (c for c in pool if c.subject == current.issuer and c.sha256 not in seen), None
        )
        if issuer is None:
            break
        chain.append(issuer)
        seen.add(issuer.sha256)
        current = issuer
    infos = tuple(_cert_info(c, anchors) for c in chain)
    return infos, any(i.trust_anchor for i in infos)


def _dss(reader: PdfFileReader) -> tuple[list[asn1_x509.Certificate], tuple[str, ...]]:
    """Certificates and the kinds of revocation data in the document security store."""
    dss = reader.root.get("/DSS")
    if dss is None:
        return [], ()
    dss = dss.get_object()
    certs = []
    # indexing resolves (and, in encrypted files, decrypts) what .get() leaves as a proxy
    for ref in dss["/Certs"] if "/Certs" in dss else ():
        try:
            certs.append(asn1_x509.Certificate.load(ref.get_object().data))
        except (ValueError, TypeError):  # a damaged entry is just not used
            continue
    kinds = tuple(k for k, key in (("ocsp", "/OCSPs"), ("crl", "/CRLs")) if dss.get(key))
    return certs, kinds


def _cms_revinfo(signer_info: Any) -> tuple[str, ...]:
    """Revocation data in Adobe's signed ``adbe-revocationInfoArchival`` attribute."""
    kinds: list[str] = []
    for attr in signer_info["signed_attrs"] or ():
        if attr["type"].native != "adobe_revocation_info_archival":
            continue
        for value in attr["values"]:
            if value["ocsp"]:
                kinds.append("ocsp")
            if value["crl"]:
                kinds.append("crl")
    return tuple(kinds)


def _token_info(signed_data: asn1_cms.SignedData) -> TimestampInfo:
    """Time and authority of a timestamp token's signed data."""
    tst_info = signed_data["encap_content_info"]["content"].parsed
    tsa = signer_certificate(signed_data, signed_data["signer_infos"][0])
    if tsa is not None:
        authority, fingerprint = _names(tsa)[0], hashlib.sha256(tsa.dump()).hexdigest()
    else:
        name = tst_info["tsa"]
        authority, fingerprint = (str(name.chosen.human_friendly) if name else ""), ""
    return TimestampInfo(tst_info["gen_time"].native, authority, fingerprint)


def _signature_timestamp(sig: EmbeddedPdfSignature) -> TimestampInfo | None:
    for attr in sig.signer_info["unsigned_attrs"] or ():
        if attr["type"].native == "signature_time_stamp_token":
            return _token_info(attr["values"][0]["content"])
    return None


def _facts(
    sig: EmbeddedPdfSignature,
    pool: list[asn1_x509.Certificate],
    anchors: set[str],
    dss_kinds: tuple[str, ...],
    total: int,
) -> SignatureFacts:
    is_dts = sig.sig_object.get("/Type") == "/DocTimeStamp"
    embedded = [c.chosen for c in sig.signed_data["certificates"] or () if c.name == "certificate"]
    chain, anchored = _chain(sig.signer_cert, embedded + pool, anchors)
    kinds = tuple(sorted(set(dss_kinds) | set(_cms_revinfo(sig.signer_info))))
    timestamp = _token_info(sig.signed_data) if is_dts else _signature_timestamp(sig)
    level = sig.docmdp_level
    return SignatureFacts(
        field_name=str(sig.field_name),
        is_document_timestamp=is_dts,
        chain=chain,
        reaches_trust_anchor=anchored,
        revocation_embedded=kinds,
        timestamp=timestamp,
        signed_revision=int(sig.signed_revision) + 1,
        total_revisions=total,
        certification=int(level.value) if level is not None else None,
    )


def collect_facts(path: Path, trust: TrustConfig) -> tuple[SignatureFacts | None, ...]:
    """Read chains, timestamps, revocation data and revisions of every signature.

    Complements :func:`signing.validate.validate_pdf` (same order of signatures). Never
    raises on bad input: an unreadable file gives ``()``, an unreadable signature None.

    :param path: the PDF file.
    :param trust: trust roots (to mark the anchor) and intermediate certificates.
    :returns: one entry per embedded signature, in file order.
    """
    roots = _load_certs(trust.trust_roots_pem)
    anchors = {hashlib.sha256(c.dump()).hexdigest() for c in roots}
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted and not open_with_empty_password(reader):
                return ()
            dss_certs, dss_kinds = _dss(reader)
            pool = dss_certs + _load_certs(trust.other_certs_pem) + roots
            total = int(reader.xrefs.total_revisions)
            out: list[SignatureFacts | None] = []
            for sig in reader.embedded_signatures:
                try:
                    out.append(_facts(sig, pool, anchors, dss_kinds, total))
                except Exception:  # a damaged CMS object: validate.py reports it as broken
                    out.append(None)
            return tuple(out)
    except Exception:  # the PDF stack raises many unrelated types on bad input
        return ()


# --- the mapping ----------------------------------------------------------------------


def from_ades(subindic: object) -> EtsiResult | None:
    """Map pyHanko's AdES sub-indication (``AdESSubIndic`` or its ``str()``).

    :param subindic: e.g. ``AdESIndeterminate.NO_POE`` or ``'AdESPassed.OK'``.
    :returns: the ETSI status, or None if it is not recognised.
    """
    text = str(subindic)
    family, _, name = text.partition(".")
    if family == "AdESPassed":
        return PASSED
    try:
        sub = SubIndication(name)
    except ValueError:
        sub = SubIndication.GENERIC
    if family == "AdESFailure":
        return _failed(sub)
    if family == "AdESIndeterminate":
        return _indeterminate(sub)
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _revocation(
    report: SignatureReport, timestamp_ok: bool, revoked_at: datetime | None
) -> EtsiResult | None:
    """The effect of a revoked signer certificate (None: no effect)."""
    if revoked_at is None:
        return _indeterminate(SubIndication.REVOKED_NO_POE)
    revoked_at = _aware(revoked_at)
    if timestamp_ok and report.timestamp_time is not None:
        if _aware(report.timestamp_time) < revoked_at:
            return None
    if report.signing_time is not None and _aware(report.signing_time) >= revoked_at:
        return _failed(SubIndication.REVOKED)
    return _indeterminate(SubIndication.REVOKED_NO_POE)


def _untrusted(
    report: SignatureReport,
    facts: SignatureFacts | None,
    timestamp_ok: bool,
    revocation_unknown: bool,
    now: datetime,
) -> EtsiResult:
    """Why a certificate that is not revoked still does not validate."""
    if facts is None or not facts.chain:
        return _indeterminate(SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    if not facts.reaches_trust_anchor:
        return _indeterminate(SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    signer = facts.chain[0]
    claimed = report.signing_time or report.timestamp_time
    if claimed is not None and _aware(claimed) < _aware(signer.not_before):
        return _failed(SubIndication.NOT_YET_VALID)
    if now > _aware(signer.not_after) or now < _aware(signer.not_before):
        poe = report.timestamp_time if timestamp_ok else None
        if poe is None or not _aware(signer.not_before) <= _aware(poe) <= _aware(signer.not_after):
            return _indeterminate(SubIndication.OUT_OF_BOUNDS_NO_POE)
    if revocation_unknown:
        return _indeterminate(SubIndication.TRY_LATER)
    return _indeterminate(SubIndication.CHAIN_CONSTRAINTS_FAILURE)


def _from_report(
    report: SignatureReport,
    facts: SignatureFacts | None,
    revoked_at: datetime | None,
    revocation_unknown: bool,
    now: datetime,
) -> EtsiResult:
    if MSG_BROKEN in report.problems:
        return _failed(SubIndication.FORMAT_FAILURE)
    if not report.cert_fingerprint_sha256:
        return _indeterminate(SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    if not report.intact:
        return _failed(SubIndication.HASH_FAILURE)
    if not report.valid:
        return _failed(SubIndication.SIG_CRYPTO_FAILURE)
    if report.coverage == "partial":
        return _failed(SubIndication.FORMAT_FAILURE)
    timestamp_ok = report.timestamp_time is not None and MSG_TIMESTAMP not in report.problems
    revoked_cleared = False
    if report.revoked:
        effect = _revocation(report, timestamp_ok, revoked_at)
        if effect is not None:
            return effect
        revoked_cleared = True
    if not report.trusted and not revoked_cleared:
        return _untrusted(report, facts, timestamp_ok, revocation_unknown, now)
    if revoked_cleared and (facts is None or not facts.reaches_trust_anchor):
        return _indeterminate(SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    if report.docmdp_ok is False or report.modification_level in ("annotations", "other"):
        return _indeterminate(SubIndication.SIG_CONSTRAINTS_FAILURE)
    if MSG_TIMESTAMP in report.problems:
        return _indeterminate(SubIndication.SIG_CONSTRAINTS_FAILURE)
    if not report.bottom_line and not revoked_cleared:
        return _indeterminate(SubIndication.SIG_CONSTRAINTS_FAILURE)
    return PASSED


def indication(
    report: SignatureReport,
    facts: SignatureFacts | None = None,
    *,
    ades: object | None = None,
    revoked_at: datetime | None = None,
    revocation_unknown: bool = False,
    now: datetime | None = None,
) -> EtsiResult:
    """The ETSI status of one signature (see the module docstring for the rules).

    :param report: pyHanko's verdict as :func:`signing.validate.validate_pdf` reports it.
    :param facts: the signature's chain and timestamp from :func:`collect_facts`.
    :param ades: pyHanko's AdES sub-indication for this signature, if computed.
    :param revoked_at: when the signer certificate was revoked, if it is and it is known.
    :param revocation_unknown: the revocation status could not be established.
    :param now: the validation time (default: now).
    :returns: indication and sub-indication.
    """
    moment = _aware(now) if now is not None else datetime.now(UTC)
    result = _from_report(report, facts, revoked_at, revocation_unknown, moment)
    refined = from_ades(ades) if ades is not None else None
    if refined is None:
        return result
    if result == PASSED:
        return refined
    if refined == PASSED and result.sub_indication in _LIFTABLE:
        return PASSED
    return result


def overall(report: ValidationReport, results: Iterable[EtsiResult]) -> EtsiResult:
    """The document's status: the worst of its signatures'.

    :param report: the document's validation report.
    :param results: :func:`indication` of each signature, in file order.
    :returns: indication and sub-indication for the whole file.
    """
    if report.error is not None:
        return _failed(SubIndication.FORMAT_FAILURE)
    worst: EtsiResult | None = None
    for result in results:
        if worst is None or _RANK[result.indication] > _RANK[worst.indication]:
            worst = result
    if worst is None:
        return _indeterminate(SubIndication.SIGNED_DATA_NOT_FOUND)
    return worst
