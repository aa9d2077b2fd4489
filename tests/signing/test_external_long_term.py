"""The long-term data of an externally made signature (a USB token's, ``signing.external``)
at B-LT: the DSS holds the signer's and the TSA's paths to the root, the OCSP responder's
certificate and fresh revocation data, found without validating the paths (as the
server's own B-LT signatures, ``signing.pades``); the result validates at B-LT, and a
signer the revocation data revokes is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_testlib import USER_PASSPHRASE, MemoryRevocations

from signing import external
from signing.errors import SignatureFailedError
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.trust import TrustServices
from signing.validate import validate_pdf


def _externally_signed(
    pki: EmbeddedPki, services: TrustServices, source: Path, tmp_path: Path, name: str
) -> tuple[Path, external.PreparedExternal, x509.Certificate]:
    issued = pki.issue_signing_certificate(
        full_name=name,
        title="Chuyên viên",
        unit="Văn phòng",
        organisation="Đảng ủy Khối",
        passphrase=USER_PASSPHRASE,
    )
    key = serialization.load_pem_private_key(issued.encrypted_key_pem, USER_PASSPHRASE.encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    chain = list(pki.chain_pems())
    prepared = tmp_path / "prepared.pdf"
    prep = external.prepare_external(
        source, prepared, issued.cert_pem, chain, SigningProfile("Token", level="B-LT")
    )
    signature = key.sign(prep.signed_attrs, padding.PKCS1v15(), hashes.SHA256())
    external.embed_raw_signature(
        prepared, prep, signature, issued.cert_pem, chain, services.timestamper
    )
    return prepared, prep, x509.load_pem_x509_certificate(issued.cert_pem)


def _to_b_lt(
    prepared: Path,
    prep: external.PreparedExternal,
    final: Path,
    trust: TrustConfig,
    services: TrustServices,
) -> None:
    external.extend_long_term(
        prepared,
        final,
        "B-LT",
        trust,
        services.revocation_source(),
        services.timestamper,
        (prep.reserved_start, prep.reserved_end),
    )


def test_external_b_lt_embeds_the_known_paths_and_validates(
    pki: EmbeddedPki,
    services: TrustServices,
    trust: TrustConfig,
    make_pdf: Callable[..., Path],
    tmp_path: Path,
) -> None:
    prepared, prep, _cert = _externally_signed(
        pki, services, make_pdf(), tmp_path, "Phạm Thị Token"
    )
    final = tmp_path / "final.pdf"
    _to_b_lt(prepared, prep, final, trust, services)
    with final.open("rb") as fh:
        dss = PdfFileReader(fh, strict=False).root["/DSS"]
        names = [
            asn1_x509.Certificate.load(c.get_object().data).subject.native["common_name"]
            for c in dss["/Certs"]
        ]
        assert len(dss["/OCSPs"]) == 2 and len(dss["/CRLs"]) == 2  # signer, TSA; CA, root
    assert names[2] == "Phạm Thị Token" and len(names) == len(set(names)) == 5
    assert names[0].startswith("TrinhKy Root CA") and names[1].startswith("TrinhKy Issuing")
    assert names[3].startswith("TrinhKy TSA") and names[4].startswith("TrinhKy OCSP")
    (report,) = validate_pdf(final, trust, services.revocation_source()).signatures
    assert report.bottom_line and report.pades_level == "B-LT", report.problems


def test_external_b_lt_refuses_a_revoked_signer(
    pki: EmbeddedPki,
    services: TrustServices,
    trust: TrustConfig,
    revocations: MemoryRevocations,
    make_pdf: Callable[..., Path],
    tmp_path: Path,
) -> None:
    prepared, prep, cert = _externally_signed(
        pki, services, make_pdf(), tmp_path, "Nguyễn Văn Token Thu Hồi"
    )
    revocations.revoke(cert.serial_number, datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(SignatureFailedError):
        _to_b_lt(prepared, prep, tmp_path / "final.pdf", trust, services)
