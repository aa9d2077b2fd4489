"""Signing layer: small certificate and file helpers shared by the embedded PKI modules."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def whole_seconds(moment: datetime | None = None) -> datetime:
    """A timezone-aware UTC datetime without fractional seconds.

    NSS (poppler's ``pdfsig``) rejects OCSP responses with fractional seconds, so
    every time the trust services write is rounded down to the second.

    :param moment: the time; None means now. Naive values are taken as UTC.
    :returns: the time in UTC with ``microsecond == 0``.
    """
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def backdated_now() -> datetime:
    """Current UTC time to the second, backdated a little against clock skew."""
    return whole_seconds() - timedelta(minutes=5)


def common_name(value: str) -> x509.NameAttribute[str]:
    """A CN attribute, shortened by whole words to fit the 64-byte UTF-8 limit."""
    words = value.split()
    while len(" ".join(words).encode("utf-8")) > 64 and len(words) > 1:
        words.pop()
    text = " ".join(words).rstrip(" -")
    return x509.NameAttribute(
        NameOID.COMMON_NAME, text.encode("utf-8")[:64].decode("utf-8", "ignore")
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    """PEM encoding of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def encrypted_key(key: rsa.RSAPrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 PEM of ``key`` encrypted with ``passphrase``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def write_atomically(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a temporary file next to ``path``; returns the temp path."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)  # the umask may have narrowed or widened os.open's mode
    return tmp


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``directory/.lock`` (serialises processes).

    Several server processes may start at once on an existing PKI directory and
    try to create the same missing service certificate; the lock makes one win.
    """
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def signer_certificate(
    signed_data: asn1_cms.SignedData, signer_info: asn1_cms.SignerInfo
) -> asn1_x509.Certificate | None:
    """The certificate of ``signed_data``'s certificates that ``signer_info`` names (by
    issuer and serial number, or by subject key identifier), or None.

    The issuer is compared as bytes first: asn1crypto's Name equality runs LDAP string
    preparation (milliseconds per certificate).
    """
    sid = signer_info["sid"]
    for choice in signed_data["certificates"] or ():
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            issuer = sid.chosen["issuer"]
            if cert.serial_number == sid.chosen["serial_number"].native and (
                cert.issuer.dump() == issuer.dump() or cert.issuer == issuer
            ):
                return cert
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return cert
    return None
