"""Signing layer: keys on PKCS#11 tokens and HSMs (VGCA / Viettel-CA USB tokens, SoftHSM2),
exposed as pyHanko signers (``pyhanko.sign.pkcs11``, python-pkcs11).

Tokens in the field carry labels with Vietnamese names (``"TRẦN NGỌC TÚ's Viettel-CA SHA2
Certificate"``), cut at 32 bytes for token labels, sometimes in another Unicode form:
labels are matched after NFC normalisation, case folding and whitespace collapsing, then
by unique prefix, then by unique substring; when nothing matches, the error lists what
the token does hold.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.sign.signers import Signer

from signing.errors import KeyLoadError
from signing.validate import _load_certs


class Pkcs11SelectionError(KeyLoadError):
    """No (or more than one) token, key or certificate matches; the message says what exists."""


class Pkcs11ModuleError(KeyLoadError):
    """The PKCS#11 library cannot be loaded or cannot list its slots."""


class Pkcs11LoginError(KeyLoadError):
    """The token refused the PIN (wrong, locked) or could not be opened."""


@dataclass(frozen=True)
class Pkcs11Config:
    """Where a key lives on a PKCS#11 token."""

    module: str
    """Path of the PKCS#11 library, e.g. ``/usr/lib/softhsm/libsofthsm2.so``."""
    token_label: str
    """Label of the token (matched robustly)."""
    key_label: str
    """Label of the private key or of its certificate (matched robustly)."""
    pin: str | None = field(repr=False)
    """User PIN; None for tokens that authenticate on a protected path (PIN pad).
    Never shown in ``repr`` (settings are sometimes printed)."""
    chain_pems: tuple[bytes, ...] = ()
    """The issuing chain to embed (intermediates and root)."""


SETTINGS_KEYS = (
    "SEAL_PKCS11_MODULE",
    "SEAL_PKCS11_TOKEN_LABEL",
    "SEAL_PKCS11_KEY_LABEL",
    "SEAL_PKCS11_PIN",
    "SEAL_PKCS11_PIN_FILE",
)
"""The settings naming the organisation's seal key on a token (``SEAL_PKCS11_TOKEN`` and
``SEAL_PKCS11_KEY`` are accepted as older spellings of the two labels)."""


