"""Signing layer: the embedded RFC 3161 time-stamping authority, answering in-process."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.timestamps import TimeStamper

from signing.certutil import whole_seconds
from signing.cms_fast import tlv

TSA_POLICY_OID = "2.25.3046412297"
"""Default time-stamp policy of the embedded TSA (X.667 UUID form). Deployments with
their own OID arc should pass theirs. Every arc stays below 2**32: RustCrypto's
``const-oid`` (used by some verifiers) rejects larger arcs, and asn1crypto takes
seconds to nest a token whose OID has an arc above 2**64."""

_SEQUENCE = 0x30
_SET = 0x31
_OCTET_STRING = 0x04
_IMPLICIT_0 = 0xA0
_EXPLICIT_0 = 0xA0
_VERSION_1 = core.Integer(1).dump()
_VERSION_3 = core.Integer(3).dump()
_SIGNED_DATA_OID = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_TST_INFO_OID = core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump()
_GRANTED = tsp.PKIStatusInfo({"status": "granted"}).dump()

_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_512": 64}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _rejection(failure: str, text: str) -> tsp.TimeStampResp:
    """A rejection with one PKIFailureInfo bit (e.g. ``'bad_alg'``)."""
    return tsp.TimeStampResp(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": "rejection",
                    "status_string": [text],
                    "fail_info": tsp.PKIFailureInfo({failure}),
                }
            )
        }
    )


def _response_der(response: tsp.TimeStampResp) -> bytes:
    """DER of a response; asn1crypto cannot encode one without a token (a rejection)."""
    if response["status"]["status"].native in ("granted", "granted_with_mods"):
        return bytes(response.dump())
    status = bytes(response["status"].dump())
    return bytes(core.Sequence.load(b"\x30" + _der_length(len(status)) + status).dump())


def _der_length(length: int) -> bytes:
    """A DER length octet string."""
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _attr(name: str, value: object) -> cms.CMSAttribute:
    """A CMS attribute with a single value."""
    return cms.CMSAttribute({"type": name, "values": (value,)})


class EmbeddedTimeStamper(TimeStamper):
    """An RFC 3161 TSA that answers in-process: a pyHanko ``TimeStamper`` with no network.

    Tokens use whole-second ``genTime`` with an accuracy of one second, the
    policy (default :data:`TSA_POLICY_OID`), ESS signing-certificate-v2 (SHA-256) and
    RSA PKCS#1 v1.5 with SHA-256 over the signed attributes. The TSA key is used
    as loaded (never re-parsed per token).
    """

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        tsa_key: rsa.RSAPrivateKey,
        chain: Sequence[x509.Certificate] = (),
        *,
        policy_oid: str = TSA_POLICY_OID,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Create the TSA.

        :param tsa_cert: the TSA certificate (EKU timeStamping, critical).
        :param tsa_key: its private key.
        :param chain: certificates to embed with the TSA certificate (the issuing CA).
        :param policy_oid: the TSA policy written into every token.
        :param clock: current time (tests); default the system clock.
        """
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.tsa_cert = _asn1(tsa_cert)
        """The TSA certificate (asn1crypto, as pyHanko wants it)."""
        self._key = tsa_key
        self._chain = [_asn1(c) for c in chain]
        digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
        sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": self.tsa_cert.issuer, "serial_number": self.tsa_cert.serial_number}
                )
            }
        )
        self._digest_algorithm = digest_algorithm.dump()
        self._signer_info_head = _VERSION_1 + sid.dump() + self._digest_algorithm
        self._signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()
        self._content_type_attr = _attr("content_type", "tst_info").dump()
        self._signing_certificate_attr = _attr(
            "signing_certificate_v2", as_signing_certificate_v2(self.tsa_cert)
        ).dump()
        self._certificates = tlv(
            _IMPLICIT_0, b"".join(c.dump() for c in [self.tsa_cert, *self._chain])
        )
        self._clock = clock
        self.policy_oid = policy_oid
        """The TSA policy written into every token."""

    def answer(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Answer a parsed request: a granted response, or a rejection with a reason.

        :param req: the request.
        :returns: the response.
        """
        imprint = req["message_imprint"]
        algo = imprint["hash_algorithm"]["algorithm"].native
        if algo not in _HASHES:
            return _rejection("bad_alg", f"unsupported hash algorithm {algo}")
        if len(imprint["hashed_message"].native) != _DIGEST_SIZES[algo]:
            return _rejection("bad_data_format", "message imprint has the wrong length")
        policy = req["req_policy"].native
        if policy is not None and policy != self.policy_oid:
            return _rejection("unaccepted_policy", f"unsupported policy {policy}")
        if req["extensions"].native:
            return _rejection("unaccepted_extension", "request extensions are not supported")
        gen_time = whole_seconds(self._clock() if self._clock is not None else None)
        tst_info: dict[str, object] = {
            "version": "v1",
            "policy": self.policy_oid,
            "message_imprint": imprint,
            "serial_number": secrets.randbits(127) | 1,
            "gen_time": core.GeneralizedTime(gen_time),
            "accuracy": {"seconds": 1},
            "ordering": False,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=self.tsa_cert.subject),
        }
        if req["nonce"].native is not None:
            tst_info["nonce"] = req["nonce"]
        token = self._sign(tsp.TSTInfo(tst_info).dump(), gen_time, bool(req["cert_req"].native))
        # Parsed from DER: asn1crypto objects built from nested dicts re-encode their
        # children again and again when pyHanko nests them (seconds per token).
        return tsp.TimeStampResp.load(tlv(_SEQUENCE, _GRANTED + token))

    def _sign(self, tst_info_der: bytes, gen_time: datetime, with_certs: bool) -> bytes:
        """The DER of a CMS SignedData over TSTInfo signed by the TSA key (SHA-256).

        Assembled from DER pieces encoded once per TSA (:mod:`signing.cms_fast`): building
        it as an asn1crypto tree cost about 9 ms a token, nearly all of it re-encoding.
        """
        signed_attrs = tlv(
            _SET,
            b"".join(
                sorted(  # DER: a SET OF is sorted by encoding
                    (
                        self._content_type_attr,
                        _attr("signing_time", cms.Time({"utc_time": gen_time})).dump(),
                        self._signing_certificate_attr,
                        _attr("message_digest", hashlib.sha256(tst_info_der).digest()).dump(),
                    )
                )
            ),
        )
        signature = self._key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        signer_info = tlv(
            _SEQUENCE,
            self._signer_info_head
            + bytes((_IMPLICIT_0,))
            + signed_attrs[1:]
            + self._signature_algorithm
            + tlv(_OCTET_STRING, signature),
        )
        content = tlv(_SEQUENCE, _TST_INFO_OID + tlv(_EXPLICIT_0, tlv(_OCTET_STRING, tst_info_der)))
        signed_data = tlv(
            _SEQUENCE,
            _VERSION_3
            + tlv(_SET, self._digest_algorithm)
            + content
            + (self._certificates if with_certs else b"")
            + tlv(_SET, signer_info),
        )
        return tlv(_SEQUENCE, _SIGNED_DATA_OID + tlv(_EXPLICIT_0, signed_data))

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Answer a request synchronously (pyHanko's dummy-timestamper convention).

        :param req: the request.
        :returns: the response.
        """
        return self.answer(req)

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Answer a request in-process (pyHanko's hook; no network).

        :param req: the request.
        :returns: the response.
        """
        return self.answer(req)

    def answer_der(self, request_der: bytes) -> bytes:
        """Answer a DER ``application/timestamp-query`` with a DER ``timestamp-reply``.

        A request that does not parse gets a rejection with ``badDataFormat``.

        :param request_der: the request body.
        :returns: the response body.
        """
        try:
            req = tsp.TimeStampReq.load(request_der)
            req.native  # noqa: B018 - forces a full parse so garbage fails here
        except Exception:  # asn1crypto raises many unrelated types on garbage
            return _response_der(_rejection("bad_data_format", "the request does not parse"))
        return _response_der(self.answer(req))


def answer_timestamp_request(timestamper: EmbeddedTimeStamper, request_der: bytes) -> bytes:
    """Answer a DER RFC 3161 request with a DER response (for the HTTP endpoint).

    :param timestamper: the embedded TSA.
    :param request_der: the ``application/timestamp-query`` body.
    :returns: the ``application/timestamp-reply`` body.
    """
    return timestamper.answer_der(request_der)


def digest_timestamper(timestamper: TimeStamper) -> Callable[[bytes], bytes]:
    """Wrap a pyHanko ``TimeStamper`` (the embedded TSA, or an RFC 3161 client) as the
    ``digest -> token`` callable that audit checkpoints take.

    :param timestamper: the TSA.
    :returns: a function taking a SHA-256 digest and returning the DER of a
        ``TimeStampToken`` over it (call it from code with no running event loop).
    """

    def stamp(digest: bytes) -> bytes:
        token = asyncio.run(timestamper.async_timestamp(digest, "sha256"))
        return bytes(token.dump())

    return stamp
