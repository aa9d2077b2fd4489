"""Signing layer: signatures made off the server (USB tokens, remote signing services).

pyHanko's interrupted signing, with only bytes kept between the steps:

1. :func:`prepare_external` writes the PDF with the reserved signature slot and returns
   the document digest, the reserved region and the DER signed attributes (the bytes
   the key holder signs);
2. :func:`embed_raw_signature` (a raw PKCS#1 v1.5 / ECDSA signature over those bytes)
   or :func:`embed_cms` (a whole CMS SignedData) fills the slot, adding a signature
   timestamp when asked;
3. :func:`extend_long_term` appends the DSS (B-LT) and a document timestamp (B-LTA).

:func:`check_appended` checks the "plugin" pattern: a signed PDF made elsewhere must be
the exact prepared bytes plus one incremental update holding one signature covering them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import extract_certificate_info
from pyhanko.sign.signers import ExternalSigner, PdfSignatureMetadata, PdfSigner, PdfTimeStamper
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.certutil import signer_certificate
from signing.cms_fast import CmsTemplate, build_template, tlv
from signing.cms_splice import SpliceError, add_unsigned_attribute, signature_value
from signing.errors import PdfInputError, SigningError
from signing.keys import _load_asn1_cert
from signing.pades import (
    RESERVED_B_B,
    RESERVED_WITH_TIMESTAMP,
    _prepare,
    long_term_data,
    pdf_input_error,
)
from signing.profiles import SigningProfile, TrustConfig
from signing.revocation import RevocationSource, revinfo_policy
from signing.stamps import TEXT_PARAM, stamp_style, stamp_text
from signing.validate import _load_certs

_SET = 0x31

DIGEST_ALGORITHM = "sha256"
"""The only digest algorithm offered to external signers."""


class ExternalSignatureError(SigningError):
    """An external signature (or signed PDF) cannot be accepted.

    ``str(e)`` is the Vietnamese message for the person who signed; :attr:`code` is
    stable, for programs (e.g. ``'bad_signature'``, ``'not_appended'``).
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


@dataclass(frozen=True)
class PreparedExternal:
    """What has to be kept between the steps, as plain bytes and numbers."""

    document_digest: bytes
    """SHA-256 of the document over the ``/ByteRange``."""
    reserved_start: int
    """Start of the reserved ``/Contents`` region in the prepared file."""
    reserved_end: int
    """End of the reserved region."""
    signed_attrs: bytes
    """DER of the CMS signed attributes: the data the key holder signs."""
    signature_mechanism: str
    """Signature algorithm, as asn1crypto names it: ``'sha256_rsa'`` or ``'sha256_ecdsa'``."""


def parse_certificate(data: bytes) -> x509.Certificate:
    """Parse a PEM or DER certificate.

    :param data: the certificate.
    :returns: the ``cryptography`` certificate.
    :raises ExternalSignatureError: unreadable (code ``'bad_certificate'``).
    """
    return _parse_certificate(bytes(data))


