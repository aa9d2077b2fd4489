"""Signing layer: typed errors raised by the signing package."""

from __future__ import annotations


class SigningError(Exception):
    """Base class of every error raised by :mod:`signing`."""


class KeyLoadError(SigningError):
    """Key material is unreadable, corrupt or does not match its certificate."""


class WrongPassphraseError(KeyLoadError):
    """The passphrase does not decrypt the key."""


class PdfInputError(SigningError):
    """The PDF cannot be accepted or signed.

    ``str(e)`` is the Vietnamese message shown to users; :attr:`code` is stable
    and meant for programs (e.g. ``'not_pdf'``, ``'empty'``, ``'truncated'``,
    ``'encrypted'``, ``'damaged'``, ``'no_pages'``, ``'certified_no_changes'``).
    """

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        """Create the error.

        :param code: stable machine-readable reason.
        :param message_vi: message for users, in Vietnamese.
        :param message_en: the same message in English, for logs.
        """
        super().__init__(message_vi)
        self.code = code
        """Stable machine-readable reason."""
        self.message_vi = message_vi
        """Message for users, in Vietnamese."""
        self.message_en = message_en
        """The same message in English."""


class PageGeometryError(SigningError):
    """The pages of a PDF cannot be read (damaged, or encrypted with a password)."""


class SignatureFailedError(SigningError):
    """Signing itself failed for an unexpected reason."""


class CertificateUnusableError(SigningError):
    """The signer certificate cannot be used to sign now (expired, not yet valid, revoked).

    ``str(e)`` is the Vietnamese message shown to users; :attr:`code` is stable:
    ``'expired'``, ``'not_yet_valid'``, ``'revoked'`` or ``'unreadable'``.
    """

    def __init__(self, code: str, message_vi: str) -> None:
        """Create the error.

        :param code: stable machine-readable reason.
        :param message_vi: message for users, in Vietnamese.
        """
        super().__init__(message_vi)
        self.code = code
        """Stable machine-readable reason."""
        self.message_vi = message_vi
        """Message for users, in Vietnamese."""
