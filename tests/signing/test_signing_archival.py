"""Long-term validation after the embedded OCSP responses expire (several signers, one CA).

PYHANKO-NOTES reports that pyhanko-certvalidator 0.33 fails such B-LTA documents
with CERTIFICATE_CHAIN_GENERAL_FAILURE, because an OCSP response about another
serial of the same issuer counts as a hard failure. Measured here: what failed
was the missing revocation data for the issuing CA itself; with the root's ARL
embedded next to the OCSP responses, both signatures pass after expiry (the
serial mismatch is only logged). CRL-only data does not pass after expiry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from signing_testlib import USER_PASSPHRASE, MemoryRevocations

from signing.archival import validate_archival
from signing.keys import LoadedKeySigner, load_signer
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.trust import TrustServices
from signing.validate import validate_pdf

UNREACHABLE = "http://127.0.0.1:9/pki"  # declared like production certificates; never fetched


@pytest.fixture(scope="module")
def short_lived(pki: EmbeddedPki) -> TrustServices:
    """Trust services whose OCSP responses and CRLs expire after one hour."""
    revocations = MemoryRevocations()
    return TrustServices(
        pki,
        revocations.status_of,
        revocations.revoked_list,
        ocsp_validity=timedelta(hours=1),
        crl_validity=timedelta(hours=1),
    )


def _signer(pki: EmbeddedPki, name: str) -> LoadedKeySigner:
    issued = pki.issue_signing_certificate(
        full_name=name,
        title="Ủy viên",
        unit="Ban Thường vụ",
        organisation="Đảng ủy Khối",
        passphrase=USER_PASSPHRASE,
        ocsp_url=f"{UNREACHABLE}/ocsp",
        crl_url=f"{UNREACHABLE}/crl",
    )
    return load_signer(issued.cert_pem, issued.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems())


def _two_signatures(
    src: Path, pki: EmbeddedPki, services: TrustServices, *, use_ocsp: bool
) -> Path:
    first, second = src.with_name("one.pdf"), src.with_name("two.pdf")
    for i, (inp, out, name) in enumerate(
        [(src, first, "Lê Văn Một"), (first, second, "Trần Thị Hai")]
    ):
        sign_pdf_file(
            inp,
            out,
            _signer(pki, name),
            SigningProfile(field_name=f"Sig-{i}", level="B-LTA"),
            services.timestamper,
            services.revocation_source(use_ocsp=use_ocsp),
        )
    return second


def test_two_signers_pass_after_ocsp_expiry(
    make_pdf: Callable[..., Path],
    pki: EmbeddedPki,
    short_lived: TrustServices,
    trust: TrustConfig,
) -> None:
    out = _two_signatures(make_pdf(), pki, short_lived, use_ocsp=True)
    assert validate_pdf(out, trust).bottom_line
    now = datetime.now(UTC)
    for moment in (now, now + timedelta(days=3), now + timedelta(days=400)):
        results = validate_archival(out, trust, moment)
        assert [r.field_name for r in results] == ["Sig-0", "Sig-1"]
        assert all(r.passed for r in results), (moment, results)


def test_crl_only_does_not_survive_expiry(
    make_pdf: Callable[..., Path],
    pki: EmbeddedPki,
    short_lived: TrustServices,
    trust: TrustConfig,
) -> None:
    """Documents the measured limitation that made OCSP the default (not a goal)."""
    out = _two_signatures(make_pdf(), pki, short_lived, use_ocsp=False)
    assert all(r.passed for r in validate_archival(out, trust))
    later = validate_archival(out, trust, datetime.now(UTC) + timedelta(days=3))
    assert not any(r.passed for r in later)


def test_without_the_arl_the_issuing_ca_has_no_revocation_data(
    make_pdf: Callable[..., Path],
    pki: EmbeddedPki,
    trust: TrustConfig,
) -> None:
    bare = EmbeddedPki(
        pki.root_cert, pki.issuing_cert, pki.issuing_key, pki.tsa, pki.ocsp_responder, None
    )
    revocations = MemoryRevocations()
    services = TrustServices(
        bare, revocations.status_of, revocations.revoked_list, ocsp_validity=timedelta(hours=1)
    )
    out = _two_signatures(make_pdf(), bare, services, use_ocsp=True)
    later = validate_archival(out, trust, datetime.now(UTC) + timedelta(days=3))
    assert not any(r.passed for r in later)
