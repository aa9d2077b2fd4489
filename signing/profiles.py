"""Signing layer: frozen configuration objects for signing and validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from signing.stamps import StampContent, StampPlacement


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
    bytes_reserved: int = 16384
    """Space reserved for the CMS object (avoids pyHanko's dry-run signature)."""


@dataclass(frozen=True)
class TrustConfig:
    """Which certificates validation trusts."""

    trust_roots_pem: tuple[bytes, ...]
    """Trusted root certificates (PEM or DER)."""
    other_certs_pem: tuple[bytes, ...] = ()
    """Untrusted helper certificates such as intermediates (PEM or DER)."""
