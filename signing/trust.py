"""Signing layer: the embedded trust services (TSA, OCSP, CRL) around one EmbeddedPki."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from cryptography import x509

from signing.certutil import whole_seconds
from signing.errors import SigningError
from signing.fresh import OwnCertificateVerdicts
from signing.pki import EmbeddedPki
from signing.revocation import (
    CertStatus,
    EmbeddedRevocationSource,
    OcspResponder,
    RevokedEntry,
    StatusCallback,
    build_crl,
)
from signing.tsa import TSA_POLICY_OID, EmbeddedTimeStamper

SERVICE_OCSP_REUSE = timedelta(minutes=5)
"""How long the OCSP response about the TSA's or the responder's own certificate (always
good) is reused in the DSS of new signatures, instead of one signed per request; and how
long a CRL is reused while the list of revoked certificates is the same."""

RevokedList = Callable[[], Iterable[RevokedEntry | tuple[int, datetime]]]
"""``revoked() -> [(serial, revoked_at), ...]``: every revoked certificate of the CA."""


class TrustServices:
    """The TSA, the OCSP responder and the CRL issuer of an embedded PKI.

    Build it once per process (the keys are already decrypted in the
    :class:`EmbeddedPki`); everything answers in-process, so signing never
    depends on an HTTP server. The TSA and OCSP responder certificates are
    always reported good; every other serial is asked of ``status_of``.
    """

    def __init__(
        self,
        pki: EmbeddedPki,
        status_of: StatusCallback,
        revoked: RevokedList | None = None,
        *,
        ocsp_validity: timedelta = timedelta(days=1),
        crl_validity: timedelta = timedelta(days=7),
        tsa_policy_oid: str = TSA_POLICY_OID,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Create the services.

        :param pki: the loaded PKI (with its TSA and OCSP responder identities).
        :param status_of: the certificate status callback (the database).
        :param revoked: lists revoked certificates for the CRL; None disables the CRL.
        :param ocsp_validity: ``nextUpdate - thisUpdate`` of OCSP responses.
        :param crl_validity: ``nextUpdate - thisUpdate`` of CRLs.
        :param tsa_policy_oid: the TSA policy written into timestamp tokens.
        :param clock: current time (tests); default the system clock.
        """
        self.pki = pki
        """The PKI."""
        self.own_verdicts = OwnCertificateVerdicts()
        """Verdicts on this PKI's own certificates (signer, TSA) with this instance's
        revocation data, reused for a short window by the check of a fresh signature."""
        self._status_of = status_of
        self._revoked = revoked
        self._crl_validity = crl_validity
        self._last_crl: tuple[datetime, list[RevokedEntry], bytes] | None = None
        self._clock = clock
        self._service_serials = frozenset(
            {pki.tsa.cert.serial_number, pki.ocsp_responder.cert.serial_number}
        )
        self.timestamper = EmbeddedTimeStamper(
            pki.tsa.cert, pki.tsa.key, [pki.issuing_cert], policy_oid=tsa_policy_oid, clock=clock
        )
        """The in-process TSA (signature and document timestamps)."""
        self.ocsp = OcspResponder(
            pki.issuing_cert,
            pki.ocsp_responder.cert,
            pki.ocsp_responder.key,
            self.status_of,
            validity=ocsp_validity,
            clock=clock,
            reusable=self._service_serials,
            reuse_for=SERVICE_OCSP_REUSE,
        )
        """The OCSP responder of the issuing CA."""

    def status_of(self, serial: int) -> CertStatus:
        """Status of a serial: service certificates are good, the rest is looked up.

        :param serial: certificate serial number.
        :returns: the status.
        """
        if serial in self._service_serials:
            return CertStatus(revoked=False)
        return self._status_of(serial)

    @property
    def has_crl(self) -> bool:
        """Whether a revoked-list callback was given (CRLs can be issued)."""
        return self._revoked is not None

    def crl(self, at: datetime | None = None) -> bytes:
        """The current DER CRL of the issuing CA.

        :param at: its ``thisUpdate`` (default: now): an audit bundle's CRL is dated at
            the bundle's time, which is when the verifier validates.
        :returns: the CRL.
        :raises SigningError: no revoked-list callback was given.
        """
        if self._revoked is None:
            raise SigningError("no list of revoked certificates configured: cannot issue a CRL")
        now = at if at is not None else (self._clock() if self._clock is not None else None)
        revoked = [
            item if isinstance(item, RevokedEntry) else RevokedEntry(item[0], item[1])
            for item in self._revoked()
        ]
        if at is None:
            # The same list as a moment ago: the CRL signed then says exactly this.
            moment = whole_seconds(now)
            made = self._last_crl
            if (
                made is not None
                and made[1] == revoked
                and made[0] <= moment < made[0] + SERVICE_OCSP_REUSE
            ):
                return made[2]
        der = build_crl(
            self.pki.issuing_cert,
            self.pki.issuing_key,
            revoked,
            validity=self._crl_validity,
            now=now,
        )
        if at is None:
            self._last_crl = (whole_seconds(now), revoked, der)
        return der

    def revocation_source(self, *, use_ocsp: bool = True) -> EmbeddedRevocationSource:
        """Revocation data for signing at B-LT/B-LTA.

        :param use_ocsp: embed OCSP responses (recommended, see
            :class:`EmbeddedRevocationSource`); False embeds only CRLs (needs ``revoked``).
        :returns: the source.
        :raises SigningError: neither OCSP nor a CRL would be available.
        """
        if not use_ocsp and self._revoked is None:
            raise SigningError("CRL-only revocation data needs the list of revoked certificates")
        return EmbeddedRevocationSource(
            self.pki.issuing_cert,
            ocsp_responder=self.ocsp,
            crl=self.crl if self._revoked is not None else None,
            use_ocsp=use_ocsp,
            authority_crl=self.pki.authority_crl,
        )

    def issuing_cert(self) -> x509.Certificate:
        """The issuing CA certificate.

        :returns: the certificate.
        """
        return self.pki.issuing_cert
