"""Tests for B-T signatures, document timestamps and ECDSA keys (no network: DummyTimeStamper)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps import DummyTimeStamper
from signing_testlib import CA_PASSPHRASE, issue_from_ca

from signing.keys import LoadedKeySigner, load_signer
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.validate import validate_pdf


@pytest.fixture(scope="session")
def timestamper(pki_dir: Path, pki: EmbeddedPki) -> DummyTimeStamper:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issue_from_ca(
        pki_dir, CA_PASSPHRASE, "TrinhKy Test TSA", key.public_key(), time_stamping=True
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(der_key),
        certs_to_embed=[
            asn1_x509.Certificate.load(pki.issuing_cert.public_bytes(serialization.Encoding.DER))
        ],
    )


def test_b_t_signature(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    timestamper: DummyTimeStamper,
) -> None:
    src = make_pdf()
    out = src.with_name("bt.pdf")
    sign_pdf_file(src, out, duc_signer, SigningProfile(field_name="Sig-T"), timestamper)
    (sig,) = validate_pdf(out, trust).signatures
    assert sig.bottom_line, sig.problems
    assert sig.pades_level == "B-T"
    assert sig.timestamp_time is not None


def test_document_timestamp_is_reported(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    timestamper: DummyTimeStamper,
) -> None:
    src = make_pdf()
    signed = src.with_name("signed.pdf")
    sign_pdf_file(src, signed, duc_signer, SigningProfile(field_name="Sig-1"), timestamper)
    stamped = src.with_name("dts.pdf")
    with signed.open("rb") as inf, stamped.open("w+b") as outf:
        PdfTimeStamper(timestamper).timestamp_pdf(
            IncrementalPdfFileWriter(inf), "sha256", output=outf
        )
    report = validate_pdf(stamped, trust)
    first, dts = report.signatures
    assert first.bottom_line and first.pades_level == "B-T"  # no revocation data in a DSS
    assert dts.pades_level == "DTS", dts.summary
    assert dts.timestamp_time is not None and dts.signing_time is None
    assert dts.signer_name == "TrinhKy Test TSA"
    assert dts.subfilter == "/ETSI.RFC3161"
    assert dts.bottom_line and dts.trusted and dts.intact, dts.problems
    assert report.to_dict()["verdict"] == "valid"


def test_ecdsa_key(
    make_pdf: Callable[..., Path], pki_dir: Path, pki: EmbeddedPki, trust: TrustConfig
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_from_ca(pki_dir, CA_PASSPHRASE, "Phạm Thị EC", key.public_key())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"ec"),
    )
    signer = load_signer(
        cert.public_bytes(serialization.Encoding.PEM), key_pem, "ec", pki.chain_pems()
    )
    src = make_pdf()
    out = src.with_name("ec.pdf")
    sign_pdf_file(src, out, signer, SigningProfile(field_name="Sig-EC"))
    (sig,) = validate_pdf(out, trust).signatures
    assert sig.bottom_line, sig.problems
    assert sig.signer_name == "Phạm Thị EC"
