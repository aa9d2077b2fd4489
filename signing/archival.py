"""Signing layer: long-term (AdES B-LTA) validation of archived PDFs, offline."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

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
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from signing.errors import SignatureFailedError
from signing.profiles import TrustConfig
from signing.revocation import RevocationSource, revinfo_policy
from signing.validate import _load_certs


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


def _spec(trust: TrustConfig) -> PdfSignatureValidationSpec:
    """Offline policy: revocation data required for end entities, from the DSS only."""
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
            local_knowledge=LocalKnowledge(known_certs=_load_certs(trust.other_certs_pem)),
        )
    )


def validate_archival(
    path: Path, trust: TrustConfig, validation_time: datetime | None = None
) -> tuple[ArchivalResult, ...]:
    """Validate every (non-timestamp) signature as PAdES B-LTA with the AdES engine.

    Uses only what the file holds (DSS, timestamps); never fetches. Unlike
    :func:`signing.validate.validate_pdf`, this keeps working after the embedded
    OCSP responses and CRLs have expired, as long as the document timestamp chain
    covers them. Uses the sync API (``asyncio.run``): never call it inside a
    running event loop.

    :param path: the PDF file.
    :param trust: trust roots and intermediate certificates.
    :param validation_time: the time to validate at; default now.
    :returns: one result per signature, in file order.
    """
    moment = validation_time or datetime.now(UTC)
    timing = ValidationTimingInfo(moment, moment, False)
    spec = _spec(trust)
    results = []
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
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
    :returns: the state of the renewed file.
    :raises SignatureFailedError: the previous timestamp does not validate, or the TSA fails.
    """
    with in_path.open("rb") as inf:
        reader = PdfFileReader(inf, strict=False)
        stamps = reader.embedded_timestamp_signatures
        needing = [c for c in _load_certs(trust.other_certs_pem) if c.self_signed != "yes"]
        if stamps:
            last = stamps[-1]
            needing.append(last.signer_cert)
        data = revocation.revocation_data(
            [x509.load_der_x509_certificate(c.dump()) for c in needing]
        )
        context = ValidationContext(
            trust_roots=_load_certs(trust.trust_roots_pem),
            other_certs=[*_load_certs(trust.other_certs_pem)]
            + [asn1_x509.Certificate.load(der) for der in data.certs],
            ocsps=list(data.ocsp_responses),
            crls=list(data.crls),
            allow_fetching=False,
            revinfo_policy=revinfo_policy(True),
        )
        # The new timestamp over everything (with the previous one's validation data in
        # the DSS), then, in a last update after it, the new TSA's chain and revocation
        # data: issued after the timestamp, as validators require of revocation data,
        # and covered in turn by the next renewal's timestamp.
        stamped = out_path.with_name(out_path.name + ".ts")
        try:
            with stamped.open("w+b") as mid:
                PdfTimeStamper(timestamper).update_archival_timestamp_chain(
                    reader, context, in_place=False, output=mid
                )
            time.sleep(1.0)  # revocation data dated strictly after the timestamp (1 s grain)
            with stamped.open("rb") as mid:
                _add_tsa_validation_data(mid, out_path, timestamper, revocation)
        except Exception as exc:  # the previous timestamp, the TSA, the PDF stack
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
