"""Signing layer: check PDF input and apply PAdES signatures with pyHanko, file to file."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asn1crypto import crl, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp as x509_ocsp
from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler
from pyhanko.pdf_utils.crypt.permissions import StandardPermissions
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import read_certification_data
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp.base import BaseStampStyle
from pyhanko_certvalidator import ValidationContext

from signing.active import ActiveItem, find_active_content
from signing.errors import PdfInputError, SignatureFailedError, SigningError
from signing.limits import PdfLimits, check_limits, check_raw
from signing.numberline import FillStampStyle
from signing.pages import page_box
from signing.profiles import PADES_LEVELS, SigningProfile
from signing.revocation import RevocationData, RevocationSource, revinfo_policy
from signing.stamps import (
    TEXT_PARAM,
    StampPlacement,
    appearance_style,
    default_box_for,
    stamp_text,
)

_HEADER_WINDOW = 1024
_TRAILER_WINDOW = 2048

_MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("Tệp tải lên rỗng (0 byte).", "The uploaded file is empty."),
    "not_pdf": (
        "Tệp không phải là PDF (thiếu phần đầu %PDF-).",
        "The file is not a PDF (no %PDF- header).",
    ),
    "truncated": (
        "Tệp PDF bị cắt cụt hoặc tải lên chưa hết. Hãy tải lên lại tệp đầy đủ.",
        "The PDF is truncated or incompletely uploaded.",
    ),
    "damaged": (
        "Tệp PDF bị hỏng, không đọc được cấu trúc. Hãy xuất lại PDF từ phần mềm soạn thảo.",
        "The PDF is damaged; its structure cannot be read.",
    ),
    "encrypted": (
        "Tệp PDF được mã hóa (có mật khẩu). Hãy gỡ mật khẩu rồi tải lên lại.",
        "The PDF is encrypted (password-protected); remove the password and upload again.",
    ),
    "encrypted_certificate": (
        "Tệp PDF được mã hóa cho người nhận bằng chứng thư số; máy chủ không mở được. "
        "Hãy gỡ mã hóa rồi tải lên lại.",
        "The PDF is encrypted to a recipient certificate; the server cannot open it.",
    ),
    "encrypted_no_signing": (
        "Tệp PDF được mã hóa và người tạo tệp không cho phép thêm chữ ký. "
        "Hãy xin tệp không khóa quyền rồi tải lên lại.",
        "The PDF is encrypted with permissions that forbid adding signature fields.",
    ),
    "no_pages": ("Tệp PDF không có trang nào.", "The PDF has no pages."),
    "bad_page": (
        "Trang được chọn để đặt chữ ký không tồn tại trong tệp PDF.",
        "The page chosen for the signature does not exist in the PDF.",
    ),
    "certified_no_changes": (
        "Tệp PDF đã được chứng thực với chế độ không cho phép thay đổi; không thể ký thêm.",
        "The PDF is certified with 'no changes allowed'; it cannot be signed again.",
    ),
    "certified_no_new_fields": (
        "Tệp PDF đã được chứng thực; mọi chữ ký thêm phải ký vào ô chữ ký có sẵn trong tệp, "
        "nhưng tệp không còn ô chữ ký trống nào. Ký thêm sẽ làm mất hiệu lực chứng thực.",
        "The PDF is certified; a new signature field would invalidate the certification "
        "and the file has no empty signature field left.",
    ),
}


def pdf_input_error(code: str, detail: str | None = None) -> PdfInputError:
    """Build a :class:`PdfInputError` with the standard messages for ``code``.

    :param code: one of the stable codes, e.g. ``'damaged'``.
    :param detail: optional technical detail appended to the English message.
    :returns: the error (not raised).
    """
    message_vi, message_en = _MESSAGES[code]
    if detail:
        message_en = f"{message_en} ({detail})"
    return PdfInputError(code, message_vi, message_en)


@dataclass(frozen=True)
class PdfInfo:
    """Facts about an acceptable PDF."""

    pages: int
    """Number of pages."""
    signatures: int
    """Number of embedded signatures, document timestamps included."""
    pdf_version: str
    """PDF version, e.g. ``'1.7'``."""
    encrypted: bool
    """Whether the file is encrypted; only files that open with the empty user
    password and allow signing are accepted, and only with ``allow_empty_password``."""
    active_content: tuple[ActiveItem, ...] = ()
    """JavaScript, XFA, launch actions, embedded files... found (with ``limits`` only)."""


def _check_envelope(fh: IO[bytes], size: int) -> None:
    """Cheap checks on the raw bytes: emptiness, header and end-of-file marker."""
    if size == 0:
        raise pdf_input_error("empty")
    head = fh.read(_HEADER_WINDOW)
    if b"%PDF-" not in head:
        raise pdf_input_error("not_pdf")
    fh.seek(max(0, size - _TRAILER_WINDOW))
    if b"%%EOF" not in fh.read(_TRAILER_WINDOW):
        raise pdf_input_error("truncated", "no %%EOF marker at the end")
    fh.seek(0)


def _open_reader(fh: IO[bytes]) -> PdfFileReader:
    """Parse the cross-reference data; any failure means a damaged file."""
    try:
        return PdfFileReader(fh, strict=False)
    except Exception as exc:  # the PDF stack raises many unrelated types on bad input
        raise pdf_input_error("damaged", f"{type(exc).__name__}: {exc}") from exc


def _find_page(doc: PdfFileReader | IncrementalPdfFileWriter, page_ix: int) -> Any:
    """Reference to page ``page_ix`` (walks the page tree, detecting cycles)."""
    page_ref, _ = doc.find_page_for_modification(page_ix)  # type: ignore[no-untyped-call]
    return page_ref


def _page_count(reader: PdfFileReader) -> int:
    """Number of pages, after checking the first and last page can be reached."""
    count = reader.root["/Pages"]["/Count"]
    if not isinstance(count, int) or count <= 0:
        raise pdf_input_error("no_pages")
    _find_page(reader, 0)
    _find_page(reader, count - 1)
    return count


def _version(reader: PdfFileReader) -> str:
    """The effective PDF version as ``'major.minor'``."""
    version = reader.input_version
    if isinstance(version, tuple) and len(version) == 2:
        return f"{version[0]}.{version[1]}"
    return "unknown"


def _unlock(reader: PdfFileReader, *, for_signing: bool) -> None:
    """Open an encrypted file with the empty user password, as viewers do silently.

    :raises PdfInputError: ``'encrypted_certificate'`` (public-key encryption),
        ``'encrypted'`` (a password is needed) or ``'encrypted_no_signing'`` (the
        permissions forbid creating signature fields: bits 4 and 6 of ``/P``).
    """
    if not isinstance(reader.security_handler, StandardSecurityHandler):
        raise pdf_input_error("encrypted_certificate")
    result = reader.decrypt("")
    if result.status == AuthStatus.FAILED:
        raise pdf_input_error("encrypted", "the empty user password does not open it")
    needed = (
        StandardPermissions.ALLOW_MODIFICATION_GENERIC
        | StandardPermissions.ALLOW_ANNOTS_FORM_FILLING
    )
    flags = result.permission_flags
    if (
        for_signing
        and result.status == AuthStatus.USER
        and (not isinstance(flags, StandardPermissions) or (flags & needed) != needed)
    ):
        raise pdf_input_error("encrypted_no_signing", f"permissions {flags!r}")


def inspect_pdf(
    path: Path, *, allow_empty_password: bool = False, limits: PdfLimits | None = None
) -> PdfInfo:
    """Check that a file is a PDF we can sign, reading it from disk (not into memory).

    :param path: the PDF file.
    :param allow_empty_password: accept encrypted files that open with the empty
        user password and whose permissions allow signing (they are signed encrypted,
        see :func:`sign_pdf_file`); by default every encrypted file is refused.
    :returns: page count, signature count and version.
    :raises PdfInputError: with ``code`` ``'empty'``, ``'not_pdf'``, ``'truncated'``,
        ``'damaged'``, ``'encrypted'``, ``'encrypted_certificate'``,
        ``'encrypted_no_signing'`` or ``'no_pages'``; with ``limits``, also a limit's code
        (:func:`signing.limits.check_limits`), checked before anything else is read.
    :param limits: bound the work (pages, objects, nesting, decompressed size, time)
        and look for active content (:func:`signing.active.find_active_content`).
    """
    try:
        with path.open("rb") as fh:
            _check_envelope(fh, path.stat().st_size)
            if limits is not None:
                check_raw(path, limits)
            reader = _open_reader(fh)
            try:
                encrypted = reader.encrypted
                if encrypted and not allow_empty_password:
                    if not isinstance(reader.security_handler, StandardSecurityHandler):
                        raise pdf_input_error("encrypted_certificate")
                    raise pdf_input_error("encrypted")
                if encrypted:
                    _unlock(reader, for_signing=True)
                active: tuple[ActiveItem, ...] = ()
                if limits is not None:
                    check_limits(path, reader, limits)
                    active = find_active_content(reader, limits.max_pages)
                pages = _page_count(reader)
                signatures = len(reader.embedded_signatures)
                version = _version(reader)
            except PdfInputError:
                raise
            except Exception as exc:  # hostile input: KeyError, zlib.error, RecursionError...
                raise pdf_input_error("damaged", f"{type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise pdf_input_error("damaged", f"cannot read the file: {exc}") from exc
    return PdfInfo(
        pages=pages,
        signatures=signatures,
        pdf_version=version,
        encrypted=encrypted,
        active_content=active,
    )


def _field_spec(writer: IncrementalPdfFileWriter, profile: SigningProfile) -> SigFieldSpec:
    """The new signature field: visible on the chosen page, or invisible."""
    if profile.fills:
        if profile.placement.box is None:
            raise SigningError("text fills need the field's box")
    elif profile.stamp is None:
        return SigFieldSpec(sig_field_name=profile.field_name)
    count = int(writer.root["/Pages"]["/Count"])
    page_ix = profile.placement.page
    if (
        profile.stamp
        and profile.stamp.kind == "attachment"
        and profile.placement == StampPlacement()
    ):
        page_ix = 0  # Decree 30: top right of the first page
    if page_ix < 0:
        page_ix += count
    if not 0 <= page_ix < count:
        raise pdf_input_error("bad_page", f"page {profile.placement.page} of {count}")
    box = profile.placement.box
    if box is None:
        assert profile.stamp is not None  # noqa: S101 - fills have a box (checked above)
        box = default_box_for(profile.stamp, page_box(_find_page(writer, page_ix).get_object()))
    int_box = (round(box[0]), round(box[1]), round(box[2]), round(box[3]))
    return SigFieldSpec(sig_field_name=profile.field_name, on_page=page_ix, box=int_box)


def _prepare(
    writer: IncrementalPdfFileWriter, profile: SigningProfile, allow_empty_password: bool
) -> SigFieldSpec | None:
    """Refuse inputs that cannot be signed and build the field specification."""
    if writer.prev.encrypted:
        if not allow_empty_password:
            if not isinstance(writer.prev.security_handler, StandardSecurityHandler):
                raise pdf_input_error("encrypted_certificate")
            raise pdf_input_error("encrypted")
        _unlock(writer.prev, for_signing=True)
        writer.encrypt("")  # type: ignore[no-untyped-call]  # the update is encrypted like the original (it cannot be removed)
    certification = read_certification_data(writer.prev)
    if certification is not None and certification.permission == MDPPerm.NO_CHANGES:
        raise pdf_input_error("certified_no_changes")
    if certification is not None:
        # A field added after a certification signature invalidates it (pyHanko's
        # diff policy): sign only into an empty field prepared before certification.
        empty = {name for name, _, _ in enumerate_sig_fields(writer.prev, filled_status=False)}
        if profile.field_name not in empty:
            raise pdf_input_error("certified_no_new_fields", f"empty fields: {sorted(empty)}")
        return None
    return _field_spec(writer, profile)


RESERVED_B_B = 16384
"""Default CMS size reserved without a signature timestamp."""
RESERVED_WITH_TIMESTAMP = 32768
"""Default CMS size reserved with a signature timestamp token (B-T and above)."""


def _check_level(
    profile: SigningProfile,
    timestamper: TimeStamper | None,
    revocation: RevocationSource | None,
) -> str:
    """The requested level, after checking its prerequisites."""
    level = profile.level
    if level not in PADES_LEVELS:
        raise SigningError(f"unknown PAdES level {level!r}; expected one of {PADES_LEVELS}")
    if level != "B-B" and timestamper is None:
        raise SigningError(f"PAdES {level} needs a timestamper (signature timestamp)")
    if level in ("B-LT", "B-LTA") and revocation is None:
        raise SigningError(f"PAdES {level} needs a revocation source (OCSP/CRL data for the DSS)")
    return level


def _long_term_data(
    signer: Signer, timestamper: TimeStamper, revocation: RevocationSource
) -> tuple[list[asn1_x509.Certificate], RevocationData]:
    """The certificates and revocation data a B-LT signature of ``signer`` embeds (see
    :func:`long_term_data`): the signer's, the TSA's and the OCSP responder's."""
    if signer.signing_cert is None:
        raise SigningError("the signer has no certificate: cannot embed validation data")
    tsa_cert = getattr(timestamper, "tsa_cert", None)
    ends = [signer.signing_cert]
    if isinstance(tsa_cert, asn1_x509.Certificate):
        ends.append(tsa_cert)
    return long_term_data(ends, list(signer.cert_registry or ()), revocation)


