"""Signing layer: four exactly equivalent speed-ups of the libraries signing and
validation run on.

The first three were measured with cProfile on the archival renewal of a B-LTA
document (4 signatures: two long-term validations, a renewal, a check of the new
timestamp), where they were most of the time, the fourth on the signing request; all
four are installed on import (``signing.validate``, the entry point of every validation,
imports this module; the signing request imports it too) and the pinned versions are
checked.

1. PDF hex strings in pyHanko.

pyHanko 0.38 reads a hex string (``<...>``) one byte per ``stream.read(1)`` call with
whitespace and comment handling for each. Signature dictionaries carry their CMS object
as a hex string of 16 to 64 KiB, so reading a signed PDF's signatures is mostly this
loop: 9.1 s of job time per renewed document (cProfile, under load 10) came down to
1.2 s with this reader alone.

:func:`read_hex_string` reads up to the closing ``>`` in large chunks; when everything in
between is hex digits and PDF whitespace (what pyHanko and every writer we know write),
it returns what pyHanko's reader would return, with the stream at the same position.
Anything else (a comment, a stray character, a truncated file) is handed to pyHanko's own
reader from the same position, so errors and odd files behave exactly as before.

2. Name comparison in asn1crypto. Certificate names are compared (RFC 5280 §7.1) after
RFC 4518 string preparation, which asn1crypto caches per parsed name, not per string:
every certificate parsed again (each validation parses the file's certificates anew)
prepares its names again, measured at 23% of a renewal after (1). The preparation is a
pure function of the string, so :func:`prepare_string` keeps its results for strings
(a bounded LRU cache); anything else goes to asn1crypto's own code.

3. Integrity of embedded signatures in pyHanko. AdES long-term validation of one
signature builds the POE index from every signature of the file, computing each one's
integrity (digest, coverage, difference analysis of every later revision) anew, so a
file with n signatures has its difference analyses run n times per signature validated.
The result is a function of the reader's (immutable) file and of the policy; pyHanko
already keeps the signature objects per reader. :func:`compute_integrity_info_once`
skips a repeated call with the same policy object and ``skip_diff`` on the same object
(any other call, or one after a failure, runs pyHanko's code).

4. PDF names in pyHanko. pyHanko 0.38 decodes and writes a name (``/Type``, ``/Sig``...)
one byte at a time, checking each for escapes; a signing request reads and writes a few
hundred of them (the input, the signature revision, the DSS revision, the check of the
result): about 1 ms of its CPU (cProfile of ``python -m bench.profile_sign``). A name made
only of regular characters without ``#`` (every name pyHanko itself writes, and nearly
every name in the wild) decodes to ``/`` plus its ASCII text and writes as its ASCII
bytes, which :func:`decode_name` and :func:`write_name` do at once; any other name goes
to pyHanko's own code.
"""

from __future__ import annotations

import binascii
import functools
import logging
import os
from typing import IO, Any

from asn1crypto import __version__ as _asn1crypto_version
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_DELIMITERS, PDF_WHITESPACE
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.version import __version__ as _pyhanko_version

log = logging.getLogger(__name__)

_HEX_DIGITS = b"0123456789abcdefABCDEF"
_CHUNK = 1 << 16
_pyhanko_reader = generic.read_hex_string_from_stream


def read_hex_string(stream: IO[bytes]) -> Any:
    """Read the hex string at the stream's position (on its ``<``) as pyHanko does.

    :returns: pyHanko's string object (``ByteStringObject`` or ``TextStringObject``).
    """
    start = stream.tell()
    stream.read(1)  # the '<'
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:  # truncated: pyHanko's reader raises its own error
            stream.seek(start, os.SEEK_SET)
            return _pyhanko_reader(stream)
        end = chunk.find(b">")
        if end >= 0:
            parts.append(chunk[:end])
            break
        parts.append(chunk)
    body = b"".join(parts)
    digits = body.translate(None, PDF_WHITESPACE)
    if digits.translate(None, _HEX_DIGITS):  # a comment or a stray byte: pyHanko decides
        stream.seek(start, os.SEEK_SET)
        return _pyhanko_reader(stream)
    stream.seek(start + 1 + len(body) + 1, os.SEEK_SET)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


if _pyhanko_version != "0.38.0":  # requirements.txt pins the measured version
    log.warning(
        "pyHanko %s: the hex string reader and the name speed-ups were measured on 0.38.0; "
        "re-run tests/signing/test_speedups.py",
        _pyhanko_version,
    )
generic.read_hex_string_from_stream = read_hex_string

_asn1crypto_prep = asn1_x509.NameTypeAndValue._ldap_string_prep


@functools.lru_cache(maxsize=4096)
def _prepared(string: str) -> str:
    return str(_asn1crypto_prep(None, string))


def prepare_string(self: Any, string: Any) -> Any:
    """asn1crypto's RFC 4518 string preparation, its results kept per string."""
    if type(string) is str:
        return _prepared(string)
    return _asn1crypto_prep(self, string)


if _asn1crypto_version != "1.5.1":  # requirements.txt pins the measured version
    log.warning(
        "asn1crypto %s: the name preparation cache was measured on 1.5.1; "
        "re-run tests/signing/test_speedups.py",
        _asn1crypto_version,
    )
asn1_x509.NameTypeAndValue._ldap_string_prep = prepare_string

_pyhanko_integrity = EmbeddedPdfSignature.compute_integrity_info


def compute_integrity_info_once(
    self: EmbeddedPdfSignature, diff_policy: Any = None, skip_diff: bool = False
) -> None:
    """pyHanko's ``compute_integrity_info``, not repeated with the same arguments."""
    policy = diff_policy or DEFAULT_DIFF_POLICY
    done = getattr(self, "_trinhky_integrity", None)
    if done is not None and done[0] is policy and done[1] == bool(skip_diff):
        return
    self._trinhky_integrity = None  # type: ignore[attr-defined]
    _pyhanko_integrity(self, diff_policy, skip_diff)  # type: ignore[no-untyped-call]
    self._trinhky_integrity = (policy, bool(skip_diff))  # type: ignore[attr-defined]


EmbeddedPdfSignature.compute_integrity_info = compute_integrity_info_once  # type: ignore[method-assign]

_PLAIN_NAME = bytes(
    b for b in range(0x21, 0x7F) if b not in PDF_DELIMITERS and b not in PDF_WHITESPACE + b"#"
)
"""The bytes a name holds as themselves (regular printable characters, no ``#``)."""
_pyhanko_decode_name = generic._decode_name
_pyhanko_write_name = generic.NameObject.write_to_stream


def decode_name(name_bytes: bytes) -> Any:
    """pyHanko's decoding of a name's bytes (after the ``/``), at once for plain names."""
    if not name_bytes.translate(None, _PLAIN_NAME):
        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _pyhanko_decode_name(name_bytes)


def write_name(
    self: generic.NameObject, stream: IO[bytes], handler: Any = None, container_ref: Any = None
) -> None:
    """pyHanko's writing of a name, at once for plain names."""
    if self.startswith("/") and self.isascii():
        raw = self.encode("ascii")
        if not raw[1:].translate(None, _PLAIN_NAME):
            stream.write(raw)
            return
    _pyhanko_write_name(self, stream, handler, container_ref)


generic._decode_name = decode_name
generic.NameObject.write_to_stream = write_name  # type: ignore[method-assign]