def seal_config(config: Mapping[str, Any], chain_pems: Sequence[bytes] = ()) -> Pkcs11Config | None:
    """The seal's token from settings (``SEAL_PKCS11_MODULE``, ``_TOKEN_LABEL``,
    ``_KEY_LABEL``, and ``_PIN`` or ``_PIN_FILE``).

    :param config: the application's configuration mapping.
    :param chain_pems: the seal certificate's issuing chain.
    :returns: the configuration, or None when ``SEAL_PKCS11_MODULE`` is unset (the seal
        key is then the encrypted key stored by the server).
    :raises KeyLoadError: the module is set but a label is missing, both a PIN and a PIN
        file are given, or the PIN file cannot be read.
    """
    module = config.get("SEAL_PKCS11_MODULE")
    if not module:
        return None
    token = config.get("SEAL_PKCS11_TOKEN_LABEL") or config.get("SEAL_PKCS11_TOKEN")
    key = config.get("SEAL_PKCS11_KEY_LABEL") or config.get("SEAL_PKCS11_KEY")
    if not token or not key:
        raise KeyLoadError(
            "SEAL_PKCS11_MODULE is set: SEAL_PKCS11_TOKEN_LABEL and SEAL_PKCS11_KEY_LABEL too"
        )
    pin, pin_file = config.get("SEAL_PKCS11_PIN"), config.get("SEAL_PKCS11_PIN_FILE")
    if pin is not None and pin_file:
        raise KeyLoadError("give SEAL_PKCS11_PIN or SEAL_PKCS11_PIN_FILE, not both")
    if pin_file:
        try:
            pin = Path(str(pin_file)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise KeyLoadError(f"cannot read SEAL_PKCS11_PIN_FILE: {exc.strerror}") from exc
    return Pkcs11Config(
        str(module), str(token), str(key), None if pin is None else str(pin), tuple(chain_pems)
    )


def normalise_label(label: str) -> str:
    """:returns: the label as compared: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", label).casefold().split())


def pick_label(wanted: str, labels: Sequence[str], what: str) -> str:
    """Choose one of ``labels`` for ``wanted``: exact (normalised), else a unique prefix
    either way (token labels are cut at 32 bytes), else a unique substring.

    :param wanted: the configured label.
    :param labels: the labels present.
    :param what: what is being chosen, for the message (e.g. ``'token'``).
    :returns: the matching label as present.
    :raises Pkcs11SelectionError: nothing or several match; lists what is present.
    """
    target = normalise_label(wanted)
    present = list(dict.fromkeys(lbl for lbl in labels if normalise_label(lbl)))
    exact = [lbl for lbl in present if normalise_label(lbl) == target]
    if exact:
        return exact[0]
    prefix = [
        lbl
        for lbl in present
        if target.startswith(normalise_label(lbl)) or normalise_label(lbl).startswith(target)
    ]
    inside = [lbl for lbl in present if target in normalise_label(lbl)]
    for found in (prefix, inside):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise Pkcs11SelectionError(f"several {what}s match {wanted!r}: {found}")
    raise Pkcs11SelectionError(
        f"no {what} matches {wanted!r}; present: {present if present else 'none'}"
    )


def _label(obj: Any) -> str:
    from pkcs11 import Attribute

    try:
        return str(obj[Attribute.LABEL])
    except Exception:  # objects without a label, or a label that is not UTF-8
        return ""


def _open_session(config: Pkcs11Config, *, rw: bool = False) -> Any:
    from pyhanko.sign.pkcs11 import p11_lib

    try:
        lib = p11_lib(config.module)
        tokens = {}
        for slot in lib.get_slots(token_present=True):
            token = slot.get_token()
            tokens[str(token.label).strip()] = token
    except Exception as exc:  # library missing, not a PKCS#11 module, enumeration error
        raise Pkcs11ModuleError(f"cannot load the PKCS#11 module {config.module!r}: {exc}") from exc
    token = tokens[pick_label(config.token_label, list(tokens), "token")]
    try:
        return token.open(rw=rw, user_pin=config.pin)
    except Exception as exc:  # PinIncorrect, PinLocked, TokenNotPresent...
        raise Pkcs11LoginError(
            f"cannot log in to token {token.label!r}: {type(exc).__name__}"
        ) from exc


def _select(session: Any, key_label: str) -> tuple[bytes, bytes, bool]:
    """(key id, certificate id, whether the key is EC) for a key or certificate label."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    keys = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
    certs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))
    described = [f"key {_label(k)!r}" for k in keys] + [f"certificate {_label(c)!r}" for c in certs]
    try:
        chosen = pick_label(
            key_label, [_label(k) for k in keys] + [_label(c) for c in certs], "key"
        )
    except Pkcs11SelectionError as exc:
        raise Pkcs11SelectionError(
            f"{exc}; the token holds: {', '.join(described) or 'nothing visible'}"
        ) from exc
    key = next((k for k in keys if _label(k) == chosen), None)
    cert = next((c for c in certs if _label(c) == chosen), None)
    if key is None and cert is not None:
        key = next((k for k in keys if k[Attribute.ID] == cert[Attribute.ID]), None)
    if key is not None and cert is None:
        cert = next((c for c in certs if c[Attribute.ID] == key[Attribute.ID]), None)
    if key is None or cert is None:
        raise Pkcs11SelectionError(
            f"{chosen!r} found, but no private key and certificate with the same CKA_ID; "
            f"the token holds: {', '.join(described)}"
        )
    is_ec = key[Attribute.KEY_TYPE] == KeyType.EC
    return bytes(key[Attribute.ID]), bytes(cert[Attribute.ID]), is_ec


