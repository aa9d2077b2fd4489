"""Signing layer: load key material once and expose it as a pyHanko signer."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from signing.cms_fast import CmsTemplate, build_template
from signing.errors import KeyLoadError, SignatureFailedError, WrongPassphraseError

SigningKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


def check_rsa_key(key: rsa.RSAPrivateKey) -> None:
    """Check that an RSA private key is consistent, as OpenSSL's ``RSA_check_key`` does.

    ``cryptography`` runs ``RSA_check_key`` on every load, which spends about
    35 ms on an RSA-2048 key, nearly all of it testing ``p`` and ``q`` for
    primality. This checks the same relations in a fraction of a millisecond
    (``n = p q`` with odd ``p``, ``q`` > 1, ``e d = 1`` modulo lcm(p-1, q-1),
    the CRT exponents and coefficient) and then signs and verifies a probe: a key
    with a composite factor fails that self-test, whose signature is never shown.

    :param key: a key loaded with ``unsafe_skip_rsa_key_validation=True``.
    :raises KeyLoadError: the key is inconsistent.
    """
    numbers = key.private_numbers()
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    p, q, d = numbers.p, numbers.q, numbers.d
    consistent = (
        1 < p < n
        and 1 < q < n
        and p != q
        and p % 2 == 1
        and q % 2 == 1
        and p * q == n
        and e >= 3
        and e % 2 == 1
        and 0 < d < n
        and (e * d) % math.lcm(p - 1, q - 1) == 1
        and numbers.dmp1 == d % (p - 1)
        and numbers.dmq1 == d % (q - 1)
        and (numbers.iqmp * q) % p == 1
    )
    if not consistent:
        raise KeyLoadError("corrupt RSA private key: inconsistent components")
    probe = b"TrinhKy RSA key self-test"
    try:
        signature = key.sign(probe, padding.PKCS1v15(), hashes.SHA256())
        key.public_key().verify(signature, probe, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise KeyLoadError("corrupt RSA private key: the self-test signature is wrong") from exc


def _check_envelope(key_pem: bytes) -> None:
    """:raises KeyLoadError: ``key_pem`` is not a well-formed PKCS#8 encrypted key."""
    try:
        _type, _headers, der = asn1_pem.unarmor(key_pem)
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        info["encryption_algorithm"].native  # noqa: B018 - parses the parameters
        if not info["encrypted_data"].native:
            raise ValueError("empty encrypted data")
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyLoadError(f"unreadable private key: {exc}") from exc


def decrypt_private_key(
    key_pem: bytes, passphrase: bytes, *, fast_rsa_check: bool = False
) -> PrivateKeyTypes:
    """Decrypt a PKCS#8 PEM private key.

    :param key_pem: the (encrypted) PEM private key.
    :param passphrase: the passphrase; ignored if the key is not encrypted.
    :param fast_rsa_check: check an RSA key with :func:`check_rsa_key` instead of
        OpenSSL's slower ``RSA_check_key`` (used per signing request).
    :returns: the loaded ``cryptography`` private key.
    :raises WrongPassphraseError: the passphrase does not decrypt the key.
    :raises KeyLoadError: the key is unreadable or corrupt.
    """
    encrypted = b"ENCRYPTED PRIVATE KEY" in key_pem[:100]
    digest = hashlib.sha256(key_pem).digest()
    known_good = fast_rsa_check and digest in _CHECKED
    if encrypted and not known_good:
        _check_envelope(key_pem)
    try:
        key = serialization.load_pem_private_key(
            key_pem,
            password=passphrase if encrypted else None,
            unsafe_skip_rsa_key_validation=fast_rsa_check,
        )
    except ValueError as exc:
        if encrypted:
            # The envelope is sound, so what failed is the decryption: usually a bad
            # padding ("password"), but about one wrong passphrase in 256 decrypts to
            # bytes with valid padding that then fail to parse as a key.
            raise WrongPassphraseError("passphrase does not decrypt the private key") from exc
        raise KeyLoadError(f"unreadable private key: {exc}") from exc
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"unreadable private key: {exc}") from exc
    if fast_rsa_check and not known_good:
        if isinstance(key, rsa.RSAPrivateKey):
            check_rsa_key(key)
        with _CHECKED_LOCK:
            _CHECKED[digest] = None
            while len(_CHECKED) > _CHECKED_MAX:
                _CHECKED.pop(next(iter(_CHECKED)))
    return key


