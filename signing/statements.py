"""signing: detached CMS signatures over short statements (signed tree heads of the
transparency log), made and checked with pyHanko. No Flask, no database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asn1crypto import cms, x509
from pyhanko.sign.signers import Signer
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext


def sign_statement(signer: Signer, data: bytes) -> tuple[bytes, str]:
    """Sign ``data`` (SHA-256, CMS ``SignedData``, detached) with ``signer``.

    :returns: the DER of the ``ContentInfo`` and the signer certificate's SHA-256
        fingerprint (hex). Call it from code with no running event loop.
    """
    signed = asyncio.run(signer.async_sign_general_data(data, "sha256", detached=True))
    cert = signer.signing_cert
    return bytes(signed.dump()), cert.sha256.hex() if cert is not None else ""


@dataclass(frozen=True)
class StatementCheck:
    """What checking a statement's signature found (a failure is a result)."""

    intact: bool
    """The signature covers exactly these bytes."""
    valid: bool
    """The signature value verifies with the signer's key."""
    trusted: bool
    """The signer chains to one of the given roots (always ``False`` without roots)."""
    signer: str
    """The signer certificate's subject."""
    fingerprint: str
    """The signer certificate's SHA-256 (hex)."""
    problem: str | None
    """Why it is not intact, valid or trusted (English), if it is not."""


def check_statement(
    signature: bytes,
    data: bytes,
    roots: list[x509.Certificate],
    others: list[x509.Certificate] | None = None,
) -> StatementCheck:
    """Check a detached CMS signature over ``data``; trust against ``roots`` (no
    revocation fetching).

    :returns: a :class:`StatementCheck`.
    """
    try:
        signed = cms.ContentInfo.load(signature)["content"]
        context = ValidationContext(
            trust_roots=roots, other_certs=others or [], allow_fetching=False
        )
        status = asyncio.run(async_validate_detached_cms(data, signed, context))
    except Exception as exc:  # noqa: BLE001 - a broken signature is a result
        return StatementCheck(False, False, False, "", "", f"unreadable: {exc}")
    cert = status.signing_cert
    subject = cert.subject.human_friendly if cert is not None else ""
    fingerprint = cert.sha256.hex() if cert is not None else ""
    problem = None
    if not status.intact:
        problem = "the signature does not cover these bytes"
    elif not status.valid:
        problem = "the signature value does not verify"
    elif not status.trusted:
        problem = f"the signer is not trusted ({status.trust_problem_indic})"
    return StatementCheck(
        bool(status.intact),
        bool(status.valid),
        bool(status.trusted),
        subject,
        fingerprint,
        problem,
    )
