"""Signing layer: a signature added to a PDF that already carries others (countersigning).

The server's own new signature must pass validation strictly; the earlier ones (another
organisation's CA, a self-signed certificate, a broken signature...) are validated and
reported, never a reason to refuse. :func:`split` separates the two in a report of the
signed file; :class:`EarlierSignature` says, per earlier signature, who signed, whether
the chain is trusted (and in which list), whether it was intact, and whether the
incremental update the server appended kept it so (no disallowed change, DocMDP kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from signing.validate import SignatureReport, ValidationReport

_DISALLOWED_CHANGES = ("annotations", "other")


@dataclass(frozen=True)
class EarlierSignature:
    """An earlier signature of a countersigned PDF, as validated after the new one."""

    field_name: str
    """Its field name."""
    signer_name: str
    """CN of its signer certificate."""
    issuer_subject: str
    """Its issuer, RFC 4514."""
    trusted: bool
    """Its chain ends in one of the server's trust lists."""
    trust_list: str
    """Which list ('' when untrusted)."""
    intact: bool
    """Its signed bytes are unchanged and the cryptographic signature is correct."""
    kept_intact: bool
    """The server's incremental update left it as it was: still intact, no disallowed
    change after it, its certification (DocMDP) permissions respected."""
    problems: tuple[str, ...]
    """Vietnamese reasons it does not validate (informative, never blocking)."""

    def to_dict(self) -> dict[str, object]:
        """:returns: JSON-ready data."""
        return {
            "field_name": self.field_name,
            "signer_name": self.signer_name,
            "issuer_subject": self.issuer_subject,
            "trusted": self.trusted,
            "trust_list": self.trust_list,
            "intact": self.intact,
            "kept_intact": self.kept_intact,
            "problems": list(self.problems),
        }


def signature_count(path: Path) -> int:
    """Number of signatures and document timestamps already in a PDF (0 if unreadable).

    :param path: the PDF.
    :returns: the count.
    """
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted:
                reader.decrypt("")
            return len(reader.embedded_signatures)
    except Exception:  # unreadable input: pyHanko's own checks refuse it elsewhere
        return 0


LARGE_DOCUMENT_OBJECTS = 20000
"""Above this many objects, pyHanko's analysis of the revisions after a signature takes
minutes (a 7 MB manual with 79,000 objects: over 120 s)."""


def large_document(path: Path) -> bool:
    """Whether a PDF has more than :data:`LARGE_DOCUMENT_OBJECTS` objects (``/Size``).

    :param path: the PDF.
    :returns: True for a large document (False if unreadable).
    """
    try:
        with path.open("rb") as fh:
            size = PdfFileReader(fh, strict=False).trailer["/Size"]
            return int(size) > LARGE_DOCUMENT_OBJECTS
    except Exception:  # unreadable input: pyHanko's own checks refuse it elsewhere
        return False


def earlier(report: SignatureReport) -> EarlierSignature:
    """:returns: what the signer is told of an earlier signature."""
    intact = report.intact and report.valid
    kept = (
        intact
        and report.modification_level not in _DISALLOWED_CHANGES
        and report.docmdp_ok is not False
    )
    return EarlierSignature(
        field_name=report.field_name,
        signer_name=report.signer_name,
        issuer_subject=report.issuer_subject,
        trusted=report.trusted,
        trust_list=report.trust_list,
        intact=intact,
        kept_intact=kept,
        problems=report.problems,
    )


def split(
    report: ValidationReport, before: int
) -> tuple[tuple[SignatureReport, ...], tuple[EarlierSignature, ...]]:
    """Separate the signatures the server just added from the earlier ones.

    :param report: the validation of the signed file.
    :param before: how many signatures the file carried before signing
        (:func:`signature_count` of the input).
    :returns: ``(new, earlier)``: the new signatures (and document timestamps) in file
        order, and the earlier ones as :class:`EarlierSignature`.
    """
    signatures = report.signatures
    return signatures[before:], tuple(earlier(s) for s in signatures[:before])


def new_ones_valid(report: ValidationReport, before: int) -> bool:
    """Whether the file is readable, gained at least one signature, and every signature
    added since ``before`` validates (bottom line).

    :param report: the validation of the signed file.
    :param before: the signature count of the input.
    :returns: the verdict on the server's own work.
    """
    if report.error is not None:
        return False
    new, _ = split(report, before)
    return bool(new) and all(s.bottom_line for s in new)
