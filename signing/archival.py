"""Signing layer: long-term (AdES B-LTA) validation of archived PDFs, offline."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.errors import PathError, ValidationError
from pyhanko_certvalidator.ltv import time_slide as _time_slide
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    NonRevokedStatusAssertion,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.validate_crl import CRLCollectionResult
from pyhanko_certvalidator.version import __version__ as _certvalidator_version

from signing.errors import SignatureFailedError
from signing.profiles import TrustConfig
from signing.revocation import RevocationSource, revinfo_policy
from signing.validate import _load_certs

log = logging.getLogger(__name__)


async def _crls_within_validity(
    cert: Any, path: Any, revinfo_manager: Any, control_time: datetime
) -> CRLCollectionResult:
    """pyhanko-certvalidator's CRL collection for the AdES time slide, without the CRLs
    issued outside ``cert``'s validity period.

    Measured with pyhanko-certvalidator 0.33.0 on renewed archives: the time slide
    (ETSI EN 319 102-1 §5.6.2.2) takes the newest CRL of a certificate's issuer as its
    status, whenever issued. A CRL issued after the certificate expired is no evidence
    (RFC 5280 §3.3: expired certificates may leave the CRL), yet it sets the control time
    after the expiry and the signer's certificate fails past validation; a CRL issued
    before the certificate existed (the renewed OCSP responder's, issuing CA CRL of the
    original signing) drags the control time back before the newest timestamp. An OCSP
    responder certificate with id-pkix-ocsp-nocheck needs no revocation data at all
    (RFC 6960 §4.2.2.2.1), yet any CRL of its issuer slides the control time (to the
    original signing, for the responder of then): it gets none.
    """
    result = await _collect_crls(cert, path, revinfo_manager, control_time)
    if not isinstance(cert, asn1_x509.Certificate):
        return result
    if cert.ocsp_no_check_value is not None:
        return dataclasses.replace(result, crls=[])
    start, end = cert.not_valid_before, cert.not_valid_after
    kept = [
        c for c in result.crls if c.crl.issuance_date is None or start <= c.crl.issuance_date <= end
    ]
    return dataclasses.replace(result, crls=kept)


if _certvalidator_version != "0.33.0":  # requirements.txt pins the measured version
    log.warning(
        "pyhanko-certvalidator %s: the time-slide CRL filter was measured on 0.33.0; "
        "re-run tests/test_archival_renewal.py",
        _certvalidator_version,
    )
_collect_crls = _time_slide.collect_relevant_crls_with_paths
_time_slide.collect_relevant_crls_with_paths = _crls_within_validity  # type: ignore[assignment]


@dataclass(frozen=True)
class ArchivalResult:
    """AdES long-term validation verdict for one signature."""

    field_name: str
    """Name of the signature field."""
    passed: bool
    """ETSI EN 319 102-1 indication TOTAL-PASSED (and pyHanko's bottom line)."""
    indication: str
    """pyHanko's AdES (sub)indication, e.g. ``'AdESPassed.OK'`` or
    ``'AdESIndeterminate.NO_POE'``."""


def _spec(
    trust: TrustConfig, asserted: Sequence[NonRevokedStatusAssertion] = ()
) -> PdfSignatureValidationSpec:
    """Offline policy: revocation data required for end entities, from the DSS only (and
    ``asserted``: certificates found not revoked now, see :func:`_present_status`)."""
    rule = RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
    )
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=_load_certs(trust.trust_roots_pem)),
        revinfo_policy=CertRevTrustPolicy(rule),
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            local_knowledge=LocalKnowledge(
                known_certs=_load_certs(trust.other_certs_pem),
                nonrevoked_assertions=list(asserted),
            ),
        )
    )


