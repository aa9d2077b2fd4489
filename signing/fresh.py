"""Signing layer: the direct check of a signature the server has just made.

The rule stays "nothing is stored that does not validate", but the full validation
(pyHanko's ``validate_pdf_signature``) of a file the server wrote a moment ago redoes
work whose answer is already known: it parses the ``/Contents`` hex string in pure
Python, builds and validates the signer's and the TSA's certificate paths with fresh
revocation data, and analyses the whole document's revisions. Here the fresh signature
is checked directly, each fact with pyHanko, asn1crypto or ``cryptography`` primitives:

- the input file is a byte-for-byte prefix of the output (earlier revisions untouched:
  the signature and the DSS were appended only);
- the signature dictionary's ``/ByteRange`` is ``[0 a b c]``, the hole ``[a, b)`` is
  exactly its ``/Contents`` value, and ``[0, b + c)`` is the whole signed revision (its
  ``%%EOF`` and ``startxref``; after it only the revision that adds the DSS);
- the CMS ``messageDigest`` signed attribute equals the SHA-256 of the byte range, and
  the CMS signature verifies with the signer certificate the server signed with;
- the signature timestamp token's ``messageImprint`` is the digest of the signature
  value, and its signature verifies with TrinhKy's TSA certificate;
- at B-LT the DSS holds a fresh, good OCSP response about the signer certificate,
  signed by TrinhKy's OCSP responder (so a revocation is seen at once);
- the chain, revocation and usage of TrinhKy's own certificates (signer, TSA) are
  validated with pyhanko-certvalidator once per certificate, trust-list version and
  validity window (:class:`OwnCertificateVerdicts`), and reused until the window ends
  or the certificate expires.

A file outside this shape (countersigned, B-LTA, encrypted, anything ambiguous) gets
``None``: the caller then runs the full validation (:func:`signing.validate.validate_pdf`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import mmap
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError

from signing.active import find_active_content
from signing.certutil import signer_certificate
from signing.profiles import INTERNAL_LIST, TrustConfig
from signing.revocation import RevocationSource, revinfo_policy
from signing.validate import (
    ACTIVE_CONTENT_PAGES,
    MSG_COVERAGE,
    MSG_MODIFIED,
    MSG_NOT_INTACT,
    MSG_NOT_VALID,
    MSG_REVOKED,
    MSG_TIMESTAMP,
    MSG_UNTRUSTED,
    SignatureReport,
    ValidationReport,
    cert_facts,
    load_certs,
)

_log = logging.getLogger(__name__)

OWN_CERT_WINDOW = timedelta(minutes=5)
"""How long a verdict on one of TrinhKy's own certificates is reused (it also ends when
the certificate expires). The signer's revocation is seen at once regardless: at B-LT
through the fresh OCSP response in the DSS, and the signing request refuses a revoked
or expired certificate from the database before it signs."""

DIRECT_LEVELS = ("B-B", "B-T", "B-LT")
"""The levels the direct check handles (B-LTA's document timestamp goes to the full
validation)."""

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
_OBJ_HEADER = re.compile(rb"\s*\d+\s+\d+\s+obj\b")
_EOF_TAIL = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_PADES = "/ETSI.CAdES.detached"
_SIGNER_USAGE: tuple[set[str], set[str]] = ({"non_repudiation"}, set())
_TSA_USAGE: tuple[set[str], set[str]] = (set(), {"time_stamping"})


@dataclass(frozen=True)
class OwnVerdict:
    """What pyhanko-certvalidator said of one of TrinhKy's own certificates."""

    trusted: bool
    """The path to a trust root validated, with revocation data, for the usage."""
    revoked: bool
    """The certificate (or its chain) is revoked."""
    trust_list: str
    """The trust list of the path's anchor ('' when untrusted)."""
    until: datetime
    """End of reuse: the window's end or the certificate's expiry, whichever is first."""


