"""Signing layer: OCSP responses and CRLs of the issuing CA, built in-process."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from signing.certutil import whole_seconds


@dataclass(frozen=True)
class CertStatus:
    """Revocation status of one certificate, as the database knows it."""

    revoked: bool
    """Whether the certificate is revoked."""
    revoked_at: datetime | None = None
    """When it was revoked (required when :attr:`revoked`; whole seconds are kept)."""
    reason: str | None = None
    """RFC 5280 reason as a :class:`cryptography.x509.ReasonFlags` name,
    e.g. ``'key_compromise'``; None for no reason code."""
    known: bool = True
    """False if the serial was never issued by this CA (OCSP answers "unknown")."""


StatusCallback = Callable[[int], CertStatus]
"""``status_of(serial) -> CertStatus``: the database behind OCSP and pre-sign checks."""


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate on a CRL."""

    serial: int
    """Serial number of the revoked certificate."""
    revoked_at: datetime
    """Revocation time."""
    reason: str | None = None
    """:class:`cryptography.x509.ReasonFlags` name, or None."""


def _reason(name: str | None) -> x509.ReasonFlags | None:
    """A reason code, or None for no code (RFC 5280: omit rather than 'unspecified')."""
    if name is None or name == "unspecified":
        return None
    try:
        return x509.ReasonFlags[name]
    except KeyError:
        return None


def _now(clock: Callable[[], datetime] | None) -> datetime:
    return whole_seconds(clock() if clock is not None else None)


def unsuccessful_ocsp_response(status: str) -> bytes:
    """An unsigned OCSP error response.

    :param status: ``'malformed_request'``, ``'internal_error'``, ``'try_later'``
        or ``'unauthorized'``.
    :returns: the DER response.
    """
    code = ocsp.OCSPResponseStatus[status.upper()]
    return ocsp.OCSPResponseBuilder.build_unsuccessful(code).public_bytes(
        serialization.Encoding.DER
    )