def validate_archival(
    path: Path,
    trust: TrustConfig,
    validation_time: datetime | None = None,
    revocation: RevocationSource | None = None,
    *,
    tsa_status: TsaStatus | None = None,
) -> tuple[ArchivalResult, ...]:
    """Validate every (non-timestamp) signature as PAdES B-LTA with the AdES engine.

    Uses only what the file holds (DSS, timestamps) and ``revocation``; never fetches.
    Unlike :func:`signing.validate.validate_pdf`, this keeps working after the embedded
    OCSP responses and CRLs have expired, as long as the document timestamp chain
    covers them. Uses the sync API (``asyncio.run``): never call it inside a
    running event loop.

    The newest document timestamp is validated at ``validation_time`` itself (ETSI EN
    319 102-1 §5.6.2.5: nothing later proves it), so its TSA certificate needs revocation
    data fresh at that time, which a file cannot carry for long (our CRLs and OCSP
    responses are fresh for days). A validator fetches it; we ask ``revocation``, the
    in-process status of our own TSA chain. Without it, a file validates only while the
    revocation data added with its newest timestamp is fresh. Everything older than the
    newest timestamp is proved from the file alone (past validation, POE of the chain).

    :param path: the PDF file.
    :param trust: trust roots and intermediate certificates.
    :param validation_time: the time to validate at; default now.
    :param revocation: the present revocation status of the newest document
        timestamp's TSA chain (certificates of other issuers get nothing).
    :param tsa_status: instead of ``revocation``: that status as checked once for a
        pass of the archival job (:class:`TsaStatus`).
    :returns: one result per signature, in file order.
    """
    results = []
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        moment = validation_time or datetime.now(UTC)
        timing = ValidationTimingInfo(moment, moment, False)
        asserted: list[NonRevokedStatusAssertion] = []
        stamps = reader.embedded_timestamp_signatures
        if stamps and (tsa_status is not None or revocation is not None):
            newest = stamps[-1].signer_cert
            if (
                tsa_status.valid_now(newest, moment)
                if tsa_status is not None
                else revocation is not None and _present_status(newest, trust, revocation, moment)
            ):
                asserted.append(NonRevokedStatusAssertion(newest.sha256, moment))
        spec = _spec(trust, asserted)
        for sig in reader.embedded_signatures:
            if sig.sig_object.get("/Type") == "/DocTimeStamp":
                continue
            result = asyncio.run(ades_lta_validation(sig, spec, timing))
            status = result.api_status
            passed = str(result.ades_subindic) == "AdESPassed.OK" and bool(
                getattr(status, "bottom_line", False)
            )
            results.append(ArchivalResult(str(sig.field_name), passed, str(result.ades_subindic)))
    return tuple(results)


def _present_status(
    tsa_cert: asn1_x509.Certificate,
    trust: TrustConfig,
    revocation: RevocationSource,
    moment: datetime,
) -> bool:
    """Whether the newest timestamp's TSA certificate is valid and not revoked at
    ``moment``, by its chain and by revocation data fresh now from ``revocation`` (plain
    PKIX validation, nothing fetched).

    The AdES engine gets the answer as a non-revocation assertion about that one
    certificate, not the revocation data itself: our TSA certificates name no OCSP
    responder, so their status is a CRL of the issuing CA, and a CRL speaks for every
    certificate of its issuer, the expired TSA certificates of the older timestamps
    included. pyHanko's time slide (ETSI EN 319 102-1 §5.6.2.2) takes the freshest
    revocation data about a certificate as the control time, so a present "not revoked"
    for an expired TSA certificate would keep the control time after its expiry, and
    the older timestamps, which must be proved in the past, would fail (measured:
    OUT_OF_BOUNDS_NO_POE).
    """
    data = revocation.revocation_data(_chain_for(tsa_cert, trust))
    context = ValidationContext(
        trust_roots=_load_certs(trust.trust_roots_pem),
        other_certs=[
            *_load_certs(trust.other_certs_pem),
            *(asn1_x509.Certificate.load(der) for der in data.certs),
        ],
        ocsps=list(data.ocsp_responses),
        crls=list(data.crls),
        allow_fetching=False,
        revinfo_policy=revinfo_policy(True),
        moment=moment,
    )
    validator = CertificateValidator(tsa_cert, validation_context=context)
    try:
        usage = validator.async_validate_usage(set(), extended_key_usage={"time_stamping"})  # type: ignore[no-untyped-call]
        asyncio.run(usage)
    except (PathError, ValidationError) as exc:
        log.warning("the newest TSA certificate does not validate now: %s", exc)
        return False
    return True


