"""workflow: webhook secrets and adapter tokens encrypted at rest (Fernet: AES-128-CBC +
HMAC-SHA256, from ``cryptography``), with a key derived from the application's secret key
by HKDF. Losing or changing the secret key makes the stored secrets unreadable: the
endpoints must then be registered again (delivery says so, it never sends unsigned)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"trinhky webhook secrets v1"


class VaultError(Exception):
    """A stored secret cannot be decrypted (the application's secret key changed)."""


class Vault:
    """Encrypts and decrypts the secrets of webhook endpoints."""

    def __init__(self, app_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
            app_secret.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secret: str) -> str:
        """:returns: ``secret`` encrypted (text, for a column)."""
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """:returns: the secret. :raises VaultError: it cannot be decrypted."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise VaultError("webhook secret unreadable: was the secret key changed?") from exc

    def seal_options(self, options: Mapping[str, str]) -> str | None:
        """:returns: an adapter's options encrypted (``None`` when there are none)."""
        return self.seal(json.dumps(dict(options), ensure_ascii=False)) if options else None

    def open_options(self, sealed: str | None) -> dict[str, str]:
        """:returns: the options (``{}`` when none)."""
        return {} if not sealed else dict(json.loads(self.open(sealed)))