def long_term_data(
    ends: Sequence[asn1_x509.Certificate],
    pool: Sequence[asn1_x509.Certificate],
    revocation: RevocationSource,
) -> tuple[list[asn1_x509.Certificate], RevocationData]:
    """The certificates (each one's path to its root, root first) and the revocation data
    a DSS holds for a signature whose signer is ``ends[0]`` and whose other certificates
    to embed (the TSA's...) are the rest of ``ends``, their issuers found in ``pool``; the
    OCSP responder's path is added. A signer the data revokes is refused."""
    end_ders = tuple(c.dump() for c in ends)
    pool_ders = tuple(c.dump() for c in pool)
    needing = dict.fromkeys((*end_ders, *pool_ders))
    data = revocation.revocation_data([_crypto_der(der) for der in needing])
    refuse_revoked(_crypto_der(end_ders[0]), data)
    return list(dss_certificates(end_ders + data.certs, pool_ders + data.certs)), data


@functools.lru_cache(maxsize=256)
def _crypto_der(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


@functools.lru_cache(maxsize=64)
def dss_certificates(
    ends: tuple[bytes, ...], pool: tuple[bytes, ...]
) -> tuple[asn1_x509.Certificate, ...]:
    """The certificates a DSS holds for a signature: each of ``ends`` (the signer, the
    TSA, the OCSP responder) with its issuers found in ``pool`` (DER), root first, once
    each, as pyHanko's validation paths give them (the same for every signature of one
    signer: made once)."""
    candidates = [asn1_x509.Certificate.load(der) for der in pool]
    certs: list[asn1_x509.Certificate] = []
    for der in ends:
        for cert in _path_to_root(asn1_x509.Certificate.load(der), candidates):
            if all(cert.dump() != c.dump() for c in certs):
                certs.append(cert)
    return tuple(certs)


def refuse_revoked(cert: x509.Certificate, data: RevocationData) -> None:
    """Refuse to sign with a certificate the revocation data says is revoked (pyHanko's
    own B-LT path refuses it while validating the signer's path before signing).

    :raises SignatureFailedError: an OCSP response or a CRL of its issuer revokes it.
    """
    for der in data.ocsp_responses:
        response = x509_ocsp.load_der_ocsp_response(der)
        if (
            response.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
            and response.serial_number == cert.serial_number
            and response.issuer_name_hash == _name_hash(cert.issuer, response.hash_algorithm)
            and response.certificate_status == x509_ocsp.OCSPCertStatus.REVOKED
        ):
            raise SignatureFailedError("the signer's certificate is revoked (OCSP)")
    for der in data.crls:
        revocations = x509.load_der_x509_crl(der)
        if revocations.issuer == cert.issuer and (
            revocations.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
        ):
            raise SignatureFailedError("the signer's certificate is revoked (CRL)")


def _name_hash(name: x509.Name, algorithm: hashes.HashAlgorithm) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(name.public_bytes())
    return digest.finalize()


def _path_to_root(
    cert: asn1_x509.Certificate, pool: list[asn1_x509.Certificate]
) -> list[asn1_x509.Certificate]:
    """``cert`` and its issuers found in ``pool``, root first (as pyHanko's paths)."""
    path = [cert]
    while path[-1].self_signed == "no" and len(path) <= len(pool):
        issuer = next((c for c in pool if c.subject == path[-1].issuer and c not in path), None)
        if issuer is None:
            break
        path.append(issuer)
    return path[::-1]


def _validation_context(
    signer: Signer, timestamper: TimeStamper, revocation: RevocationSource
) -> ValidationContext:
    """A no-network context holding the chain and the revocation data to embed (for
    pyHanko's own B-LT path: B-LTA and encrypted files).

    The trust roots are the self-signed certificates the signer carries: this
    context only gathers validation data; trust is decided by validation.
    """
    chain = list(signer.cert_registry) if signer.cert_registry is not None else []
    roots = [c for c in chain if c.self_signed == "maybe" or c.self_signed == "yes"]
    _certs, data = _long_term_data(signer, timestamper, revocation)
    others = [c for c in chain if c not in roots]
    others.extend(asn1_x509.Certificate.load(der) for der in data.certs)
    return ValidationContext(
        trust_roots=roots,
        other_certs=others,
        ocsps=list(data.ocsp_responses),
        crls=list(data.crls),
        allow_fetching=False,
        revinfo_policy=revinfo_policy(True),
    )


async def _sign_then_add_dss(
    pdf_signer: PdfSigner,
    writer: IncrementalPdfFileWriter,
    reserved: int,
    text_params: dict[str, Any] | None,
    output: IO[bytes],
    certs: list[asn1_x509.Certificate],
    data: RevocationData,
) -> None:
    """B-LT without pyHanko's pre-signing path validation: sign at B-T with pyHanko's
    interrupted-signing steps (what ``sign_pdf`` runs), then append the DSS (certificates,
    OCSP responses, CRLs and the signature's VRI entry) in its own revision, as pyHanko's
    post-signing step does.

    pyHanko's B-LT builds and validates the signer's and the TSA's certificate paths
    (the TSA's by asking it for a dummy timestamp) only to learn which certificates
    and responses to embed; the server knows them already. Whether the result
    validates is decided by the validation before store, as before.
    """
    session = pdf_signer.init_signing_session(writer)
    tbs = session.prepare_tbs_document(
        validation_info=None, bytes_reserved=reserved, appearance_text_params=text_params
    )
    prepared, out = tbs.digest_tbs_document(output=output)
    signed = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=session.system_time,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    DocumentSecurityStore.add_dss(
        out,
        signed.sig_contents,
        certs=certs,
        ocsps=[ocsp.OCSPResponse.load(der) for der in data.ocsp_responses],
        crls=[crl.CertificateList.load(der) for der in data.crls],
        strict=writer.prev.strict,
    )


def sign_pdf_file(
    in_path: Path,
    out_path: Path,
    signer: Signer,
    profile: SigningProfile,
    timestamper: TimeStamper | None = None,
    revocation: RevocationSource | None = None,
    *,
    allow_empty_password: bool = False,
) -> int:
    """Sign a PDF at the PAdES baseline level of ``profile`` in incremental updates.

    Uses subfilter ``ETSI.CAdES.detached`` and SHA-256; earlier signatures stay
    valid. B-T adds a signature timestamp; B-LT then appends a DSS with the
    chain and revocation data (produced in-process by ``revocation``, never
    fetched); B-LTA then appends a document timestamp. A ``'B-B'`` profile
    with a timestamper still gets a signature timestamp (B-T), as before levels
    existed. The input is streamed from ``in_path`` and the result written to
    ``out_path`` (opened ``w+b``; making that atomic is the caller's job).

    :param in_path: the PDF to sign.
    :param out_path: where to write the signed PDF; must differ from ``in_path``.
    :param signer: the signer, e.g. from :func:`signing.keys.load_signer`.
    :param profile: field name, metadata, stamp, level and reserved size.
    :param timestamper: timestamp authority, e.g. :class:`signing.tsa.EmbeddedTimeStamper`;
        required from B-T up.
    :param revocation: revocation data for the DSS, e.g.
        :meth:`signing.trust.TrustServices.revocation_source`; required from B-LT up.
    :param allow_empty_password: sign encrypted files that open with the empty user
        password (and allow signing) as encrypted incremental updates, as the PDF
        standard requires; by default every encrypted file is refused.
    :returns: how many signatures and document timestamps the input had (as
        :func:`signing.countersign.signature_count`, from the parse made for signing).
    :raises SigningError: the level is unknown or its prerequisites are missing.
    :raises PdfInputError: the input cannot be signed (damaged, encrypted, locked...).
    :raises SignatureFailedError: signing failed for another reason, e.g. the
        signer certificate is revoked according to ``revocation``.
    """
    level = _check_level(profile, timestamper, revocation)
    reserved = profile.bytes_reserved
    if reserved is None:
        reserved = RESERVED_B_B if timestamper is None else RESERVED_WITH_TIMESTAMP
    text_params = None
    style: BaseStampStyle | None = None
    if profile.fills:
        style = FillStampStyle(fills=profile.fills)
    elif profile.stamp is not None:
        style = appearance_style(profile.stamp)
        text_params = {TEXT_PARAM: stamp_text(profile.stamp)}
    with in_path.open("rb") as inf:
        try:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            field_spec = _prepare(writer, profile, allow_empty_password)
        except PdfInputError:
            raise
        except Exception as exc:  # the PDF stack raises many unrelated types on bad input
            raise pdf_input_error("damaged", f"{type(exc).__name__}: {exc}") from exc
        try:
            earlier = len(writer.prev.embedded_signatures)
        except Exception:  # noqa: BLE001 - as signature_count: an odd form counts none
            earlier = 0
        # B-LT of a plain file appends its DSS here (:func:`_sign_then_add_dss`); B-LTA
        # (DSS and document timestamp together) and encrypted files take pyHanko's path.
        own_dss = level == "B-LT" and not writer.prev.encrypted
        context = None
        long_term: tuple[list[asn1_x509.Certificate], RevocationData] | None = None
        if level in ("B-LT", "B-LTA"):
            assert timestamper is not None and revocation is not None  # noqa: S101 - checked above
            try:
                if own_dss:
                    long_term = _long_term_data(signer, timestamper, revocation)
                else:
                    context = _validation_context(signer, timestamper, revocation)
            except SigningError:
                raise
            except Exception as exc:  # bad revocation data, database errors in the callback...
                raise SignatureFailedError(
                    f"cannot gather revocation data: {type(exc).__name__}: {exc}"
                ) from exc
        meta = PdfSignatureMetadata(
            field_name=profile.field_name,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            reason=profile.reason,
            location=profile.location,
            embed_validation_info=context is not None,
            use_pades_lta=level == "B-LTA",
            validation_context=context,
        )
        pdf_signer = PdfSigner(
            meta,
            signer=signer,
            timestamper=timestamper,
            stamp_style=style,
            new_field_spec=field_spec,
        )
        with out_path.open("w+b") as outf:
            try:
                if long_term is not None:
                    asyncio.run(
                        _sign_then_add_dss(
                            pdf_signer, writer, reserved, text_params, outf, *long_term
                        )
                    )
                else:
                    pdf_signer.sign_pdf(
                        writer,
                        bytes_reserved=reserved,
                        appearance_text_params=text_params,
                        output=outf,
                    )
            except Exception as exc:
                raise SignatureFailedError(f"signing failed: {type(exc).__name__}: {exc}") from exc
    return earlier
