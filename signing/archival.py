"""Signing layer: long-term (AdES B-LTA) validation of archived PDFs, offline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from signing.profiles import TrustConfig
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