class OwnCertificateVerdicts:
    """Verdicts on TrinhKy's own certificates (signer, TSA), per certificate fingerprint,
    trust list (version and contents) and validity window; recomputable, kept in process
    only, one cache per :class:`signing.trust.TrustServices` (one instance's database)."""

    def __init__(self, window: timedelta = OWN_CERT_WINDOW) -> None:
        """:param window: how long one verdict is reused."""
        self.window = window
        self.computed = 0
        """How many verdicts were computed (not taken from the cache): for tests."""
        self._lock = threading.Lock()
        self._items: dict[tuple[str, tuple[int, str], int, str], OwnVerdict] = {}

    def _key(self, fingerprint: str, trust: TrustConfig, now: datetime, usage: str) -> Any:
        slot = int(now.timestamp() // self.window.total_seconds())
        return (fingerprint, _trust_digest(trust), slot, usage)

    def verdict(
        self,
        cert: asn1_x509.Certificate,
        usage: str,
        trust: TrustConfig,
        revocation: RevocationSource | None,
        now: datetime,
    ) -> OwnVerdict:
        """The verdict on ``cert`` for ``usage`` (``'signer'`` or ``'tsa'``) at ``now``.

        :returns: the cached verdict, or a fresh one (then cached for the window).
        """
        fingerprint = hashlib.sha256(cert.dump()).hexdigest()
        key = self._key(fingerprint, trust, now, usage)
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now < hit.until:
            return hit
        verdict = _validate_own(cert, usage, trust, revocation, now, self.window)
        with self._lock:
            self.computed += 1
            # Expired windows go: the cache holds at most the current verdicts.
            self._items = {k: v for k, v in self._items.items() if k[2] >= key[2]}
            self._items[key] = verdict
        return verdict

    def clear(self) -> None:
        """Forget every verdict (trust changes call this; the version key suffices)."""
        with self._lock:
            self._items.clear()


OWN_VERDICTS = OwnCertificateVerdicts()
"""The process's cache of verdicts on its own certificates when no TSA/OCSP services are
given (no revocation data: a verdict then depends on the certificate, the trust list and
the time only). With services, their own cache (:attr:`TrustServices.own_verdicts`) is
used: a verdict with revocation data belongs to one instance's database."""


def _trust_digest(trust: TrustConfig) -> tuple[int, str]:
    """The trust list's version and a digest of its contents: a verdict is never reused
    under other trust roots, even where two databases number their lists alike."""
    digest = hashlib.sha256()
    for pem in (*trust.trust_roots_pem, b"--", *trust.other_certs_pem):
        digest.update(hashlib.sha256(pem).digest())
    return trust.version, digest.hexdigest()


def _validate_own(
    cert: asn1_x509.Certificate,
    usage: str,
    trust: TrustConfig,
    revocation: RevocationSource | None,
    now: datetime,
    window: timedelta,
) -> OwnVerdict:
    """Validate ``cert``'s path, revocation and usage at ``now`` with pyhanko-certvalidator."""
    crypto = x509.load_der_x509_certificate(cert.dump())
    data = revocation.revocation_data([crypto]) if revocation is not None else None
    has_revinfo = data is not None and bool(data.ocsp_responses or data.crls)
    context = ValidationContext(
        trust_roots=load_certs(trust.trust_roots_pem),
        other_certs=load_certs(trust.other_certs_pem)
        + (load_certs(data.certs) if data is not None else []),
        ocsps=list(data.ocsp_responses) if data is not None else [],
        crls=list(data.crls) if data is not None else [],
        allow_fetching=False,
        revinfo_policy=revinfo_policy(has_revinfo),
        moment=now,
    )
    key_usage, extended = _SIGNER_USAGE if usage == "signer" else _TSA_USAGE
    slot_start = int(now.timestamp() // window.total_seconds()) * window.total_seconds()
    until = min(
        datetime.fromtimestamp(slot_start, UTC) + window,
        crypto.not_valid_after_utc,
    )
    validator = CertificateValidator(cert, validation_context=context)
    try:
        path = asyncio.run(
            validator.async_validate_usage(key_usage, extended or None, extended_optional=False)  # type: ignore[no-untyped-call]
        )
    except RevokedError:
        return OwnVerdict(trusted=False, revoked=True, trust_list="", until=until)
    except Exception:  # any path, usage or time failure: untrusted
        return OwnVerdict(trusted=False, revoked=False, trust_list="", until=until)
    anchor = path.first
    der = anchor.dump() if anchor is not None else b""
    name = dict(trust.list_names).get(hashlib.sha256(der).hexdigest(), INTERNAL_LIST)
    return OwnVerdict(trusted=True, revoked=False, trust_list=name, until=until)


@dataclass(frozen=True)
class Expected:
    """What the server knows it signed with."""

    field_name: str
    """The new signature field."""
    level: str
    """The PAdES level asked for."""
    signer_cert: asn1_x509.Certificate
    """The certificate of the key that signed."""
    tsa_cert: asn1_x509.Certificate | None
    """TrinhKy's TSA certificate (from B-T up)."""
    ocsp_responder_cert: x509.Certificate | None
    """TrinhKy's OCSP responder certificate (at B-LT)."""
    source_sha256: str
    """SHA-256 of the input file (its key in the blob store)."""
    source_size: int
    """Size of the input file."""


class _Unsupported(Exception):
    """The file is outside what the direct check handles: run the full validation."""


@dataclass
class _Checked:
    intact: bool = True
    valid: bool = True
    coverage: str = "entire_file"
    modification_level: str = "none"
    modifications_ok: bool = True
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None
    timestamp_ok: bool = True
    has_timestamp: bool = False
    dss_ok: bool = False


def _hash(name: str) -> Callable[..., Any]:
    if name not in ("sha256", "sha384", "sha512"):
        raise _Unsupported(f"digest {name}")
    return getattr(hashlib, name)  # type: ignore[no-any-return]


def _locate(reader: PdfFileReader, field_name: str) -> generic.Reference:
    """The reference of the signature dictionary of field ``field_name``."""
    form = reader.root.get("/AcroForm")
    if form is None:
        raise _Unsupported("no form")
    found = None
    for item in form.get_object()["/Fields"]:
        field = item.get_object()
        if str(field.get("/T", "")) == field_name:
            if found is not None:
                raise _Unsupported("two fields with the new name")
            value = field.raw_get("/V")
            if not isinstance(value, generic.IndirectObject):
                raise _Unsupported("signature value not indirect")
            found = value.reference
    if found is None:
        raise _Unsupported("new field not found")
    return found


def _signature_dict(
    data: mmap.mmap, reader: PdfFileReader, ref: generic.Reference
) -> tuple[generic.DictionaryObject, tuple[int, int, int, int]]:
    """Parse the signature dictionary with its ``/Contents`` hole cut out (pyHanko's
    parser reads hex strings a byte at a time) and check the hole is exactly that value.
    """
    offset = reader.xrefs[ref]
    if not isinstance(offset, int):
        raise _Unsupported("signature dictionary in an object stream")
    end = data.find(b"endobj", offset)
    if end < 0:
        raise _Unsupported("no endobj")
    text = data[offset:end]
    matches = list(_BYTE_RANGE.finditer(text))
    if len(matches) != 1:
        raise _Unsupported("byte range not found once")
    byte_range = tuple(int(x) for x in matches[0].groups())
    start, len1, hole_end, len2 = byte_range
    if start != 0 or not offset < len1 < hole_end <= end:
        raise _Unsupported("byte range outside the signature dictionary")
    if data[len1 : len1 + 1] != b"<" or data[hole_end - 1 : hole_end] != b">":
        raise _Unsupported("the hole is not a hex string")
    head = _OBJ_HEADER.match(text)
    if head is None:
        raise _Unsupported("no object header")
    cut = (text[head.end() : len1 - offset] + b"<>" + text[hole_end - offset :]).lstrip()
    parsed = generic.read_object(io.BytesIO(cut), container_ref=ref)
    if not isinstance(parsed, generic.DictionaryObject):
        raise _Unsupported("signature value is not a dictionary")
    parsed_range = tuple(int(x) for x in parsed.get("/ByteRange", ()))
    if parsed.get("/Contents") not in (b"", "") or parsed_range != byte_range:
        raise _Unsupported("the hole is not the /Contents of this dictionary")
    if parsed.get("/Type") not in (None, "/Sig") or parsed.get("/SubFilter") != _PADES:
        raise _Unsupported("not a PAdES signature dictionary")
    return parsed, (start, len1, hole_end, len2)


def _signed_revision_end(data: mmap.mmap, reader: PdfFileReader, sig_rev: int, end: int) -> bool:
    """Whether ``[0, end)`` is exactly revisions 0..``sig_rev`` (EOF marker, startxref)."""
    tail = data[max(0, end - 64) : end]
    match = _EOF_TAIL.search(tail)
    if match is None or int(match.group(1)) != reader.xrefs.get_startxref_for_revision(sig_rev):
        return False
    return all(
        reader.xrefs.get_xref_container_info(r).end_location <= end for r in range(sig_rev + 1)
    )


def _later_revisions_only_dss(reader: PdfFileReader, sig_rev: int) -> bool:
    """Whether the revisions after the signature only add objects, the DSS to the
    catalogue, and update the document information dictionary."""
    xrefs = reader.xrefs
    root_ref = reader.trailer.raw_get("/Root")
    info_ref = reader.trailer.raw_get("/Info")
    allowed = {r.reference for r in (root_ref, info_ref) if isinstance(r, generic.IndirectObject)}
    for rev in range(sig_rev + 1, xrefs.total_revisions):
        for ref in xrefs.explicit_refs_in_revision(rev):
            if ref not in allowed and xrefs.get_introducing_revision(ref) != rev:
                return False
        if xrefs.refs_freed_in_revision(rev):
            return False
    if xrefs.total_revisions - 1 > sig_rev and isinstance(root_ref, generic.IndirectObject):
        old = reader.get_historical_resolver(sig_rev).get_object(root_ref.reference)
        new = reader.root
        if set(new) - set(old) - {"/DSS", "/Extensions"} or set(old) - set(new):
            return False
        if any(new.raw_get(k) != old.raw_get(k) for k in old if k != "/Extensions"):
            return False
    return True


def _verify_with(cert: x509.Certificate, signature: bytes, data: bytes, algo: Any) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algo))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _dss_ocsp_status(
    reader: PdfFileReader, signer: x509.Certificate, responder: x509.Certificate, now: datetime
) -> tuple[bool, str]:
    """``(dss_has_revinfo, status)``: whether the DSS holds revocation data, and what a
    current OCSP response in it, signed by TrinhKy's responder, says of the signer
    certificate: ``'good'``, ``'revoked'`` or ``'none'`` (no such response)."""
    dss = reader.root.get("/DSS")
    if dss is None:
        return False, "none"
    dss = dss.get_object()
    ocsps = dss.get("/OCSPs") or []
    has_revinfo = bool(ocsps) or bool(dss.get("/CRLs"))
    status = "none"
    key_hash = x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
    for item in ocsps:
        try:
            response = ocsp.load_der_ocsp_response(item.get_object().data)
        except ValueError:
            continue
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            continue
        if response.serial_number != signer.serial_number:
            continue
        if response.responder_key_hash is not None and response.responder_key_hash != key_hash:
            continue
        if response.responder_name is not None and response.responder_name != responder.subject:
            continue
        algo = response.signature_hash_algorithm
        if algo is None or not _verify_with(
            responder, response.signature, response.tbs_response_bytes, algo
        ):
            continue
        if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            return has_revinfo, "revoked"
        next_update = response.next_update_utc
        if (
            response.certificate_status == ocsp.OCSPCertStatus.GOOD
            and response.this_update_utc <= now + _CLOCK_SKEW
            and (next_update is None or now <= next_update)
        ):
            status = "good"
    return has_revinfo, status


