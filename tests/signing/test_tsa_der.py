"""The embedded TSA assembles its tokens from DER pieces: the same bytes as the
asn1crypto tree it used to build (kept here as the reference)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from pyhanko.sign.general import as_signing_certificate_v2

from signing import tsa
from signing.pki import EmbeddedPki

GEN_TIME = datetime(2026, 12, 2, 9, 30, 5, tzinfo=UTC)
SERIAL = 0x1234567890ABCDEF


def _asn1(cert: object) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))  # type: ignore[attr-defined]


def _reference(pki: EmbeddedPki, req: tsp.TimeStampReq) -> bytes:
    """The response as an asn1crypto tree, encoded by asn1crypto (the former code)."""
    tsa_cert = _asn1(pki.tsa.cert)
    tst_info = {
        "version": "v1",
        "policy": tsa.TSA_POLICY_OID,
        "message_imprint": req["message_imprint"],
        "serial_number": SERIAL,
        "gen_time": core.GeneralizedTime(GEN_TIME),
        "accuracy": {"seconds": 1},
        "ordering": False,
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if req["nonce"].native is not None:
        tst_info["nonce"] = req["nonce"]
    tst_der = tsp.TSTInfo(tst_info).dump()

    def attr(name: str, value: object) -> cms.CMSAttribute:
        return cms.CMSAttribute({"type": name, "values": (value,)})

    signed_attrs = cms.CMSAttributes(
        [
            attr("content_type", "tst_info"),
            attr("signing_time", cms.Time({"utc_time": GEN_TIME})),
            attr("signing_certificate_v2", as_signing_certificate_v2(tsa_cert)),
            attr("message_digest", hashlib.sha256(tst_der).digest()),
        ]
    )
    signature = pki.tsa.key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    digest_algo = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": digest_algo,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signed_attrs": signed_attrs,
            "signature": signature,
        }
    )
    signed_data: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": cms.DigestAlgorithms((digest_algo,)),
        "encap_content_info": {
            "content_type": "tst_info",
            "content": cms.ParsableOctetString(tst_der),
        },
        "signer_infos": [signer_info],
    }
    if req["cert_req"].native:
        signed_data["certificates"] = [tsa_cert, _asn1(pki.issuing_cert)]
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return bytes(
        tsp.TimeStampResp(
            {"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token}
        ).dump()
    )


@pytest.mark.parametrize(("nonce", "cert_req"), [(987654321, True), (None, False)])
def test_token_der_is_the_asn1crypto_encoding(
    pki: EmbeddedPki, monkeypatch: pytest.MonkeyPatch, nonce: int | None, cert_req: bool
) -> None:
    monkeypatch.setattr(tsa.secrets, "randbits", lambda bits: SERIAL)
    stamper = tsa.EmbeddedTimeStamper(
        pki.tsa.cert, pki.tsa.key, [pki.issuing_cert], clock=lambda: GEN_TIME
    )
    request: dict[str, object] = {
        "version": 1,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "hashed_message": hashlib.sha256(b"van ban").digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        request["nonce"] = nonce
    req = tsp.TimeStampReq.load(tsp.TimeStampReq(request).dump())
    assert stamper.answer(req).dump() == _reference(pki, req)