def _chain_for(cert: asn1_x509.Certificate | None, trust: TrustConfig) -> list[x509.Certificate]:
    """``cert`` and the intermediate certificates of ``trust`` (what may need revocation
    data; the revocation source skips certificates of other issuers)."""
    needing = [c for c in _load_certs(trust.other_certs_pem) if c.self_signed != "yes"]
    if cert is not None:
        needing.append(cert)
    return [x509.load_der_x509_certificate(c.dump()) for c in needing]


class TsaStatus:
    """The present status of TSA certificates (:func:`_present_status`), checked once per
    certificate and reused for ``max_age``: one pass of the archival job asks it for
    every document (the renewed file's newest timestamp, and the previous one), and it
    costs a chain validation and freshly signed revocation data each time.

    An answer is reused only at a moment not before it was found, less than ``max_age``
    after it, and before the certificate expires; anything else is checked again. What
    a reused answer does not see: the TSA certificate revoked (in our own database)
    within ``max_age`` of the check.
    """

    def __init__(
        self,
        trust: TrustConfig,
        revocation: RevocationSource,
        max_age: timedelta = timedelta(minutes=5),
    ) -> None:
        self._trust = trust
        self._revocation = revocation
        self._max_age = max_age
        self._known: dict[bytes, tuple[datetime, bool]] = {}

    def valid_now(self, cert: asn1_x509.Certificate, moment: datetime) -> bool:
        """:returns: whether ``cert`` is a valid, trusted, unrevoked TSA certificate at
        ``moment`` (see :func:`_present_status`)."""
        known = self._known.get(cert.sha256)
        if (
            known is not None
            and known[0] <= moment < known[0] + self._max_age
            and moment < cert.not_valid_after
        ):
            return known[1]
        valid = _present_status(cert, self._trust, self._revocation, moment)
        self._known[cert.sha256] = (moment, valid)
        return valid


def signature_situation(path: Path) -> tuple[str, ...]:
    """What the long-term verdicts of the PDF at ``path`` rest on besides its own bytes:
    the kind of each signature and the SHA-256 of its certificate, in file order (read,
    not validated; no field names, which differ from one document to the next).

    Documents with the same situation were signed by the same people and sealed by the
    same seal, in the same order, and carry document timestamps of the same TSA
    certificates: the archival job validates the first of them before renewing and
    expects the same verdicts of the others (see
    ``workflow.signatures.archival``).
    """
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        return tuple(
            f"{sig.sig_object.get('/Type')}:{_fingerprint(sig)}"
            for sig in reader.embedded_signatures
        )


def _fingerprint(sig: Any) -> str:
    """The SHA-256 of ``sig``'s certificate, or ``'unreadable'`` (a damaged signature;
    a document unlike its situation is validated on its own, see
    ``workflow.signatures.archival``)."""
    try:
        return str(sig.signer_cert.sha256.hex())
    except Exception:  # the CMS object may be garbage; pyHanko raises many kinds
        return "unreadable"


@dataclass(frozen=True)
class ArchivalState:
    """The newest document timestamp of a PDF: what its archival proof rests on."""

    timestamps: int
    """How many document timestamps the file carries (0: none, a B-LT file)."""
    tsa_not_after: datetime | None
    """Expiry of the newest document timestamp's TSA certificate."""
    digest_algorithm: str | None
    """Its message digest (``'sha256'``...)."""


def archival_state(path: Path) -> ArchivalState:
    """:returns: the document timestamps of the PDF at ``path`` (read, not validated)."""
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        stamps = reader.embedded_timestamp_signatures
        if not stamps:
            return ArchivalState(0, None, None)
        last = stamps[-1]
        cert = last.signer_cert
        not_after = cert["tbs_certificate"]["validity"]["not_after"].native
        algorithm = str(last.signer_info["digest_algorithm"]["algorithm"].native)
        return ArchivalState(len(stamps), not_after.astimezone(UTC), algorithm)