_CLOCK_SKEW = timedelta(minutes=5)


def _check_cms(
    contents: bytes,
    digest: bytes,
    expected: Expected,
    checked: _Checked,
) -> None:
    """The CMS signature and its timestamp token (fills ``checked``)."""
    info = cms.ContentInfo.load(contents, strict=False)
    if info["content_type"].native != "signed_data":
        raise _Unsupported("not signed data")
    signed_data = info["content"]
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _Unsupported("not one signer")
    signer_info = signer_infos[0]
    if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
        raise _Unsupported("digest algorithm")
    cert = signer_certificate(signed_data, signer_info)
    if cert is None or cert.dump() != expected.signer_cert.dump():
        checked.intact = checked.valid = False
        return
    intact, valid = validate_sig_integrity(signer_info, cert, "data", digest)
    checked.intact, checked.valid = intact, valid
    unsigned = signer_info["unsigned_attrs"]
    tokens = [
        value
        for attr in ([] if isinstance(unsigned, core.Void) else unsigned)
        if attr["type"].native == "signature_time_stamp_token"
        for value in attr["values"]
    ]
    checked.has_timestamp = bool(tokens)
    if expected.level == "B-B" and not tokens:
        return
    if len(tokens) != 1 or expected.tsa_cert is None:
        checked.timestamp_ok = False
        return
    checked.timestamp_ok = _check_token(tokens[0], signer_info["signature"].native, expected)
    tst_info = tokens[0]["content"]["encap_content_info"]["content"].parsed
    checked.timestamp_time = tst_info["gen_time"].native