_CHECKED: dict[bytes, None] = {}
"""SHA-256 of the encrypted keys this process has decrypted and checked (envelope and
:func:`check_rsa_key`): the same bytes decrypt to the same key, so a signer's later
requests only decrypt (which still proves the passphrase); a wrong passphrase that
happened to decrypt to a parseable key would still fail the match with the certificate
(:func:`load_signer`)."""
_CHECKED_LOCK = threading.Lock()
_CHECKED_MAX = 4096


def _load_asn1_cert(data: bytes) -> asn1_x509.Certificate:
    """Parse a PEM or DER certificate into an asn1crypto certificate."""
    try:
        der = asn1_pem.unarmor(data)[2] if asn1_pem.detect(data) else data
        cert = asn1_x509.Certificate.load(der)
        cert.native  # noqa: B018 - forces a full parse so garbage fails here
    except Exception as exc:  # asn1crypto raises many unrelated types on garbage
        raise KeyLoadError(f"unreadable certificate: {exc}") from exc
    return cert


def _public_der(key: PrivateKeyTypes | x509.Certificate) -> bytes:
    """DER SubjectPublicKeyInfo of a private key or a certificate."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class LoadedKeySigner(Signer):
    """pyHanko signer holding an already-decrypted ``cryptography`` private key.

    Stock ``SimpleSigner`` re-parses the DER key on every raw signature; this
    signer parses it once in :func:`load_signer`. PAdES signatures are assembled
    from DER pieces encoded once per digest algorithm (:mod:`signing.cms_fast`)
    instead of pyHanko's asn1crypto tree; anything else goes through pyHanko.
    """

    def __init__(
        self,
        *,
        signing_cert: asn1_x509.Certificate,
        private_key: SigningKey,
        cert_registry: SimpleCertificateStore,
        prefer_pss: bool = False,
        templates: dict[tuple[str, bool], CmsTemplate] | None = None,
    ) -> None:
        """Create the signer; prefer :func:`load_signer`.

        :param signing_cert: the signer's certificate.
        :param private_key: the matching private key, already loaded.
        :param cert_registry: other certificates to embed (the chain).
        :param prefer_pss: use RSASSA-PSS instead of PKCS#1 v1.5 for RSA keys.
        :param templates: CMS pieces already encoded for this certificate and
            chain, shared between signers (filled on first use).
        """
        super().__init__(
            prefer_pss=prefer_pss,
            embed_roots=True,
            signing_cert=signing_cert,
            cert_registry=cert_registry,
        )
        self.private_key = private_key
        """The loaded private key."""
        self._templates = {} if templates is None else templates

    def _template(self, digest_algorithm: str) -> CmsTemplate:
        """The cached DER pieces for ``digest_algorithm``, built on first use."""
        key = (digest_algorithm, self.prefer_pss)
        template = self._templates.get(key)
        if template is None:
            signing_cert = self.signing_cert
            assert signing_cert is not None  # noqa: S101 - set in __init__
            template = build_template(
                signing_cert,
                list(self.cert_registry),
                digest_algorithm,
                self.get_signature_mechanism_for_digest(digest_algorithm),
            )
            self._templates[key] = template
        return template

    def _fast_path(
        self,
        digest_algorithm: str,
        use_pades: bool,
        signed_attr_settings: PdfCMSSignedAttributes | None,
        is_pdf_sig: bool,
        encap_content_info: Any,
    ) -> bool:
        """Whether the signature is a plain PAdES one that :mod:`signing.cms_fast` builds."""
        return (
            use_pades
            and is_pdf_sig
            and encap_content_info is None
            and digest_algorithm != "shake256"
            and (signed_attr_settings is None or signed_attr_settings.cades_signed_attrs is None)
            and self.signed_attr_prov_spec is None
            and self.unsigned_attr_prov_spec is None
            and not self.attribute_certs
        )

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: TimeStamper | None = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        """Produce a detached CMS signature of ``data_digest`` (see pyHanko's ``Signer``).

        :param data_digest: digest of the signed content (the PDF byte ranges).
        :param digest_algorithm: digest algorithm name, e.g. ``'sha256'``.
        :param dry_run: passed on to the timestamper; the signature is always real.
        :param use_pades: respect PAdES requirements (no signing-time attribute).
        :param timestamper: adds a signature timestamp token when given.
        :param signed_attr_settings: extra signed attributes; CAdES attributes
            (commitment type, signer attributes...) go through pyHanko.
        :param is_pdf_sig: whether the signature goes into a PDF.
        :param encap_content_info: internal pyHanko API (embedded content).
        :returns: the ``ContentInfo``, parsed lazily from its DER.
        """
        digest_algorithm = digest_algorithm.lower()
        if not self._fast_path(
            digest_algorithm, use_pades, signed_attr_settings, is_pdf_sig, encap_content_info
        ):
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        self._check_digest_algorithm(digest_algorithm)
        template = self._template(digest_algorithm)
        signed_attributes = template.signed_attributes(data_digest)
        signature = await self.async_sign_raw(signed_attributes, digest_algorithm, dry_run)
        unsigned_der = None
        if timestamper is not None:
            unsigned = await self.unsigned_attrs(
                digest_algorithm,
                signature,
                signed_attrs=cms.CMSAttributes.load(signed_attributes),
                timestamper=timestamper,
                dry_run=dry_run,
            )
            if unsigned is not None:
                unsigned_der = unsigned.dump()
        der = template.content_info(signed_attributes, signature, unsigned_der)
        return cms.ContentInfo.load(der)

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Compute the raw signature over ``data``.

        :param data: the data to sign (the DER of the signed attributes).
        :param digest_algorithm: digest algorithm name, e.g. ``'sha256'``.
        :param dry_run: ignored; the signature is always real.
        :returns: the raw signature bytes.
        :raises SignatureFailedError: the mechanism is not supported for this key.
        """
        mechanism_spec = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            mechanism = mechanism_spec.signature_algo
        except ValueError:
            mechanism = mechanism_spec["algorithm"].native
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            if mechanism == "rsassa_pkcs1v15":
                return key.sign(
                    data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm)
                )
            if mechanism == "rsassa_pss":
                pss, hash_algo = process_pss_params(mechanism_spec["parameters"])
                return key.sign(data, pss, hash_algo)
        elif isinstance(key, ec.EllipticCurvePrivateKey) and mechanism == "ecdsa":
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        elif isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            return key.sign(data)
        raise SignatureFailedError(f"unsupported signature mechanism {mechanism!r} for this key")


