"""Signature checks with pyHanko, against the bundle's roots only (never fetching)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, crl, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import SuspiciousModification
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager


@dataclass(frozen=True)
class Pki:
    """The bundle's ``pki/`` folder."""

    roots: list[x509.Certificate]
    others: list[x509.Certificate]
    crls: list[crl.CertificateList]


def load_certs(blob: bytes) -> list[x509.Certificate]:
    """PEM (one or several) or DER certificates."""
    from asn1crypto import pem

    if pem.detect(blob):
        return [x509.Certificate.load(der) for _, _, der in pem.unarmor(blob, multiple=True)]
    return [x509.Certificate.load(blob)]


def _policy() -> CertRevTrustPolicy:
    # End entities (signers, TSA): an OCSP response or CRL is required; the bundle
    # holds the issuing CA's CRL, the PDF's DSS its OCSP responses.
    # Retroactive: the export issues that CRL after validating the PDFs, seconds after the
    # time its manifest records (our validation moment); without this a CRL issued more
    # than pyHanko's 1 s tolerance after the moment is "too recent" and the TSA has no
    # revocation data. It must be set here: ValidationContext ignores its own
    # retroactive_revinfo argument when given a revinfo_policy.
    return CertRevTrustPolicy(
        RevocationCheckingPolicy(
            ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
            intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
        ),
        retroactive_revinfo=True,
    )


def _context(pki: Pki, dss: DocumentSecurityStore | None, moment: datetime) -> ValidationContext:
    kwargs: dict[str, Any] = {
        "trust_roots": pki.roots,
        "other_certs": list(pki.others),
        "crls": list(pki.crls),
        "ocsps": [],
        "allow_fetching": False,
        "revinfo_policy": _policy(),
        "moment": moment,
    }
    if dss is not None:
        return dss.as_validation_context(kwargs)
    return ValidationContext(**kwargs)


@dataclass(frozen=True)
class SigResult:
    """One signature (or document timestamp) of one PDF."""

    field: str
    signer: str
    kind: str
    """``signature`` or ``timestamp``."""
    ok: bool
    problems: tuple[str, ...]
    coverage: str
    modification: str


@dataclass(frozen=True)
class PdfResult:
    """Every signature of a PDF, the whole-file verdict and the long-term check."""

    signatures: tuple[SigResult, ...]
    error: str | None
    ok: bool
    problems: tuple[str, ...]
    lta: tuple[tuple[str, bool, str], ...]
    """Per signature: (field, passed, AdES indication)."""
    has_doc_timestamp: bool = False
    """Whether a document timestamp (PAdES B-LTA) follows the signatures."""


def _modification(status: Any) -> str:
    if isinstance(status.diff_result, SuspiciousModification):
        return "other"
    level = status.modification_level
    return "none" if level is None else str(level.name).lower()


def _coverage(status: Any) -> str:
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return "entire_file"
    if status.coverage == SignatureCoverageLevel.ENTIRE_REVISION:
        return "entire_revision"
    return "partial"


def _signer(status: Any) -> str:
    try:
        return str(status.signing_cert.subject.native.get("common_name", ""))
    except Exception:  # noqa: BLE001 - a broken certificate is reported elsewhere
        return ""


def _check(status: Any, is_ts: bool) -> list[str]:
    problems = []
    if not status.intact:
        problems.append("not intact (the signed bytes changed)")
    elif not status.valid:
        problems.append("cryptographically invalid")
    if getattr(status, "revoked", False):
        problems.append("certificate revoked")
    elif status.trust_problem_indic is not None:
        problems.append(f"not trusted by the bundle's roots ({status.trust_problem_indic})")
    mod = _modification(status)
    if mod in ("annotations", "other"):
        problems.append(f"modified after signing ({mod})")
    if not is_ts:
        if getattr(status, "docmdp_ok", None) is False:
            problems.append("changes violate the certification (DocMDP)")
        ts = status.timestamp_validity
        if ts is not None and not (ts.intact and ts.valid and ts.trust_problem_indic is None):
            problems.append("signature timestamp invalid or untrusted")
        if not status.bottom_line and not problems:
            problems.append("pyHanko bottom line is negative")
    return problems