def _check_token(token: cms.ContentInfo, signature: bytes, expected: Expected) -> bool:
    """The timestamp token is over ``signature`` and signed by TrinhKy's TSA."""
    if token["content_type"].native != "signed_data":
        return False
    tst_data = token["content"]
    encap = tst_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        return False
    tst_info = encap["content"].parsed
    if not isinstance(tst_info, tsp.TSTInfo):
        return False
    imprint = tst_info["message_imprint"]
    algo = imprint["hash_algorithm"]["algorithm"].native
    if imprint["hashed_message"].native != _hash(algo)(signature).digest():
        return False
    infos = tst_data["signer_infos"]
    if len(infos) != 1:
        return False
    tsa_info = infos[0]
    tsa_cert = signer_certificate(tst_data, tsa_info)
    if tsa_cert is None or expected.tsa_cert is None:
        return False
    if tsa_cert.dump() != expected.tsa_cert.dump():
        return False
    content = bytes(encap["content"].contents)
    tsa_algo = tsa_info["digest_algorithm"]["algorithm"].native
    intact, valid = validate_sig_integrity(
        tsa_info, tsa_cert, "tst_info", _hash(tsa_algo)(content).digest()
    )
    return bool(intact and valid)


def _summary(checked: _Checked, trusted: bool, revoked: bool) -> str:
    """pyHanko's summary line for the same facts (as the full validation would say)."""
    if not (checked.intact and checked.valid):
        return "INVALID"
    fields = ["TRUSTED" if trusted else ("REVOKED" if revoked else "UNTRUSTED")]
    if checked.has_timestamp:
        fields.append("TIMESTAMP_TOKEN<INTACT:TRUSTED>" if checked.timestamp_ok else "")
    if checked.coverage == "entire_file":
        fields.append("UNTOUCHED")
    else:
        fields.append(f"EXTENDED_WITH_{checked.modification_level.upper()}")
        fields.append("ACCEPTABLE_MODIFICATIONS" if checked.modifications_ok else "")
    if not checked.modifications_ok:
        fields.append("ILLEGAL_MODIFICATIONS")
    return "INTACT:" + ",".join(f for f in fields if f)


