"""Signing layer: add an unsigned attribute (the signature timestamp token) to a CMS
``SignedData`` by splicing DER bytes, without re-encoding the structure.

Only the SignerInfo's ``unsignedAttrs`` changes; every other byte (certificates, signed
attributes, the signature) is copied as received, and the length headers of the five
enclosing values (SignerInfo, the SignerInfos SET, SignedData, the ``[0]`` wrapper,
ContentInfo) are rewritten. Definite-length DER only: BER (indefinite lengths) is
refused, and the caller may fall back to asn1crypto.
"""

from __future__ import annotations

from dataclasses import dataclass

from signing.cms_fast import tlv

_SEQUENCE = 0x30
_SET = 0x31
_EXPLICIT_0 = 0xA0
_OCTET_STRING = 0x04
_UNSIGNED_ATTRS = 0xA1  # [1] IMPLICIT SET OF Attribute


class SpliceError(ValueError):
    """The bytes are not the definite-length DER of a one-signer SignedData."""


@dataclass(frozen=True)
class _Tlv:
    tag: int
    start: int
    """Offset of the tag byte."""
    content: int
    """Offset of the first content byte."""
    end: int
    """Offset just past the value."""


def _read(data: bytes, at: int, limit: int) -> _Tlv:
    if at + 2 > limit:
        raise SpliceError("truncated DER")
    tag = data[at]
    if tag & 0x1F == 0x1F:
        raise SpliceError("multi-byte tags are not expected here")
    first = data[at + 1]
    pos = at + 2
    if first < 0x80:
        size = first
    elif first == 0x80:
        raise SpliceError("indefinite length (BER), not DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > limit:
            raise SpliceError("bad length")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + size
    if end > limit:
        raise SpliceError("value runs past its container")
    return _Tlv(tag, at, pos, end)


def _children(data: bytes, parent: _Tlv) -> list[_Tlv]:
    items = []
    at = parent.content
    while at < parent.end:
        item = _read(data, at, parent.end)
        items.append(item)
        at = item.end
    return items


def _expect(item: _Tlv, tag: int, what: str) -> _Tlv:
    if item.tag != tag:
        raise SpliceError(f"{what}: tag {item.tag:#x}, expected {tag:#x}")
    return item


def _locate(der: bytes) -> tuple[_Tlv, _Tlv, _Tlv, _Tlv, _Tlv, list[_Tlv]]:
    """ContentInfo, [0], SignedData, SignerInfos, SignerInfo and the SignerInfo fields."""
    info = _expect(_read(der, 0, len(der)), _SEQUENCE, "ContentInfo")
    if info.end != len(der):
        raise SpliceError("trailing bytes after ContentInfo")
    info_fields = _children(der, info)
    if len(info_fields) != 2:
        raise SpliceError("ContentInfo must have two fields")
    wrapper = _expect(info_fields[1], _EXPLICIT_0, "content [0]")
    (signed,) = _children(der, wrapper)
    _expect(signed, _SEQUENCE, "SignedData")
    signer_infos = _expect(_children(der, signed)[-1], _SET, "signerInfos")
    infos = _children(der, signer_infos)
    if len(infos) != 1:
        raise SpliceError("exactly one SignerInfo expected")
    signer = _expect(infos[0], _SEQUENCE, "SignerInfo")
    return info, wrapper, signed, signer_infos, signer, _children(der, signer)


def _signature_field(fields: list[_Tlv]) -> int:
    """Index of the ``signature`` OCTET STRING: after the version, sid, digest
    algorithm, optional signed attributes and signature algorithm."""
    index = 5 if len(fields) > 3 and fields[3].tag == 0xA0 else 4
    if len(fields) <= index or fields[index].tag != _OCTET_STRING:
        raise SpliceError("SignerInfo has no signature value where expected")
    return index


def signature_value(der: bytes) -> bytes:
    """:returns: the SignerInfo's signature value (what a signature timestamp covers).

    :raises SpliceError: not a one-signer definite-length SignedData.
    """
    fields = _locate(der)[5]
    field = fields[_signature_field(fields)]
    return der[field.content : field.end]


def add_unsigned_attribute(der: bytes, attribute_der: bytes) -> bytes:
    """Append one attribute to the SignerInfo's unsigned attributes.

    :param der: DER ``ContentInfo`` holding a one-signer ``SignedData``.
    :param attribute_der: DER of the ``Attribute`` (e.g. a signature-time-stamp-token).
    :returns: the new DER; every byte outside the changed headers is the input's.
    :raises SpliceError: not a one-signer definite-length SignedData.
    """
    info, wrapper, signed, signer_infos, signer, fields = _locate(der)
    index = _signature_field(fields)
    tail = fields[index + 1 :]
    if len(tail) > 1 or (tail and tail[0].tag != _UNSIGNED_ATTRS):
        raise SpliceError("unexpected fields after the signature")
    existing = der[tail[0].content : tail[0].end] if tail else b""
    new_signer = tlv(
        _SEQUENCE,
        der[signer.content : fields[index].end] + tlv(_UNSIGNED_ATTRS, existing + attribute_der),
    )
    new_set = tlv(_SET, new_signer)
    new_signed = tlv(_SEQUENCE, der[signed.content : signer_infos.start] + new_set)
    new_wrapper = tlv(_EXPLICIT_0, der[wrapper.content : signed.start] + new_signed)
    return tlv(_SEQUENCE, der[info.content : wrapper.start] + new_wrapper)