@contextmanager
def pkcs11_signer(config: Pkcs11Config) -> Iterator[Signer]:
    """Open the token, select the key and its certificate, and yield a pyHanko signer;
    the token session is closed afterwards.

    RSA keys sign with ``CKM_SHA256_RSA_PKCS``; EC keys with raw ``CKM_ECDSA`` over a
    digest computed here (SoftHSM2 2.6 lacks the combined mechanism).

    :param config: module, labels, PIN and chain.
    :returns: a context manager yielding the signer.
    :raises Pkcs11SelectionError: the token, key or certificate cannot be found (the
        message lists what is present).
    :raises KeyLoadError: the module cannot be loaded or the PIN is refused.
    """
    from pyhanko.sign.pkcs11 import PKCS11Signer

    session = _open_session(config)
    try:
        key_id, cert_id, is_ec = _select(session, config.key_label)
        chain: list[asn1_x509.Certificate] = _load_certs(config.chain_pems)
        try:
            signer = PKCS11Signer(
                session,
                key_id=key_id,
                cert_id=cert_id,
                ca_chain=chain,
                use_raw_mechanism=is_ec,
                embed_roots=True,
            )
            signer.signing_cert  # noqa: B018 - pulls the certificate now, so errors surface here
        except Exception as exc:  # PKCS11Error and friends
            raise KeyLoadError(f"cannot use the key on the token: {exc}") from exc
        yield signer
    finally:
        session.close()


@dataclass(frozen=True)
class TokenKey:
    """A private key found on a token, with what is needed to certify it."""

    key_id: bytes
    """``CKA_ID`` of the key (its certificate must carry the same)."""
    label: str
    """Label of the key as present on the token."""
    public_key_der: bytes
    """SubjectPublicKeyInfo (DER) of the key pair."""
    certificate_der: bytes | None
    """The certificate with the same ``CKA_ID`` on the token, if any."""


def _public_key_der(session: Any, key: Any) -> bytes:
    """SubjectPublicKeyInfo of a private key: from its public key object (same ``CKA_ID``),
    else, for RSA, from the modulus and exponent the private key object exposes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pkcs11 import Attribute, KeyType, ObjectClass

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    publics = list(
        session.get_objects(
            {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key[Attribute.ID]}
        )
    )
    key_type = key[Attribute.KEY_TYPE]
    if publics and key_type == KeyType.EC:
        from pkcs11.util.ec import encode_ec_public_key

        return bytes(encode_ec_public_key(publics[0]))
    if key_type == KeyType.RSA:
        source = publics[0] if publics else key
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(source[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(source[Attribute.MODULUS], "big"),
        )
        return numbers.public_key().public_bytes(der, spki)
    raise Pkcs11SelectionError(
        f"key {_label(key)!r}: no public key object on the token to certify (type {key_type})"
    )


def find_token_key(config: Pkcs11Config) -> TokenKey:
    """Find the private key named by ``config.key_label`` and read its public key.

    :param config: module, labels and PIN.
    :returns: the key's id, label, public key and certificate (if the token has one).
    :raises Pkcs11SelectionError: no single private key matches (lists what exists).
    :raises KeyLoadError: the module cannot be loaded or the PIN is refused.
    """
    from pkcs11 import Attribute, ObjectClass

    session = _open_session(config)
    try:
        keys = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        chosen = pick_label(config.key_label, [_label(k) for k in keys], "private key")
        key = next(k for k in keys if _label(k) == chosen)
        key_id = bytes(key[Attribute.ID])
        certs = list(
            session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id})
        )
        return TokenKey(
            key_id=key_id,
            label=chosen,
            public_key_der=_public_key_der(session, key),
            certificate_der=bytes(certs[0][Attribute.VALUE]) if certs else None,
        )
    finally:
        session.close()


def store_certificate(config: Pkcs11Config, key: TokenKey, cert_der: bytes) -> None:
    """Write ``cert_der`` to the token beside ``key`` (same ``CKA_ID`` and label),
    replacing a certificate already stored there.

    :param config: module, labels and PIN (the session is opened read-write).
    :param key: the key found by :func:`find_token_key`.
    :param cert_der: the X.509 certificate (DER) of that key.
    :raises KeyLoadError: the module cannot be loaded, the PIN is refused, or the token
        does not accept the object.
    """
    from cryptography import x509
    from pkcs11 import Attribute, CertificateType, ObjectClass

    subject = x509.load_der_x509_certificate(cert_der).subject.public_bytes()
    session = _open_session(config, rw=True)
    try:
        try:
            for old in session.get_objects(
                {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key.key_id}
            ):
                old.destroy()
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: key.label,
                    Attribute.ID: key.key_id,
                    Attribute.SUBJECT: subject,
                    Attribute.VALUE: cert_der,
                }
            )
        except Exception as exc:  # PKCS11Error and friends
            raise KeyLoadError(f"cannot store the certificate on the token: {exc}") from exc
    finally:
        session.close()
