"""The signature timestamp is spliced into a client's CMS without re-encoding it."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms
from pyhanko.sign.timestamps import TimeStamper

from signing.cms_splice import SpliceError, add_unsigned_attribute, signature_value
from signing.trust import TrustServices
from tests.foreign_pdfs import foreign_ca_signer, simple_signer


def _cms() -> bytes:
    signer = simple_signer(foreign_ca_signer())
    digest = hashlib.sha256(b"document").digest()
    return asyncio.run(signer.async_sign(digest, "sha256", use_pades=True)).dump()


def test_splice_equals_a_full_encoding_and_keeps_every_other_byte(
    services: TrustServices,
) -> None:
    der = _cms()
    stamper: TimeStamper = services.timestamper
    signature = signature_value(der)
    assert signature == cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    token = asyncio.run(stamper.async_timestamp(hashlib.sha256(signature).digest(), "sha256"))
    attr = cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})

    spliced = add_unsigned_attribute(der, attr.dump())

    reference = cms.ContentInfo.load(der)
    info = reference["content"]["signer_infos"][0]
    info["unsigned_attrs"] = cms.CMSAttributes([attr])
    assert spliced == reference.dump()  # asn1crypto re-encodes the changed path only
    parsed = cms.ContentInfo.load(spliced)
    (unsigned,) = parsed["content"]["signer_infos"][0]["unsigned_attrs"]
    assert unsigned["type"].native == "signature_time_stamp_token"
    # Certificates and signed attributes are the received bytes, verbatim.
    original = cms.ContentInfo.load(der)["content"]
    assert parsed["content"]["certificates"].dump() == original["certificates"].dump()
    # A second attribute goes after the first.
    twice = cms.ContentInfo.load(add_unsigned_attribute(spliced, attr.dump()))
    assert len(twice["content"]["signer_infos"][0]["unsigned_attrs"]) == 2


def test_ber_and_garbage_are_refused() -> None:
    der = _cms()
    ber = b"\x30\x80" + der[4:] + b"\x00\x00"
    with pytest.raises(SpliceError):
        add_unsigned_attribute(ber, b"\x30\x00")
    with pytest.raises(SpliceError):
        signature_value(b"\x04\x02ab")
    with pytest.raises(SpliceError):
        signature_value(der + b"\x00")


def test_prepared_attributes_are_pyhankos() -> None:
    """The signed attributes the external path hands out (DER pieces encoded once) are
    the bytes pyHanko's own ``ExternalSigner.signed_attrs`` gives."""
    from cryptography.hazmat.primitives import serialization

    from signing import external

    foreign = foreign_ca_signer()
    cert = foreign.chain[0]
    chain = [c.public_bytes(serialization.Encoding.PEM) for c in foreign.chain[1:]]
    digest = hashlib.sha256(b"pdf byte ranges").digest()
    theirs = asyncio.run(
        external._external_signer(cert, chain).signed_attrs(digest, "sha256", use_pades=True)
    )
    assert external._template_for(cert, chain).signed_attributes(digest) == theirs.dump()