def _level(checked: _Checked) -> str:
    if not checked.has_timestamp:
        return "B-B"
    return "B-LT" if checked.dss_ok else "B-T"


def check_fresh_signature(
    path: Path,
    expected: Expected,
    trust: TrustConfig,
    revocation: RevocationSource | None,
    now: datetime,
    verdicts: OwnCertificateVerdicts = OWN_VERDICTS,
) -> ValidationReport | None:
    """Check the signature the server just made in ``path`` (see the module's text).

    :param path: the signed output.
    :param expected: what the server signed with and what it signed.
    :param trust: the trust roots (and their list version, a key of the verdict cache).
    :param revocation: the embedded revocation source (for the verdicts on own certs).
    :param now: the time of the check (the cache's window).
    :param verdicts: the cache of verdicts on own certificates.
    :returns: the report of the file (one signature); None when the file is outside
        what this check handles (run :func:`signing.validate.validate_pdf` then).
    """
    if expected.level not in DIRECT_LEVELS:
        return None
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _check(data, fh, expected, trust, revocation, now, verdicts)
    except _Unsupported as exc:
        _log.info("direct check of a fresh signature not applicable: %s", exc)
        return None
    except Exception:  # the PDF stack raises many types: the full validation explains
        _log.warning("direct check of a fresh signature failed; full validation", exc_info=True)
        return None