@functools.lru_cache(maxsize=256)
def _parse_certificate(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(_load_asn1_cert(data).dump())
    except Exception as exc:  # KeyLoadError, ValueError...
        raise ExternalSignatureError(
            "bad_certificate", "Không đọc được chứng thư số (cần PEM hoặc DER)."
        ) from exc


def check_certificate(
    cert: x509.Certificate, trust: TrustConfig, chain_pems: Sequence[bytes] = ()
) -> None:
    """Check that a token certificate can make PAdES signatures we accept: in its
    validity period, with the non-repudiation key usage, chaining to a trusted root
    (revocation is checked when signatures are validated).

    :param cert: the certificate.
    :param trust: the trust roots and intermediates of the server.
    :param chain_pems: further intermediates, e.g. from the token.
    :raises ExternalSignatureError: code ``'untrusted'`` or ``'bad_key_usage'``.
    """
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        commitment = usage.content_commitment
    except x509.ExtensionNotFound:
        commitment = False
    if not commitment:
        raise ExternalSignatureError(
            "bad_key_usage",
            "Chứng thư số không có mục đích chống chối bỏ (nonRepudiation) nên không dùng "
            "được để ký văn bản.",
        )
    context = ValidationContext(
        trust_roots=_load_certs(trust.trust_roots_pem),
        other_certs=_load_certs(trust.other_certs_pem) + _load_certs(tuple(chain_pems)),
        allow_fetching=False,
        revinfo_policy=revinfo_policy(False),
    )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    validator = CertificateValidator(asn1_cert, validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage({"non_repudiation"}))  # type: ignore[no-untyped-call]
    except Exception as exc:  # PathBuildingError, InvalidCertificateError, expired...
        raise ExternalSignatureError(
            "untrusted",
            "Chứng thư số không hợp lệ hoặc không chuỗi về gốc tin cậy của hệ thống "
            f"({type(exc).__name__}).",
        ) from exc


def fingerprint(cert: x509.Certificate) -> str:
    """:returns: lowercase hex SHA-256 of the certificate's DER (as in validation reports)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def _external_signer(
    cert: x509.Certificate, chain_pems: Sequence[bytes], signature: bytes | None = None
) -> ExternalSigner:
    if not isinstance(cert.public_key(), rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ExternalSignatureError(
            "unsupported_key", "Chỉ hỗ trợ chứng thư số có khóa RSA hoặc ECDSA."
        )
    asn1_cert = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
        _load_certs(tuple(chain_pems))
    )
    return ExternalSigner(
        signing_cert=asn1_cert,
        cert_registry=registry,
        signature_value=signature if signature is not None else b"",
        embed_roots=True,
    )


@functools.lru_cache(maxsize=64)
def _template(cert_der: bytes, chain_ders: tuple[bytes, ...]) -> CmsTemplate:
    """The DER pieces of this signer's CMS (:mod:`signing.cms_fast`), encoded once per
    certificate and chain: pyHanko's asn1crypto tree re-encodes certificates on every
    signature, which made the external path several times slower than the internal one."""
    cert = x509.load_der_x509_certificate(cert_der)
    signer = _external_signer(cert, chain_ders)
    chain = list(signer.cert_registry) if signer.cert_registry is not None else []
    assert signer.signing_cert is not None  # noqa: S101 - set by _external_signer
    return build_template(
        signer.signing_cert,
        [c for c in chain if c.dump() != cert_der],
        DIGEST_ALGORITHM,
        signer.get_signature_mechanism_for_digest(DIGEST_ALGORITHM),
    )


@functools.lru_cache(maxsize=64)
def _prepare_signer(cert_der: bytes, chain_pems: tuple[bytes, ...]) -> ExternalSigner:
    """The signer object pyHanko needs to lay out the signature (no signature value),
    built once per certificate and chain (its certificate registry is costly)."""
    return _external_signer(x509.load_der_x509_certificate(cert_der), chain_pems)


def _template_for(cert: x509.Certificate, chain_pems: Sequence[bytes]) -> CmsTemplate:
    ders = tuple(c.dump() for c in _load_certs(tuple(chain_pems)))
    return _template(cert.public_bytes(serialization.Encoding.DER), ders)


def _mechanism_name(signer: ExternalSigner) -> str:
    spec = signer.get_signature_mechanism_for_digest(DIGEST_ALGORITHM)
    return str(spec["algorithm"].native)


def prepare_external(
    in_path: Path,
    out_path: Path,
    cert_pem: bytes,
    chain_pems: Sequence[bytes],
    profile: SigningProfile,
) -> PreparedExternal:
    """Write ``in_path`` with a new signature field and a reserved slot to ``out_path``.

    The slot is large enough for a signature timestamp token when the profile's level
    is above B-B (the server adds the token when the signature comes back).

    :param in_path: the PDF to sign.
    :param out_path: where to write the prepared PDF (opened ``w+b``).
    :param cert_pem: the signer's certificate, from the token.
    :param chain_pems: its issuing chain, embedded in the CMS.
    :param profile: field name, reason, location, stamp and level.
    :returns: the digest, the reserved region and the DER signed attributes.
    :raises PdfInputError: the input cannot be signed.
    :raises ExternalSignatureError: the certificate is unreadable or of an unsupported type.
    """
    cert = parse_certificate(cert_pem)
    signer = _prepare_signer(cert.public_bytes(serialization.Encoding.DER), tuple(chain_pems))
    meta = PdfSignatureMetadata(
        field_name=profile.field_name,
        md_algorithm=DIGEST_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        reason=profile.reason,
        location=profile.location,
    )
    reserved = profile.bytes_reserved or (
        RESERVED_B_B if profile.level == "B-B" else RESERVED_WITH_TIMESTAMP
    )
    text_params = None
    style = None
    if profile.stamp is not None:
        style = stamp_style()
        text_params = {TEXT_PARAM: stamp_text(profile.stamp)}
    with in_path.open("rb") as inf:
        try:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            field_spec = _prepare(writer, profile, allow_empty_password=False)
        except PdfInputError:
            raise
        except Exception as exc:  # the PDF stack raises many unrelated types on bad input
            raise pdf_input_error("damaged", f"{type(exc).__name__}: {exc}") from exc
        pdf_signer = PdfSigner(meta, signer=signer, stamp_style=style, new_field_spec=field_spec)
        with out_path.open("w+b") as outf:
            digest, _tbs, _out = asyncio.run(
                pdf_signer.async_digest_doc_for_signing(
                    writer,
                    bytes_reserved=reserved,
                    appearance_text_params=text_params,
                    output=outf,
                )
            )
    # The same DER pyHanko's signed_attrs(..., use_pades=True) gives (tests compare).
    attrs = _template_for(cert, chain_pems).signed_attributes(digest.document_digest)
    return PreparedExternal(
        document_digest=digest.document_digest,
        reserved_start=digest.reserved_region_start,
        reserved_end=digest.reserved_region_end,
        signed_attrs=attrs,
        signature_mechanism=_mechanism_name(signer),
    )


def _normalise_ecdsa(signature: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """DER ECDSA signature; tokens often return the raw ``r || s`` concatenation."""
    size = (key.curve.key_size + 7) // 8
    if len(signature) == 2 * size and signature[:1] != b"\x30":
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        return encode_dss_signature(r, s)
    return signature


def check_raw_signature(cert: x509.Certificate, data: bytes, signature: bytes) -> bytes:
    """Verify a raw signature over ``data`` with the certificate's public key.

    :param cert: the signer certificate.
    :param data: the DER signed attributes.
    :param signature: PKCS#1 v1.5 (RSA) or ECDSA (DER, or raw ``r || s``) signature.
    :returns: the signature as it goes into the CMS (ECDSA normalised to DER).
    :raises ExternalSignatureError: it does not verify (code ``'bad_signature'``).
    """
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return signature
        if isinstance(key, ec.EllipticCurvePublicKey):
            signature = _normalise_ecdsa(signature, key)
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return signature
    except (InvalidSignature, ValueError) as exc:
        raise ExternalSignatureError(
            "bad_signature",
            "Chữ ký gửi lên không khớp với dữ liệu cần ký hoặc với chứng thư số đã khai báo.",
        ) from exc
    raise ExternalSignatureError("unsupported_key", "Chỉ hỗ trợ khóa RSA hoặc ECDSA.")


def _fill(path: Path, prepared: PreparedExternal, der: bytes) -> None:
    digest = PreparedByteRangeDigest(
        document_digest=prepared.document_digest,
        reserved_region_start=prepared.reserved_start,
        reserved_region_end=prepared.reserved_end,
    )
    # A fresh lazy parse: dumping it gives back ``der`` without re-encoding anything.
    content = cms.ContentInfo.load(der)
    size_hex = 2 * len(der)
    if size_hex > prepared.reserved_end - prepared.reserved_start - 2:
        raise ExternalSignatureError(
            "too_large", "Dữ liệu chữ ký quá lớn so với chỗ dành sẵn trong tệp PDF."
        )
    with path.open("r+b") as fh:
        asyncio.run(PdfTBSDocument.async_finish_signing(fh, digest, content))


def embed_raw_signature(
    path: Path,
    prepared: PreparedExternal,
    signature: bytes,
    cert_pem: bytes,
    chain_pems: Sequence[bytes],
    timestamper: TimeStamper | None = None,
) -> None:
    """Build the CMS around a raw signature and write it into the prepared file in place.

    :param path: a copy of the prepared PDF (modified in place).
    :param prepared: what :func:`prepare_external` returned.
    :param signature: the raw signature over :attr:`PreparedExternal.signed_attrs`.
    :param cert_pem: the signer certificate announced at preparation.
    :param chain_pems: its chain, embedded in the CMS.
    :param timestamper: adds a signature timestamp (B-T) when given.
    :raises ExternalSignatureError: the signature does not verify or does not fit.
    """
    cert = parse_certificate(cert_pem)
    signature = check_raw_signature(cert, prepared.signed_attrs, signature)
    template = _template_for(cert, chain_pems)
    unsigned = None
    if timestamper is not None:
        unsigned = tlv(_SET, _timestamp_attribute(signature, timestamper))
    der = template.content_info(prepared.signed_attrs, signature, unsigned)
    _fill(path, prepared, der)


@dataclass(frozen=True)
class CmsFacts:
    """What a CMS SignedData received from a client says about itself."""

    signer_fingerprint: str
    """SHA-256 of the signer certificate found in the CMS (empty if absent)."""
    has_timestamp: bool
    """Whether it carries a signature timestamp token."""


def _load_cms(data: bytes) -> tuple[cms.ContentInfo, cms.SignerInfo, asn1_x509.Certificate]:
    try:
        content = cms.ContentInfo.load(data, strict=True)
        if content["content_type"].native != "signed_data":
            raise ValueError("not SignedData")
        signed: cms.SignedData = content["content"]
        (info,) = signed["signer_infos"]
        cert = signer_certificate(signed, info)
        if cert is None:
            raise ValueError("the signer certificate is not in the CMS")
        # A full parse of the signer info, and of the certificate by OpenSSL, so garbage
        # fails here (asn1crypto's full parse of every certificate costs tens of ms).
        info.native  # noqa: B018
        x509.load_der_x509_certificate(cert.dump())
    except Exception as exc:  # asn1crypto raises many unrelated types on garbage
        raise ExternalSignatureError(
            "bad_cms", "Không đọc được khối CMS SignedData (cần DER, một người ký, có chứng thư)."
        ) from exc
    return content, info, cert


def inspect_cms(data: bytes) -> CmsFacts:
    """Read the signer certificate and the timestamp presence of a client's CMS.

    :param data: DER CMS ``ContentInfo`` holding a ``SignedData``.
    :returns: the facts.
    :raises ExternalSignatureError: not a readable single-signer SignedData.
    """
    _content, info, cert = _load_cms(data)
    return CmsFacts(hashlib.sha256(cert.dump()).hexdigest(), _has_timestamp(info))


def _has_timestamp(info: cms.SignerInfo) -> bool:
    """Whether a signer info carries a signature timestamp token."""
    attrs = info["unsigned_attrs"]
    return bool(attrs) and any(a["type"].native == "signature_time_stamp_token" for a in attrs)


def _timestamp_attribute(signature: bytes, timestamper: TimeStamper) -> bytes:
    """DER ``Attribute``: a signature timestamp token over ``signature``."""
    token = asyncio.run(
        timestamper.async_timestamp(hashlib.sha256(signature).digest(), DIGEST_ALGORITHM)
    )
    attr = cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})
    return bytes(attr.dump())


def _with_timestamp(data: bytes, timestamper: TimeStamper) -> bytes:
    """The client's CMS with a signature timestamp token added to its unsigned
    attributes, spliced into the DER without re-encoding anything else
    (:mod:`signing.cms_splice`); asn1crypto re-encodes only for BER input."""
    try:
        signature = signature_value(data)
    except SpliceError:
        signature = cms.ContentInfo.load(data)["content"]["signer_infos"][0]["signature"].native
    attr_der = _timestamp_attribute(signature, timestamper)
    try:
        return add_unsigned_attribute(data, attr_der)
    except SpliceError:  # BER from the client: asn1crypto re-encodes (fresh, lazy parse)
        content = cms.ContentInfo.load(data)
        info = content["content"]["signer_infos"][0]
        existing = list(info["unsigned_attrs"]) if info["unsigned_attrs"] else []
        attr = cms.CMSAttribute.load(attr_der)
        info["unsigned_attrs"] = cms.CMSAttributes([*existing, attr])
        return bytes(content.dump())


def embed_cms(
    path: Path,
    prepared: PreparedExternal,
    data: bytes,
    timestamper: TimeStamper | None = None,
) -> None:
    """Write a client's CMS into the prepared file in place, adding a signature timestamp
    when ``timestamper`` is given and the CMS has none.

    :param path: a copy of the prepared PDF (modified in place).
    :param prepared: what :func:`prepare_external` returned.
    :param data: DER CMS ``ContentInfo`` (``SignedData`` over the document digest).
    :param timestamper: the TSA for a missing signature timestamp.
    :raises ExternalSignatureError: unreadable, over another digest, or too large.
    """
    _content, info, _cert = _load_cms(data)
    digests = [
        a["values"][0].native
        for a in (info["signed_attrs"] or [])
        if a["type"].native == "message_digest"
    ]
    if digests != [prepared.document_digest]:
        raise ExternalSignatureError(
            "wrong_digest", "Khối CMS không ký đúng bản tóm lược (digest) của văn bản đã chuẩn bị."
        )
    if timestamper is not None and not _has_timestamp(info):  # the CMS is read once
        data = _with_timestamp(data, timestamper)
    _fill(path, prepared, data)


@dataclass(frozen=True)
class AppendCheck:
    """The new signature found by :func:`check_appended`."""

    field_name: str
    """Its field name."""
    index: int
    """Its position among the file's signatures (file order)."""


def check_appended(base_path: Path, candidate_path: Path) -> AppendCheck:
    """Check that a signed PDF is ``base_path`` byte for byte plus one incremental update
    holding exactly one new signature, which covers the whole file.

    Says nothing of the signature's validity (see :func:`signing.validate.validate_pdf`).

    :param base_path: the exact PDF handed out for signing.
    :param candidate_path: the PDF received back.
    :returns: the new signature's field name and position.
    :raises ExternalSignatureError: with code ``'not_appended'``, ``'no_new_signature'``,
        ``'several_updates'`` or ``'not_covering'``.
    """
    base_size = base_path.stat().st_size
    with base_path.open("rb") as base, candidate_path.open("rb") as cand:
        same = True
        remaining = base_size
        while remaining and same:
            chunk = base.read(min(remaining, 1 << 20))
            same = cand.read(len(chunk)) == chunk
            remaining -= len(chunk)
        longer = bool(cand.read(1))
    if not same or not longer:
        raise ExternalSignatureError(
            "not_appended",
            "Tệp gửi lên không phải là bản văn bản đã chuẩn bị được ký thêm (nội dung gốc đã "
            "bị thay đổi hoặc tệp không có phần ký bổ sung).",
        )
    try:
        with base_path.open("rb") as fh:
            base_reader = PdfFileReader(fh, strict=False)
            base_sigs = len(base_reader.embedded_signatures)
            base_revisions = base_reader.xrefs.total_revisions
        with candidate_path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            sigs = list(reader.embedded_signatures)
            revisions = reader.xrefs.total_revisions
            size = candidate_path.stat().st_size
            new = sigs[base_sigs:] if len(sigs) == base_sigs + 1 else []
            covers = False
            if new:
                byte_range = [int(v) for v in new[0].sig_object["/ByteRange"]]
                # The new /Contents hole lies in the appended update: [0, hole) is the
                # whole base file, and the second range runs to the end of the file.
                covers = (
                    len(byte_range) == 4
                    and byte_range[0] == 0
                    and byte_range[1] >= base_size
                    and byte_range[2] + byte_range[3] == size
                )
                name = str(new[0].field_name)
    except ExternalSignatureError:
        raise
    except Exception as exc:  # the PDF stack raises many unrelated types on bad input
        raise ExternalSignatureError("damaged", "Không đọc được tệp PDF đã ký gửi lên.") from exc
    if not new:
        raise ExternalSignatureError(
            "no_new_signature",
            f"Tệp đã ký phải có đúng một chữ ký mới; tệp gửi lên có {len(sigs) - base_sigs}.",
        )
    if revisions != base_revisions + 1:
        raise ExternalSignatureError(
            "several_updates",
            "Tệp đã ký phải chỉ thêm đúng một lần cập nhật (chữ ký) vào văn bản đã chuẩn bị.",
        )
    if not covers:
        raise ExternalSignatureError(
            "not_covering", "Chữ ký mới không bao phủ toàn bộ tệp văn bản đã chuẩn bị."
        )
    return AppendCheck(field_name=name, index=base_sigs)


def _long_term_context(
    signed_data: cms.SignedData,
    trust: TrustConfig,
    revocation: RevocationSource,
    timestamper: TimeStamper | None,
) -> ValidationContext:
    """The context holding the chain and fresh revocation data of the signature."""
    roots = _load_certs(trust.trust_roots_pem)
    others = _load_certs(trust.other_certs_pem)
    needing: list[asn1_x509.Certificate] = [extract_certificate_info(signed_data).signer_cert]
    needing.extend(others)
    needing.extend(c.chosen for c in signed_data["certificates"] if c.name == "certificate")
    tsa_cert = getattr(timestamper, "tsa_cert", None)
    if isinstance(tsa_cert, asn1_x509.Certificate):
        needing.append(tsa_cert)
    unique = {c.dump(): c for c in needing}
    data = revocation.revocation_data([x509.load_der_x509_certificate(der) for der in unique])
    return ValidationContext(
        trust_roots=roots,
        other_certs=others + [asn1_x509.Certificate.load(d) for d in data.certs],
        ocsps=list(data.ocsp_responses),
        crls=list(data.crls),
        allow_fetching=False,
        revinfo_policy=revinfo_policy(True),
    )


async def _validation_paths(
    signed_data: cms.SignedData, signer_info: cms.SignerInfo, context: ValidationContext
) -> list[Any]:
    """The chains of the signer and of its timestamp tokens (what pyHanko's
    ``collect_validation_info`` does, from the CMS instead of a parsed PDF field)."""
    paths = []
    for data in (signed_data, *extract_tst_data_iter(signer_info, signed=False)):
        info = extract_certificate_info(data)
        validator = CertificateValidator(
            info.signer_cert, intermediate_certs=info.other_certs, validation_context=context
        )
        paths.append(await validator.async_validate_usage(key_usage=set()))  # type: ignore[no-untyped-call]
    return paths


def _known_dss(
    signed_data: cms.SignedData,
    signer_info: cms.SignerInfo,
    trust: TrustConfig,
    revocation: RevocationSource,
) -> dict[str, Any]:
    """The DSS content of a signature (``DocumentSecurityStore.add_dss`` arguments): the
    paths of its signer and of its timestamp tokens' signers (and of the OCSP responder)
    to the roots, found among the trust list's and the CMS's certificates, with fresh
    revocation data. A signer the data revokes is refused."""
    signers = [
        extract_certificate_info(d)
        for d in (signed_data, *extract_tst_data_iter(signer_info, signed=False))
    ]
    pool = [*_load_certs(trust.trust_roots_pem), *_load_certs(trust.other_certs_pem)]
    for info in signers:
        pool.extend(info.other_certs)
    certs, data = long_term_data([i.signer_cert for i in signers], pool, revocation)
    return {
        "certs": certs,
        "ocsps": [asn1_ocsp.OCSPResponse.load(der) for der in data.ocsp_responses],
        "crls": [asn1_crl.CertificateList.load(der) for der in data.crls],
    }


def _read_contents(fh: Any, region: tuple[int, int]) -> bytes:
    """The ``/Contents`` bytes (padding included) of a signature whose hex string spans
    ``region`` (``<`` to ``>``), read directly: pyHanko's tokenizer takes ~100 ms for
    a 32 KiB hex string."""
    start, end = region
    fh.seek(start)
    raw = fh.read(end - start)
    if raw[:1] != b"<" or raw[-1:] != b">":
        raise SigningError("the reserved region is not a hex string")
    return bytes.fromhex(raw[1:-1].decode("ascii"))


def extend_long_term(
    in_path: Path,
    out_path: Path,
    level: str,
    trust: TrustConfig,
    revocation: RevocationSource,
    timestamper: TimeStamper | None,
    contents_region: tuple[int, int] | None = None,
) -> None:
    """Append the DSS for the last signature (B-LT) and, for B-LTA, a document timestamp.

    :param in_path: the signed PDF.
    :param out_path: where to write the extended PDF (opened ``w+b``).
    :param level: ``'B-LT'`` or ``'B-LTA'``.
    :param trust: trust roots and intermediates (validation paths for the DSS).
    :param revocation: fresh OCSP/CRL data, produced in process.
    :param timestamper: the TSA; required for B-LTA.
    :param contents_region: where the last signature's ``/Contents`` lies
        (:attr:`PreparedExternal.reserved_start`, ``reserved_end``), when known: the CMS
        is then read from there instead of parsing the signature field.
    :raises SigningError: unknown level, missing timestamper, or the data cannot be gathered.
    """
    if level not in ("B-LT", "B-LTA"):
        raise SigningError(f"extend_long_term needs B-LT or B-LTA, not {level!r}")
    if level == "B-LTA" and timestamper is None:
        raise SigningError("PAdES B-LTA needs a timestamper")
    with in_path.open("rb") as inf, out_path.open("w+b") as outf:
        try:
            if contents_region is not None:
                contents = _read_contents(inf, contents_region)
                signed_data = cms.ContentInfo.load(contents)["content"]
                signer_info = signed_data["signer_infos"][0]
            else:
                sig = PdfFileReader(inf, strict=False).embedded_signatures[-1]
                contents = sig.pkcs7_content
                signed_data, signer_info = sig.signed_data, sig.signer_info
            if level == "B-LT":
                # The certificates and revocation data are known: no path validation
                # (as signing.pades does for the server's own B-LT signatures).
                dss = _known_dss(signed_data, signer_info, trust, revocation)
            else:
                context = _long_term_context(signed_data, trust, revocation, timestamper)
                paths = asyncio.run(_validation_paths(signed_data, signer_info, context))
                dss = {"paths": paths, "validation_context": context}
            inf.seek(0)
            shutil.copyfileobj(inf, outf)
            outf.seek(0)
            DocumentSecurityStore.add_dss(
                outf, contents.hex().encode("ascii"), force_write=True, strict=False, **dss
            )
            if level == "B-LTA":
                assert timestamper is not None  # noqa: S101 - checked above
                outf.seek(0)
                writer = IncrementalPdfFileWriter(outf, strict=False)
                asyncio.run(
                    PdfTimeStamper(timestamper).async_timestamp_pdf(
                        writer, DIGEST_ALGORITHM, context, in_place=True
                    )
                )
        except SigningError:
            raise
        except Exception as exc:  # revocation callbacks, PDF stack...
            raise SigningError(
                f"cannot add long-term validation data: {type(exc).__name__}: {exc}"
            ) from exc


__all__ = [
    "DIGEST_ALGORITHM",
    "AppendCheck",
    "CmsFacts",
    "ExternalSignatureError",
    "PreparedExternal",
    "check_appended",
    "check_certificate",
    "check_raw_signature",
    "embed_cms",
    "embed_raw_signature",
    "extend_long_term",
    "fingerprint",
    "inspect_cms",
    "parse_certificate",
    "prepare_external",
]
