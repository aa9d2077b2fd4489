"""``signing.speedups``: each replacement gives what the library's own code gives."""

from __future__ import annotations

import io
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from signing import speedups


def outcome(reader: Any, data: bytes) -> tuple[Any, ...]:
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except PdfStreamError as exc:
        return ("error", str(exc))
    return (
        type(value).__name__,
        bytes(value) if isinstance(value, bytes) else value,
        stream.tell(),
    )


@pytest.mark.parametrize(
    "data",
    [
        b"<41 42\n43>rest",  # whitespace
        b"<414>x",  # odd number of digits
        b"<>y",  # empty
        b"<4 1%c>om\n42>z",  # a comment, with a '>' in it: pyHanko's reader decides
        b"<41 zz>",  # not hex
        b"<4142",  # truncated
        b"<\x0041>q",  # NUL is PDF whitespace
        b"<FEFF00e1>",  # a UTF-16 text string
        b"<" + b"a0" * 70_000 + b">tail",  # longer than one chunk
    ],
)
def test_hex_strings_read_as_pyhanko_reads_them(data: bytes) -> None:
    assert generic.read_hex_string_from_stream is speedups.read_hex_string
    assert outcome(speedups.read_hex_string, data) == outcome(speedups._pyhanko_reader, data)


@pytest.mark.parametrize(
    "value", ["  Đảng ủy  Khối ", "TrinhKy\u00adRoot", "A\tB\nC", "", "ﬁ ligature"]
)
def test_names_are_prepared_as_asn1crypto_prepares_them(value: str) -> None:
    assert speedups.prepare_string(None, value) == speedups._asn1crypto_prep(None, value)
    a = asn1_x509.Name.build({"common_name": value or "x", "country_name": "VN"})
    b = asn1_x509.Name.build({"common_name": (value or "x").upper(), "country_name": "VN"})
    assert (a == b) == (
        speedups._asn1crypto_prep(None, value or "x")
        == speedups._asn1crypto_prep(None, (value or "x").upper())
    )


def test_integrity_is_computed_again_only_for_other_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, bool]] = []

    def counted(self: Any, diff_policy: Any = None, skip_diff: bool = False) -> None:
        calls.append((diff_policy, skip_diff))
        if diff_policy == "boom":
            raise ValueError("hybrid xref")

    monkeypatch.setattr(speedups, "_pyhanko_integrity", counted)

    class Sig:
        pass

    sig: Any = Sig()
    speedups.compute_integrity_info_once(sig)
    speedups.compute_integrity_info_once(sig, None, False)
    assert len(calls) == 1  # the same (default) policy: not repeated
    speedups.compute_integrity_info_once(sig, None, True)
    speedups.compute_integrity_info_once(sig, None, False)
    assert len(calls) == 3  # other arguments: pyHanko's code again
    with pytest.raises(ValueError):
        speedups.compute_integrity_info_once(sig, "boom")
    with pytest.raises(ValueError):  # a failure is never remembered
        speedups.compute_integrity_info_once(sig, "boom")
    speedups.compute_integrity_info_once(sig, None, False)
    assert len(calls) == 6


def _decoded(decode: Any, raw: bytes) -> tuple[Any, ...]:
    try:
        value = decode(raw)
    except generic.PdfReadError as exc:
        return ("error", str(exc))
    return (type(value).__name__, str(value))


def _written(write: Any, name: str) -> tuple[Any, ...]:
    stream = io.BytesIO()
    try:
        write(generic.NameObject(name), stream)
    except generic.PdfWriteError as exc:
        return ("error", str(exc))
    return ("ok", stream.getvalue())


@pytest.mark.parametrize(
    "raw",
    [
        b"Type",
        b"Sig",
        b"ETSI.CAdES.detached",
        b"",
        b"A#20B",  # an escape
        b"A#2",  # an unterminated escape
        b"A#zz",  # not hex
        b"\xc4\x90\xe1\xba\xa3ng",  # UTF-8 bytes: must be escaped, pyHanko refuses
        b"A B",  # whitespace
        b"Caf#C3#A9",  # escaped UTF-8
        b"~!$&'*+,-.:;=?@^_`|",  # every punctuation mark that is a regular character
    ],
)
def test_names_read_as_pyhanko_reads_them(raw: bytes) -> None:
    assert generic._decode_name is speedups.decode_name
    assert _decoded(speedups.decode_name, raw) == _decoded(speedups._pyhanko_decode_name, raw)


@pytest.mark.parametrize(
    "name", ["/Type", "/ETSI.CAdES.detached", "/", "/A B", "/A#B", "/Café", "NoSlash", "/x(y)"]
)
def test_names_written_as_pyhanko_writes_them(name: str) -> None:
    assert _written(speedups.write_name, name) == _written(speedups._pyhanko_write_name, name)