@dataclass(frozen=True)
class _Certificates:
    """A signer's parsed certificates, shared by the signers loaded for them."""

    signing_cert: asn1_x509.Certificate
    public_key_der: bytes
    registry: SimpleCertificateStore
    templates: dict[tuple[str, bool], CmsTemplate] = field(default_factory=dict)


@lru_cache(maxsize=32)
def _certificates(cert_pem: bytes, chain_pems: tuple[bytes, ...]) -> _Certificates:
    """Parse a certificate and its chain once per process (a signer is loaded per request)."""
    signing_cert = _load_asn1_cert(cert_pem)
    try:
        crypto_cert = x509.load_der_x509_certificate(signing_cert.dump())
        public_key_der = _public_der(crypto_cert)
    except ValueError as exc:
        raise KeyLoadError(f"unreadable certificate: {exc}") from exc
    chain = [_load_asn1_cert(c) for c in chain_pems]
    registry = SimpleCertificateStore.from_certs(chain)  # type: ignore[no-untyped-call]
    return _Certificates(signing_cert, public_key_der, registry)


def load_signer(
    cert_pem: bytes,
    encrypted_key_pem: bytes,
    passphrase: str,
    chain_pems: Sequence[bytes],
) -> LoadedKeySigner:
    """Decrypt a signing key once and wrap it, with its certificates, as a pyHanko signer.

    :param cert_pem: the signer's certificate (PEM or DER).
    :param encrypted_key_pem: the PKCS#8 PEM private key, encrypted with ``passphrase``.
    :param passphrase: the holder's passphrase.
    :param chain_pems: the issuing chain (intermediates and root) to embed.
    :returns: a signer usable with :func:`signing.pades.sign_pdf_file`.
    :raises WrongPassphraseError: the passphrase does not decrypt the key.
    :raises KeyLoadError: the key or a certificate is unreadable, the key type is
        unsupported, or the key does not match the certificate.
    """
    key = decrypt_private_key(encrypted_key_pem, passphrase.encode("utf-8"), fast_rsa_check=True)
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise KeyLoadError(f"unsupported key type {type(key).__name__}")
    certs = _certificates(bytes(cert_pem), tuple(bytes(c) for c in chain_pems))
    if certs.public_key_der != _public_der(key):
        raise KeyLoadError("the private key does not match the certificate")
    return LoadedKeySigner(
        signing_cert=certs.signing_cert,
        private_key=key,
        cert_registry=certs.registry,
        templates=certs.templates,
    )
