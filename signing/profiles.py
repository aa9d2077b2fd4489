"""Signing layer: frozen configuration objects for signing and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from signing.numberline import Fill
from signing.stamps import StampContent, StampPlacement

PADES_LEVELS: Final = ("B-B", "B-T", "B-LT", "B-LTA")
"""The PAdES baseline levels, lowest first."""


@dataclass(frozen=True)
class SigningProfile:
    """How one signature is made (field, metadata, appearance)."""

    field_name: str
    """Unique signature field name, e.g. ``'Sig-3-nguyenvana'``."""
    reason: str | None = None
    """Reason recorded in the signature dictionary."""
    location: str | None = None
    """Location recorded in the signature dictionary."""
    stamp: StampContent | None = None
    """Visible stamp content; None makes an invisible signature."""
    placement: StampPlacement = field(default_factory=StampPlacement)
    """Where the visible stamp goes."""
    bytes_reserved: int | None = None
    """Space reserved for the CMS object (avoids pyHanko's dry-run signature), in
    hex digits as pyHanko counts it (2 per DER byte); None picks 16384 (8 KiB of
    DER) without a signature timestamp and 32768 (16 KiB) with one."""
    level: str = "B-B"
    """PAdES baseline level: ``'B-B'``, ``'B-T'`` (signature timestamp), ``'B-LT'``
    (plus chain and revocation data in the DSS) or ``'B-LTA'`` (plus a document
    timestamp)."""
    fills: tuple[Fill, ...] = ()
    """Text written at given places of the page instead of a stamp (the number and date
    in the document's own lines, :mod:`signing.numberline`); needs ``placement.box``,
    ``stamp`` is then ignored."""


@dataclass(frozen=True)
class TrustConfig:
    """Which certificates validation trusts."""

    trust_roots_pem: tuple[bytes, ...]
    """Trusted root certificates (PEM or DER)."""
    other_certs_pem: tuple[bytes, ...] = ()
    """Untrusted helper certificates such as intermediates (PEM or DER)."""
    list_names: tuple[tuple[str, str], ...] = ()
    """``(SHA-256 fingerprint of a trusted certificate, name of its trust list)``: what
    validation reports say a chain ended in; a trusted root not listed here is
    :data:`INTERNAL_LIST`."""
    version: int = 0
    """Version of the administrators' trust list these certificates come from
    (monotonic; caches of validation results key on it)."""


INTERNAL_LIST: Final = "TrinhKy"
"""Trust-list name of the server's own root."""