def renew_archival_timestamp(
    in_path: Path,
    out_path: Path,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    trust: TrustConfig,
    *,
    tsa_status: TsaStatus | None = None,
) -> ArchivalState:
    """Add validation data for the newest document timestamp (its TSA chain and revocation
    data, in the DSS) and a new document timestamp over everything, in one incremental
    update (PAdES B-LTA renewal, ETSI EN 319 142-1 §5.5). A file without a document
    timestamp (B-LT) gets its first one: it becomes B-LTA.

    The earlier signatures and timestamps are untouched; the new timestamp's POE covers
    them, so they stay provable after the earlier TSA certificate expires or its
    algorithm is deprecated, as long as renewals go on in time.

    :param in_path: the current PDF.
    :param out_path: where to write the renewed PDF (``w+b``; atomicity is the caller's).
    :param timestamper: the TSA of the new timestamp (its certificate must outlive the
        previous one's).
    :param revocation: revocation data for the previous TSA chain (in-process).
    :param trust: the trust anchors of the previous timestamp.
    :param tsa_status: the previous timestamp's TSA certificate checked once per pass of
        the archival job (default: checked now, with ``revocation``).
    :returns: the state of the renewed file.
    :raises SignatureFailedError: the previous timestamp does not validate, or the TSA fails.
    """
    with in_path.open("rb") as inf:
        reader = PdfFileReader(inf, strict=False)
        stamps = reader.embedded_timestamp_signatures
        last = stamps[-1] if stamps else None
        now = datetime.now(UTC)
        status = tsa_status or TsaStatus(trust, revocation)
        if last is not None and not status.valid_now(last.signer_cert, now):
            raise SignatureFailedError(
                "archival timestamp renewal failed: the previous timestamp's TSA certificate "
                "does not validate now"
            )
        md_algorithm = (
            str(last.signer_info["digest_algorithm"]["algorithm"].native)
            if last is not None
            else "sha256"
        )
        # The previous timestamp's validation data: its chain, OCSP responses and CRLs.
        data = revocation.revocation_data(_chain_for(last.signer_cert if last else None, trust))
        chain = [*_load_certs(trust.other_certs_pem), *_load_certs(trust.trust_roots_pem)]
        # The new timestamp over everything (with the previous one's validation data in
        # the DSS, one incremental update), then, in a last update after it, the new TSA's
        # chain and revocation data: not older than the timestamp, as validators require
        # of revocation data, and covered in turn by the next renewal's timestamp.
        stamped = out_path.with_name(out_path.name + ".ts")
        try:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            DocumentSecurityStore.supply_dss_in_writer(
                writer,
                None,
                certs=[
                    *([last.signer_cert] if last is not None else []),
                    *chain,
                    *(asn1_x509.Certificate.load(der) for der in data.certs),
                ],
                ocsps=[asn1_ocsp.OCSPResponse.load(der) for der in data.ocsp_responses],
                crls=[asn1_crl.CertificateList.load(der) for der in data.crls],
            )
            with stamped.open("w+b") as mid:
                PdfTimeStamper(timestamper).timestamp_pdf(writer, md_algorithm, output=mid)
            # No wait: our trust services round times down to the second, so the data
            # below is dated the timestamp's second or later (a validator's tolerance).
            with stamped.open("rb") as mid:
                _add_tsa_validation_data(mid, out_path, timestamper, revocation)
        except Exception as exc:  # the TSA, the PDF stack
            raise SignatureFailedError(
                f"archival timestamp renewal failed: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            stamped.unlink(missing_ok=True)
    return archival_state(out_path)


def _add_tsa_validation_data(
    source: IO[bytes], target: Path, timestamper: TimeStamper, revocation: RevocationSource
) -> None:
    """Write ``source`` plus a DSS update with the TSA certificate and its revocation data."""
    tsa_cert = getattr(timestamper, "tsa_cert", None)
    writer = IncrementalPdfFileWriter(source, strict=False)
    if isinstance(tsa_cert, asn1_x509.Certificate):
        data = revocation.revocation_data([x509.load_der_x509_certificate(tsa_cert.dump())])
        DocumentSecurityStore.supply_dss_in_writer(
            writer,
            None,
            certs=[tsa_cert, *(asn1_x509.Certificate.load(der) for der in data.certs)],
            ocsps=[asn1_ocsp.OCSPResponse.load(der) for der in data.ocsp_responses],
            crls=[asn1_crl.CertificateList.load(der) for der in data.crls],
        )
    with target.open("wb") as out:
        writer.write(out)  # type: ignore[no-untyped-call]