def _check(
    data: mmap.mmap,
    fh: Any,
    expected: Expected,
    trust: TrustConfig,
    revocation: RevocationSource | None,
    now: datetime,
    verdicts: OwnCertificateVerdicts,
) -> ValidationReport:
    checked = _Checked()
    # Earlier revisions untouched: the input is a byte prefix of the output.
    size = expected.source_size
    with memoryview(data) as view, view[:size] as prefix:
        prefix_ok = (
            len(data) > size and hashlib.sha256(prefix).hexdigest() == expected.source_sha256
        )
    reader = PdfFileReader(fh, strict=False)
    if reader.encrypted:
        raise _Unsupported("encrypted")
    if reader.xrefs.hybrid_xrefs_present:
        raise _Unsupported("hybrid cross-references")
    ref = _locate(reader, expected.field_name)
    sig_dict, (_, len1, hole_end, len2) = _signature_dict(data, reader, ref)
    sig_rev = reader.xrefs.get_introducing_revision(ref)
    signed_end = hole_end + len2
    with memoryview(data) as view, view[:len1] as first, view[hole_end:signed_end] as second:
        digest = hashlib.sha256(first)
        digest.update(second)
    appended_only = prefix_ok and size <= len1 and signed_end <= len(data)
    if not _signed_revision_end(data, reader, sig_rev, signed_end):
        checked.coverage = "partial"
    elif signed_end < len(data):
        checked.coverage = "entire_revision"
        checked.modification_level = "lta_updates"
        checked.modifications_ok = _later_revisions_only_dss(reader, sig_rev)
        if not checked.modifications_ok:
            checked.modification_level = "other"
    contents = bytes.fromhex(data[len1 + 1 : hole_end - 1].decode("ascii"))
    _check_cms(contents, digest.digest(), expected, checked)
    checked.intact = checked.intact and appended_only
    signer_status = "good"
    if expected.level == "B-LT":
        responder = expected.ocsp_responder_cert
        if responder is None:
            raise _Unsupported("no OCSP responder: CRL-only revocation data")
        signer = x509.load_der_x509_certificate(expected.signer_cert.dump())
        checked.dss_ok, signer_status = _dss_ocsp_status(reader, signer, responder, now)
        if signer_status == "none":
            raise _Unsupported("no OCSP response of ours about the signer in the DSS")
    try:
        when = sig_dict.get("/M")
        checked.signing_time = generic.parse_pdf_date(str(when), strict=False) if when else None
    except Exception:  # an odd date is reported as none, as pyHanko tolerates it
        checked.signing_time = None
    own = verdicts.verdict(expected.signer_cert, "signer", trust, revocation, now)
    tsa_ok = True
    if checked.has_timestamp and expected.tsa_cert is not None:
        tsa = verdicts.verdict(expected.tsa_cert, "tsa", trust, revocation, now)
        tsa_ok = tsa.trusted
    checked.timestamp_ok = checked.timestamp_ok and tsa_ok
    revoked = own.revoked or signer_status == "revoked"
    trusted = own.trusted and not revoked
    report = _report(expected, sig_dict, checked, trusted, revoked, own.trust_list)
    try:
        active = find_active_content(reader, ACTIVE_CONTENT_PAGES)
    except Exception:  # a broken page tree: the signature's report still stands
        active = ()
    return ValidationReport(signatures=(report,), active_content=active)


def _report(
    expected: Expected,
    sig_dict: generic.DictionaryObject,
    checked: _Checked,
    trusted: bool,
    revoked: bool,
    trust_list: str,
) -> SignatureReport:
    problems: list[str] = []
    if not checked.intact:
        problems.append(MSG_NOT_INTACT)
    elif not checked.valid:
        problems.append(MSG_NOT_VALID)
    if revoked:
        problems.append(MSG_REVOKED)
    elif not trusted:
        problems.append(MSG_UNTRUSTED)
    if checked.coverage == "partial":
        problems.append(MSG_COVERAGE)
    if not checked.modifications_ok:
        problems.append(MSG_MODIFIED)
    if checked.has_timestamp and not checked.timestamp_ok:
        problems.append(MSG_TIMESTAMP)
    if expected.level != "B-B" and not checked.has_timestamp:
        problems.append(MSG_TIMESTAMP)
    facts = cert_facts(expected.signer_cert)
    return SignatureReport(
        field_name=expected.field_name,
        signer_name=facts.name,
        signer_subject=facts.subject,
        issuer_subject=facts.issuer,
        cert_fingerprint_sha256=facts.fingerprint,
        intact=checked.intact,
        valid=checked.valid,
        trusted=trusted,
        revoked=revoked,
        coverage=checked.coverage,
        modification_level=checked.modification_level,
        signing_time=checked.signing_time,
        timestamp_time=checked.timestamp_time,
        pades_level=_level(checked),
        subfilter=str(sig_dict.get("/SubFilter", "")),
        docmdp_ok=checked.modifications_ok and checked.coverage != "partial",
        summary=_summary(checked, trusted, revoked),
        bottom_line=not problems,
        problems=tuple(problems),
        trust_list=trust_list if trusted else "",
    )
