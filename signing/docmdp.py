"""Signing layer: refuse at upload a certified PDF (DocMDP) that cannot take a new
signature, with the reason, instead of failing at the signing step.

A certification signature with permission 1 ("no changes") forbids any later
signature; with 2 or 3 a later signature may only fill an empty signature field that
existed before certification (a field added afterwards invalidates the certification
under pyHanko's diff policy, see PYHANKO-NOTES), so a certified file without an empty
field cannot be countersigned either.
"""

from __future__ import annotations

from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm, enumerate_sig_fields
from pyhanko.sign.validation import read_certification_data

from signing.errors import PdfInputError
from signing.pades import pdf_input_error


def check_certification(path: Path) -> None:
    """Check that a PDF's certification, if any, allows another signature.

    :param path: a PDF that :func:`signing.pades.inspect_pdf` accepted.
    :raises PdfInputError: ``'certified_no_changes'`` or ``'certified_no_new_fields'``.
    """
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted:
                reader.decrypt("")
            certification = read_certification_data(reader)
            if certification is None:
                return
            if certification.permission == MDPPerm.NO_CHANGES:
                raise pdf_input_error("certified_no_changes")
            empty = [name for name, _, _ in enumerate_sig_fields(reader, filled_status=False)]
    except PdfInputError:
        raise
    except Exception:  # noqa: S110 - an unreadable DocMDP entry is left to signing's checks
        return
    if not empty:
        raise pdf_input_error("certified_no_new_fields", "no empty signature field")