class OcspResponder:
    """Answers OCSP requests about certificates of one issuing CA (RFC 6960).

    Responses are signed by a delegated responder certificate (EKU OCSPSigning,
    id-pkix-ocsp-nocheck) or by the CA itself, carry the responder certificate,
    use whole-second times (NSS rejects fractional seconds) and echo the nonce.
    """

    def __init__(
        self,
        issuer_cert: x509.Certificate,
        responder_cert: x509.Certificate,
        responder_key: rsa.RSAPrivateKey,
        status_of: StatusCallback,
        *,
        validity: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] | None = None,
        reusable: frozenset[int] = frozenset(),
        reuse_for: timedelta = timedelta(0),
    ) -> None:
        """Create the responder.

        :param issuer_cert: the CA whose certificates this responder speaks for.
        :param responder_cert: the signing certificate (delegated, or ``issuer_cert``).
        :param responder_key: its private key.
        :param status_of: the status callback.
        :param validity: ``nextUpdate - thisUpdate``.
        :param clock: current time (tests); default the system clock.
        :param reusable: serials whose status never changes (the TSA's and the
            responder's own certificates, always good): :meth:`response_for` reuses
            their response for ``reuse_for`` instead of signing one per request.
        :param reuse_for: how long such a response is reused (well within ``validity``).
        """
        self.issuer_cert = issuer_cert
        """The CA whose certificates this responder speaks for."""
        self.responder_cert = responder_cert
        """The certificate that signs the responses."""
        self._key = responder_key
        self._status_of = status_of
        self._validity = validity
        self._clock = clock
        self._reusable = reusable
        self._reuse_for = min(reuse_for, validity / 2)
        self._reused: dict[int, tuple[datetime, bytes]] = {}
        asn1_issuer = asn1_x509.Certificate.load(
            issuer_cert.public_bytes(serialization.Encoding.DER)
        )
        self._name_der = asn1_issuer.subject.dump()
        self._key_bits = bytes(asn1_issuer.public_key["public_key"])

    def _issuer_matches(self, req: ocsp.OCSPRequest) -> bool:
        """Whether the request's CertID names our issuer (name hash and key hash)."""
        algo = req.hash_algorithm.name
        try:
            name_hash = hashlib.new(algo, self._name_der).digest()
            key_hash = hashlib.new(algo, self._key_bits).digest()
        except ValueError:
            return False
        return req.issuer_name_hash == name_hash and req.issuer_key_hash == key_hash

    def _build(
        self,
        builder: ocsp.OCSPResponseBuilder,
        nonce: bytes | None,
    ) -> bytes:
        builder = builder.responder_id(
            ocsp.OCSPResponderEncoding.HASH, self.responder_cert
        ).certificates([self.responder_cert] if self.responder_cert != self.issuer_cert else [])
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self._key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)

    def _status_args(
        self, serial: int
    ) -> tuple[ocsp.OCSPCertStatus, datetime | None, x509.ReasonFlags | None]:
        status = self._status_of(serial)
        if not status.known:
            return ocsp.OCSPCertStatus.UNKNOWN, None, None
        if status.revoked:
            revoked_at = (
                whole_seconds(status.revoked_at) if status.revoked_at else _now(self._clock)
            )
            return ocsp.OCSPCertStatus.REVOKED, revoked_at, _reason(status.reason)
        return ocsp.OCSPCertStatus.GOOD, None, None

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER OCSP request with a DER OCSP response.

        A garbled request gets ``malformedRequest``; a request about another
        issuer gets ``unauthorized``. Exceptions of the status callback propagate.

        :param request_der: the request (``application/ocsp-request``).
        :returns: the response (``application/ocsp-response``).
        """
        try:
            req = ocsp.load_der_ocsp_request(request_der)
            nonce_ext = req.extensions.get_extension_for_class(x509.OCSPNonce)
            nonce: bytes | None = nonce_ext.value.nonce
        except x509.ExtensionNotFound:
            nonce = None
        except ValueError:  # garbage, or several CertIDs (unsupported by cryptography)
            return unsuccessful_ocsp_response("malformed_request")
        if not self._issuer_matches(req):
            return unsuccessful_ocsp_response("unauthorized")
        cert_status, revoked_at, reason = self._status_args(req.serial_number)
        now = _now(self._clock)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=req.issuer_name_hash,
            issuer_key_hash=req.issuer_key_hash,
            serial_number=req.serial_number,
            algorithm=req.hash_algorithm,
            cert_status=cert_status,
            this_update=now,
            next_update=now + self._validity,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        return self._build(builder, nonce)

    def response_for(self, cert: x509.Certificate) -> bytes:
        """A DER OCSP response about ``cert`` without a request (for embedding in a DSS).

        :param cert: a certificate issued by :attr:`issuer_cert`.
        :returns: the response.
        """
        now = _now(self._clock)
        serial = cert.serial_number
        if serial in self._reusable:
            made = self._reused.get(serial)
            if made is not None and made[0] <= now < made[0] + self._reuse_for:
                return made[1]
        cert_status, revoked_at, reason = self._status_args(serial)
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert,
            issuer=self.issuer_cert,
            algorithm=hashes.SHA1(),  # noqa: S303 - the CertID hash everyone understands
            cert_status=cert_status,
            this_update=now,
            next_update=now + self._validity,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        der = self._build(builder, None)
        if serial in self._reusable:
            self._reused[serial] = (now, der)
        return der


def build_crl(
    issuer_cert: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    revoked: Iterable[RevokedEntry | tuple[int, datetime]],
    *,
    validity: timedelta = timedelta(days=7),
    now: datetime | None = None,
    crl_number: int | None = None,
) -> bytes:
    """A complete DER CRL of the issuing CA, signed with the CA key.

    :param issuer_cert: the issuing CA certificate.
    :param issuer_key: its private key.
    :param revoked: revoked serials with their revocation times (and reasons).
    :param validity: ``nextUpdate - thisUpdate``.
    :param now: ``thisUpdate`` (whole seconds kept); default now.
    :param crl_number: the CRL number; default the Unix time of ``thisUpdate``,
        which increases with every CRL as RFC 5280 requires.
    :returns: the DER CRL (``application/pkix-crl``).
    """
    this_update = whole_seconds(now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(this_update + validity)
        .add_extension(
            x509.CRLNumber(crl_number if crl_number is not None else int(this_update.timestamp())),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for item in revoked:
        entry = item if isinstance(item, RevokedEntry) else RevokedEntry(item[0], item[1])
        revoked_builder = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(whole_seconds(entry.revoked_at))
        )
        reason = _reason(entry.reason)
        if reason is not None:
            revoked_builder = revoked_builder.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(revoked_builder.build())
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class RevocationData:
    """Revocation data to embed in a DSS or to feed a validation context."""

    ocsp_responses: tuple[bytes, ...] = ()
    """DER OCSP responses."""
    crls: tuple[bytes, ...] = ()
    """DER CRLs."""
    certs: tuple[bytes, ...] = field(default=())
    """DER certificates needed to check them (e.g. the OCSP responder's)."""


class RevocationSource(Protocol):
    """Supplies revocation data in-process (signing never fetches over the network)."""

    def revocation_data(self, certs: Sequence[x509.Certificate]) -> RevocationData:
        """Revocation data for ``certs`` (certificates of other issuers are skipped).

        :param certs: the certificates that need revocation data.
        :returns: OCSP responses and/or CRLs.
        """
        ...


class EmbeddedRevocationSource:
    """Revocation data from the embedded issuing CA: OCSP responses, a CRL, or both.

    Keep OCSP on (the default): measured with pyhanko-certvalidator 0.33, B-LTA
    documents with OCSP responses (plus the root's ARL for the issuing CA) pass
    AdES long-term validation after the responses expire, several signatures
    from the same CA included, while CRL-only data ends in
    REVOCATION_OUT_OF_BOUNDS_NO_POE (see ``tests/signing/test_signing_archival.py``).
    """

    def __init__(
        self,
        issuer_cert: x509.Certificate,
        *,
        ocsp_responder: OcspResponder | None = None,
        crl: Callable[[], bytes] | None = None,
        use_ocsp: bool = True,
        authority_crl: bytes | None = None,
    ) -> None:
        """Create the source.

        :param issuer_cert: the issuing CA.
        :param ocsp_responder: builds OCSP responses (None: no OCSP).
        :param crl: returns the current DER CRL (None: no CRL).
        :param use_ocsp: whether to include OCSP responses even if a responder is set.
        :param authority_crl: the root's CRL over CA certificates (covers the
            issuing CA itself), added whenever data is returned.
        """
        self.issuer_cert = issuer_cert
        """The issuing CA."""
        self._ocsp = ocsp_responder if use_ocsp else None
        self._crl = crl
        self._arl = authority_crl

    def revocation_data(self, certs: Sequence[x509.Certificate]) -> RevocationData:
        """OCSP responses for our certificates among ``certs`` and the current CRL.

        :param certs: certificates that need revocation data.
        :returns: the data.
        """
        ours = [c for c in certs if c.issuer == self.issuer_cert.subject]
        if not ours:
            return RevocationData()
        responses: list[bytes] = []
        extra: list[bytes] = []
        if self._ocsp is not None:
            seen: set[int] = set()
            for cert in ours:
                if cert.serial_number not in seen:
                    seen.add(cert.serial_number)
                    responses.append(self._ocsp.response_for(cert))
            extra.append(self._ocsp.responder_cert.public_bytes(serialization.Encoding.DER))
        crls: tuple[bytes, ...] = (self._crl(),) if self._crl is not None else ()
        if self._arl is not None:
            crls += (self._arl,)
        return RevocationData(ocsp_responses=tuple(responses), crls=crls, certs=tuple(extra))


def revinfo_policy(require_for_end_entity: bool) -> CertRevTrustPolicy:
    """pyHanko's revocation policy: soft-fail, or revocation data required for the end entity.

    pyHanko's ``'soft-fail'`` mode checks only certificates that declare an OCSP
    or CRL URL, so a certificate issued without URLs would never be found
    revoked. When we supply revocation data for a certificate, require it.

    :param require_for_end_entity: require OCSP or CRL data for end-entity certificates.
    :returns: the policy (CA certificates: checked if they declare revocation URLs).
    """
    soft = RevocationCheckingRule.CHECK_IF_DECLARED_SOFT
    ee = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED if require_for_end_entity else soft
    return CertRevTrustPolicy(
        RevocationCheckingPolicy(ee_certificate_rule=ee, intermediate_ca_cert_rule=soft)
    )
