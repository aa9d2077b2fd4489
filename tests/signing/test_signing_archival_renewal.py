"""Archival timestamp renewal at the signing layer (``signing.archival``).

A B-LTA file renewed before its TSA certificate expires (by the TSA certificate that the
PKI renews on load) still passes AdES long-term validation a month after the old TSA
certificate expired, when the signer's own certificate is long gone; the same file not
renewed does not. The clock moves with time-machine; everything else is real (the test
PKI, the in-process TSA, OCSP responder and CRLs, pyHanko's AdES engine).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import time_machine
from signing_testlib import CA_PASSPHRASE, MemoryRevocations

from signing.archival import archival_state, renew_archival_timestamp, validate_archival
from signing.keys import LoadedKeySigner
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.trust import TrustServices


def test_renewed_file_outlives_the_tsa_certificate_and_the_unrenewed_one_does_not(
    make_pdf: Callable[..., Path],
    pki_dir: Path,
    pki: EmbeddedPki,
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
    tmp_path: Path,
) -> None:
    issued = tmp_path / "issued.pdf"
    sign_pdf_file(
        make_pdf(),
        issued,
        duc_signer,
        SigningProfile(field_name="Sig-Duc", level="B-LTA"),
        services.timestamper,
        services.revocation_source(),
    )
    first = archival_state(issued)
    assert first.timestamps == 1 and first.digest_algorithm == "sha256"
    assert first.tsa_not_after == pki.tsa.cert.not_valid_after_utc
    expiry = pki.tsa.cert.not_valid_after_utc
    assert [r.passed for r in validate_archival(issued, trust, None, services.revocation_source())]

    renewed = tmp_path / "renewed.pdf"
    with time_machine.travel(expiry - timedelta(days=100)):
        # A server started now: its PKI renews the TSA certificate on load.
        later_dir = tmp_path / "ca-later"
        shutil.copytree(pki_dir, later_dir)
        later_pki = EmbeddedPki.load(later_dir, CA_PASSPHRASE)
        assert later_pki.tsa.cert.serial_number != pki.tsa.cert.serial_number
        revocations = MemoryRevocations()
        later = TrustServices(later_pki, revocations.status_of, revocations.revoked_list)
        state = renew_archival_timestamp(
            issued, renewed, later.timestamper, later.revocation_source(), trust
        )
        assert state.timestamps == 2
        assert state.tsa_not_after == later_pki.tsa.cert.not_valid_after_utc
        assert state.tsa_not_after is not None and state.tsa_not_after > expiry + timedelta(
            days=365
        )
        assert issued.read_bytes() == renewed.read_bytes()[: issued.stat().st_size]

    with time_machine.travel(expiry + timedelta(days=30)):
        source = later.revocation_source()
        kept = validate_archival(renewed, trust, None, source)
        lost = validate_archival(issued, trust, None, source)
    assert [(r.field_name, r.passed) for r in kept] == [("Sig-Duc", True)], kept
    assert [(r.field_name, r.passed) for r in lost] == [("Sig-Duc", False)], lost