def _lta_spec(pki: Pki) -> PdfSignatureValidationSpec:
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=pki.roots),
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(
                ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
                intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
            )
        ),
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            local_knowledge=LocalKnowledge(known_certs=pki.others),
        )
    )


def validate(data: bytes, pki: Pki, moment: datetime, now: datetime) -> PdfResult:
    """Validate every signature of a PDF.

    :param moment: the time to validate at for the baseline check (the export time: the
        bundle's CRL is the one current then).
    :param now: the time of the long-term (AdES LTA) check.
    """
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            return PdfResult((), "encrypted PDF", False, ("encrypted PDF",), ())
        sigs = list(reader.embedded_signatures)
        try:
            dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            dss = None
    except Exception as exc:  # noqa: BLE001 - any parse error is a result
        return PdfResult((), f"unreadable PDF: {exc}", False, ("unreadable PDF",), ())
    results: list[SigResult] = []
    for sig in sigs:
        is_ts = sig.sig_object.get("/Type") == "/DocTimeStamp"
        try:
            if is_ts:
                status: Any = validate_pdf_timestamp(
                    sig, validation_context=_context(pki, dss, moment)
                )
            else:
                status = validate_pdf_signature(
                    sig,
                    signer_validation_context=_context(pki, dss, moment),
                    ts_validation_context=_context(pki, dss, moment),
                )
            found = _check(status, is_ts)
            results.append(
                SigResult(
                    str(sig.field_name),
                    _signer(status),
                    "timestamp" if is_ts else "signature",
                    not found,
                    tuple(found),
                    _coverage(status),
                    _modification(status),
                )
            )
        except Exception as exc:  # noqa: BLE001 - a broken signature is a result
            results.append(
                SigResult(
                    str(getattr(sig, "field_name", "?")),
                    "",
                    "timestamp" if is_ts else "signature",
                    False,
                    (f"cannot be evaluated: {type(exc).__name__}: {exc}",),
                    "partial",
                    "other",
                )
            )
    problems: list[str] = []
    if not results:
        problems.append("no signature")
    else:
        last = results[-1]
        if last.coverage != "entire_file" and last.modification not in ("none", "lta_updates"):
            problems.append("the last signature does not cover the whole file")
    for r in results:
        problems += [f"{r.field}: {p}" for p in r.problems]
    lta: list[tuple[str, bool, str]] = []
    if not problems:
        spec = _lta_spec(pki)
        timing = ValidationTimingInfo(now, now, False)
        for sig in sigs:
            if sig.sig_object.get("/Type") == "/DocTimeStamp":
                continue
            try:
                result = asyncio.run(ades_lta_validation(sig, spec, timing))
                indication = str(result.ades_subindic)
                passed = indication == "AdESPassed.OK" and bool(
                    getattr(result.api_status, "bottom_line", False)
                )
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                indication, passed = f"{type(exc).__name__}: {exc}", False
            lta.append((str(sig.field_name), passed, indication))
    has_dts = any(r.kind == "timestamp" for r in results)
    return PdfResult(tuple(results), None, not problems, tuple(problems), tuple(lta), has_dts)


def token_signature(token: bytes, head_digest: bytes, pki: Pki, moment: datetime) -> str | None:
    """Check an RFC 3161 token's CMS signature and TSA chain against the bundle's roots.

    :returns: None if valid and trusted, else the problem.
    """
    try:
        signed = cms.ContentInfo.load(token)["content"]
        context = ValidationContext(
            trust_roots=pki.roots,
            other_certs=list(pki.others),
            crls=list(pki.crls),
            allow_fetching=False,
            revinfo_policy=_policy(),
            moment=moment,
        )
        status = asyncio.run(validate_tst_signed_data(signed, context, lambda _alg: head_digest))
    except Exception as exc:  # noqa: BLE001 - a broken token is a result
        return f"cannot be evaluated: {type(exc).__name__}: {exc}"
    intact, valid = status.get("intact"), status.get("valid")
    if not intact:
        return "token imprint or content does not match"
    if not valid:
        return "token signature invalid"
    trust = status.get("trust_problem_indic")
    if trust is not None:
        return f"TSA not trusted by the bundle's roots ({trust})"
    return None
