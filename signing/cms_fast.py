"""Signing layer: assemble PAdES CMS ``SignedData`` from DER pieces cached per signer.

pyHanko builds the CMS object of every signature as a tree of asn1crypto values
and serialises it again, certificates included: about 9 ms of the 13 ms a B-B
signature of a small PDF took. The parts that do not change between signatures
(certificates, signer identifier, algorithm identifiers, the
signing-certificate-v2 attribute) are encoded once here; each signature then
only encodes the message digest attribute and concatenates. The result is the
same DER pyHanko produces (checked byte for byte in the tests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute

_SEQUENCE = 0x30
_SET = 0x31
_OCTET_STRING = 0x04
_IMPLICIT_0 = 0xA0
_IMPLICIT_1 = 0xA1
_EXPLICIT_0 = 0xA0

_MESSAGE_DIGEST_OID = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
_SIGNED_DATA_OID = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_DATA_OID = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_VERSION_1 = core.Integer(1).dump()


def tlv(tag: int, content: bytes) -> bytes:
    """DER encoding of a value with a one-byte ``tag`` and the given contents."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _der_set_of(encodings: Iterable[bytes]) -> bytes:
    """Contents of a DER ``SET OF``: the encodings sorted, duplicates removed."""
    return b"".join(sorted(set(encodings)))


@dataclass(frozen=True)
class CmsTemplate:
    """The DER pieces of a PAdES signature that one signer and digest share."""

    digest_algorithm: bytes
    """``DigestAlgorithmIdentifier`` of the document and attribute digest."""
    signature_algorithm: bytes
    """``SignatureAlgorithmIdentifier`` of the raw signature."""
    signer_identifier: bytes
    """``SignerIdentifier`` (issuer and serial number of the signing certificate)."""
    static_attributes: tuple[bytes, ...]
    """Signed attributes other than the message digest: content type (data)
    and signing-certificate-v2."""
    certificates: bytes
    """``[0] IMPLICIT CertificateSet``: the signing certificate and the chain."""

    def signed_attributes(self, document_digest: bytes) -> bytes:
        """The DER ``SET OF Attribute`` that the raw signature covers.

        :param document_digest: digest of the signed byte ranges of the PDF.
        :returns: the attributes, tagged as a ``SET`` (as they are signed).
        """
        message_digest = tlv(
            _SEQUENCE,
            _MESSAGE_DIGEST_OID + tlv(_SET, tlv(_OCTET_STRING, document_digest)),
        )
        return tlv(_SET, _der_set_of((*self.static_attributes, message_digest)))

    def content_info(
        self, signed_attributes: bytes, signature: bytes, unsigned_attributes: bytes | None
    ) -> bytes:
        """The DER ``ContentInfo`` holding the ``SignedData``.

        :param signed_attributes: the output of :meth:`signed_attributes`.
        :param signature: the raw signature over ``signed_attributes``.
        :param unsigned_attributes: a DER ``SET OF Attribute`` (e.g. a signature
            timestamp), or None.
        :returns: the CMS object to embed in the signature dictionary.
        """
        signer_info = (
            _VERSION_1
            + self.signer_identifier
            + self.digest_algorithm
            + bytes((_IMPLICIT_0,))
            + signed_attributes[1:]
            + self.signature_algorithm
            + tlv(_OCTET_STRING, signature)
        )
        if unsigned_attributes is not None:
            signer_info += bytes((_IMPLICIT_1,)) + unsigned_attributes[1:]
        signed_data = tlv(
            _SEQUENCE,
            _VERSION_1
            + tlv(_SET, self.digest_algorithm)
            + tlv(_SEQUENCE, _DATA_OID)
            + self.certificates
            + tlv(_SET, tlv(_SEQUENCE, signer_info)),
        )
        return tlv(_SEQUENCE, _SIGNED_DATA_OID + tlv(_EXPLICIT_0, signed_data))


def build_template(
    signing_cert: asn1_x509.Certificate,
    chain: Iterable[asn1_x509.Certificate],
    digest_algorithm: str,
    signature_algorithm: algos.SignedDigestAlgorithm,
) -> CmsTemplate:
    """Encode the parts of a PAdES ``SignedData`` that do not depend on the document.

    Mirrors pyHanko 0.38's ``Signer`` for PAdES (``use_pades=True``, content type
    ``data``, no attribute certificates, every chain certificate embedded).

    :param signing_cert: the signer's certificate.
    :param chain: the other certificates to embed.
    :param digest_algorithm: e.g. ``'sha256'``.
    :param signature_algorithm: the signer's mechanism for ``digest_algorithm``.
    :returns: the template.
    """
    sid = cms.SignerIdentifier(
        {
            "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                {"issuer": signing_cert.issuer, "serial_number": signing_cert.serial_number}
            )
        }
    )
    content_type = simple_cms_attribute("content_type", "data")  # type: ignore[no-untyped-call]
    signing_certificate = simple_cms_attribute(  # type: ignore[no-untyped-call]
        "signing_certificate_v2", as_signing_certificate_v2(signing_cert)
    )
    static_attributes = (content_type.dump(), signing_certificate.dump())
    certs = _der_set_of(c.dump() for c in (*chain, signing_cert))
    return CmsTemplate(
        digest_algorithm=algos.DigestAlgorithm({"algorithm": digest_algorithm}).dump(),
        signature_algorithm=signature_algorithm.dump(),
        signer_identifier=sid.dump(),
        static_attributes=static_attributes,
        certificates=tlv(_IMPLICIT_0, certs),
    )
