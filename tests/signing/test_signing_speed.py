"""Tests for the fast paths: cached CMS pieces, cached stamp font subsets, key loading."""

from __future__ import annotations

import asyncio
import hashlib
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fontTools import ttLib
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.api import CAdESSignedAttrSpec, GenericCommitment
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from signing_testlib import USER_PASSPHRASE

from signing import fontcache
from signing.errors import KeyLoadError, WrongPassphraseError
from signing.keys import LoadedKeySigner, decrypt_private_key, load_signer
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki, IssuedCertificate
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import FONT_PATH, StampContent
from signing.trust import TrustServices
from signing.validate import validate_pdf

VERIFY_TOOL = Path("/work/shared/tools/independent_verify.py")
VERIFY_PYTHON = "/root/.cache/independent_verify/venv/bin/python"


def _both(
    signer: LoadedKeySigner, digest: bytes, md: str, **kwargs: object
) -> tuple[cms.ContentInfo, cms.ContentInfo]:
    """The fast CMS and pyHanko's own for the same digest."""

    async def run() -> tuple[cms.ContentInfo, cms.ContentInfo]:
        fast = await signer.async_sign(digest, md, use_pades=True, **kwargs)  # type: ignore[arg-type]
        stock = await Signer.async_sign(signer, digest, md, use_pades=True, **kwargs)
        return fast, stock

    return asyncio.run(run())


@pytest.mark.parametrize("md", ["sha256", "sha384", "sha512"])
def test_fast_cms_is_byte_identical_to_pyhanko(duc_signer: LoadedKeySigner, md: str) -> None:
    digest = hashlib.new(md, b"noi dung van ban").digest()
    fast, stock = _both(duc_signer, digest, md, signed_attr_settings=PdfCMSSignedAttributes())
    assert fast.dump() == stock.dump()  # RSA PKCS#1 v1.5 is deterministic
    signer_info = fast["content"]["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    assert attrs["message_digest"] == digest
    assert "signing_time" not in attrs  # PAdES forbids it
    assert "signing_certificate_v2" in attrs


def test_fast_cms_with_pss_matches_pyhanko_except_the_signature(
    pki: EmbeddedPki, duc_cert: IssuedCertificate
) -> None:
    signer = load_signer(
        duc_cert.cert_pem, duc_cert.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems()
    )
    signer.prefer_pss = True
    digest = hashlib.sha256(b"x").digest()
    fast, stock = _both(signer, digest, "sha256")
    fast_info = fast["content"]["signer_infos"][0]
    stock_info = stock["content"]["signer_infos"][0]
    assert fast_info["signature_algorithm"].dump() == stock_info["signature_algorithm"].dump()
    assert fast_info["signed_attrs"].dump() == stock_info["signed_attrs"].dump()
    fast_info["signature"] = stock_info["signature"].native
    assert fast.dump(force=True) == stock.dump()


def test_cades_attributes_go_through_pyhanko(duc_signer: LoadedKeySigner) -> None:
    settings = PdfCMSSignedAttributes(
        cades_signed_attrs=CAdESSignedAttrSpec(
            commitment_type=GenericCommitment.PROOF_OF_APPROVAL.asn1
        )
    )
    digest = hashlib.sha256(b"y").digest()
    fast, stock = _both(duc_signer, digest, "sha256", signed_attr_settings=settings)
    assert fast.dump() == stock.dump()
    attrs = {a["type"].native for a in fast["content"]["signer_infos"][0]["signed_attrs"]}
    assert "commitment_type" in attrs


def test_fast_cms_with_timestamp(duc_signer: LoadedKeySigner, services: TrustServices) -> None:
    digest = hashlib.sha256(b"t").digest()
    fast, stock = _both(duc_signer, digest, "sha256", timestamper=services.timestamper)
    fast_info = fast["content"]["signer_infos"][0]
    stock_info = stock["content"]["signer_infos"][0]
    for name in ("sid", "digest_algorithm", "signed_attrs", "signature_algorithm", "signature"):
        assert fast_info[name].dump() == stock_info[name].dump(), name
    assert fast["content"]["certificates"].dump() == stock["content"]["certificates"].dump()
    (attr,) = fast_info["unsigned_attrs"]
    assert attr["type"].native == "signature_time_stamp_token"
    tst_info = attr["values"][0]["content"]["encap_content_info"]["content"].parsed
    imprint = tst_info["message_imprint"]["hashed_message"].native
    assert imprint == hashlib.sha256(fast_info["signature"].native).digest()


def test_duplicate_chain_certificates_are_embedded_once(
    pki: EmbeddedPki, duc_cert: IssuedCertificate
) -> None:
    chain = [*pki.chain_pems(), *pki.chain_pems(), duc_cert.cert_pem]
    signer = load_signer(duc_cert.cert_pem, duc_cert.encrypted_key_pem, USER_PASSPHRASE, chain)
    ci = asyncio.run(signer.async_sign(hashlib.sha256(b"z").digest(), "sha256", use_pades=True))
    certs = [c.chosen.dump() for c in ci["content"]["certificates"]]
    assert len(certs) == len(set(certs)) == len(pki.chain_pems()) + 1


def _independent_verify(path: Path, pki: EmbeddedPki, tmp_path: Path) -> str:
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root_pem())
    result = subprocess.run(
        [sys.executable, str(VERIFY_TOOL), "--python", VERIFY_PYTHON, str(path), str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("visible", [False, True])
def test_fast_signature_validates(
    visible: bool,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    signed_at: datetime,
) -> None:
    stamp = None
    if visible:
        stamp = StampContent(
            signer_name="Lê Văn Đức",
            title="Phó Bí thư Thường trực",
            unit="Thường trực Đảng ủy Khối",
            signed_at=signed_at,
        )
    src = make_pdf()
    out = src.with_name("fast.pdf")
    sign_pdf_file(src, out, duc_signer, SigningProfile(field_name="Sig-fast", stamp=stamp))
    (sig,) = validate_pdf(out, trust).signatures
    assert sig.bottom_line and sig.pades_level == "B-B", sig.problems
    assert sig.coverage == "entire_file"


@pytest.mark.tools
@pytest.mark.skipif(
    not VERIFY_TOOL.exists() or shutil.which("pdfsig") is None or not Path(VERIFY_PYTHON).exists(),
    reason="independent_verify.py, pdfsig or its Python environment is missing",
)
def test_fast_signatures_pass_independent_validators(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    clerk_signer: LoadedKeySigner,
    pki: EmbeddedPki,
    signed_at: datetime,
    tmp_path: Path,
) -> None:
    stamp = StampContent(
        signer_name="Lê Văn Đức",
        title="Phó Bí thư Thường trực",
        unit="Thường trực Đảng ủy Khối",
        signed_at=signed_at,
    )
    src = make_pdf()
    first = tmp_path / "first.pdf"
    second = tmp_path / "second.pdf"
    sign_pdf_file(src, first, duc_signer, SigningProfile(field_name="Sig-1", stamp=stamp))
    sign_pdf_file(first, second, clerk_signer, SigningProfile(field_name="Sig-2"))
    out = _independent_verify(second, pki, tmp_path)
    print(out)


def _font_program(path: Path) -> ttLib.TTFont:
    """The embedded TrueType program of the (only) stamp in a signed PDF."""
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        programs = []
        for num in range(1, int(reader.trailer["/Size"])):
            try:
                obj = reader.get_object(generic.Reference(num, 0, reader))
            except Exception:  # noqa: S112 - free object numbers
                continue
            if isinstance(obj, generic.DictionaryObject) and obj.get("/Type") == "/FontDescriptor":
                programs.append(obj["/FontFile2"].data)
    (program,) = programs
    return ttLib.TTFont(BytesIO(program))


def _cmap_glyph_ids(text: str) -> set[int]:
    full = ttLib.TTFont(FONT_PATH)
    cmap = full.getBestCmap()
    return {full.getGlyphID(cmap[ord(c)]) for c in text if not c.isspace()}


def test_stamp_subsets_are_cached_across_signing_times(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    signed_at: datetime,
    tmp_path: Path,
) -> None:
    fontcache.SUBSETS.clear()
    src = make_pdf()
    programs = []
    for i, moment in enumerate((signed_at, signed_at + timedelta(hours=3, minutes=17, seconds=9))):
        stamp = StampContent(
            signer_name="Nguyễn Thị Ánh Tuyết",
            title="Trưởng ban",
            unit="Ban Tổ chức",
            signed_at=moment,
        )
        out = tmp_path / f"stamp{i}.pdf"
        sign_pdf_file(src, out, duc_signer, SigningProfile(field_name="Sig-1", stamp=stamp))
        (sig,) = validate_pdf(out, trust).signatures
        assert sig.bottom_line, sig.problems
        programs.append(_font_program(out))
        if shutil.which("pdftotext"):
            text = subprocess.run(
                ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
            ).stdout
            assert "Nguyễn Thị Ánh Tuyết" in text
    assert len(fontcache.SUBSETS._items) == 1  # the second stamp reused the subset
    font = programs[0]
    assert not {"GSUB", "GPOS", "GDEF"} & set(font.keys())
    glyf = font["glyf"]
    order = font.getGlyphOrder()
    for gid in _cmap_glyph_ids("Nguyễn Thị Ánh Tuyết Trưởng ban Ban Tổ chức 0123456789"):
        assert glyf[order[gid]].numberOfContours != 0, order[gid]


def test_stamp_font_shapes_with_layout_tables() -> None:
    font = fontcache.stamp_font(str(FONT_PATH))
    full = ttLib.TTFont(BytesIO(font.full))
    program = ttLib.TTFont(BytesIO(font.program))
    assert "GPOS" in full and "GPOS" not in program
    assert full.getGlyphOrder() == program.getGlyphOrder()
    assert full["hmtx"].metrics == program["hmtx"].metrics


def _pem(numbers: rsa.RSAPrivateNumbers) -> bytes:
    key = numbers.private_key(unsafe_skip_rsa_key_validation=True)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )


@pytest.mark.parametrize("field", ["d", "dmp1", "dmq1", "iqmp"])
def test_fast_rsa_check_rejects_inconsistent_keys(field: str) -> None:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    values = {
        "p": good.p,
        "q": good.q,
        "d": good.d,
        "dmp1": good.dmp1,
        "dmq1": good.dmq1,
        "iqmp": good.iqmp,
    }
    values[field] += 2
    bad = rsa.RSAPrivateNumbers(public_numbers=good.public_numbers, **values)
    with pytest.raises(KeyLoadError):
        decrypt_private_key(_pem(bad), b"pw", fast_rsa_check=True)
    with pytest.raises(KeyLoadError):  # OpenSSL's own check agrees
        decrypt_private_key(_pem(bad), b"pw")
    assert isinstance(
        decrypt_private_key(_pem(good), b"pw", fast_rsa_check=True), rsa.RSAPrivateKey
    )


def test_fast_rsa_check_rejects_a_composite_factor() -> None:
    # n = P * Q with P the product of two primes: every relation that does not
    # need primality holds; only the self-test signature catches it.
    primes = [
        rsa.generate_private_key(public_exponent=65537, key_size=1024).private_numbers().p  # noqa: S505
        for _ in range(3)
    ]
    big_p, q = primes[0] * primes[1], primes[2]
    e = 65537
    d = pow(e, -1, math.lcm(big_p - 1, q - 1))
    bad = rsa.RSAPrivateNumbers(
        p=big_p,
        q=q,
        d=d,
        dmp1=d % (big_p - 1),
        dmq1=d % (q - 1),
        iqmp=pow(q, -1, big_p),
        public_numbers=rsa.RSAPublicNumbers(e, big_p * q),
    )
    with pytest.raises(KeyLoadError, match="self-test"):
        decrypt_private_key(_pem(bad), b"pw", fast_rsa_check=True)
    with pytest.raises(KeyLoadError):
        decrypt_private_key(_pem(bad), b"pw")


def test_stamps_in_parallel_threads(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    signed_at: datetime,
    tmp_path: Path,
) -> None:
    fontcache.SUBSETS.clear()
    src = make_pdf()

    def sign(i: int) -> Path:
        stamp = StampContent(
            signer_name=f"Người ký số {i}",
            title="Phó Chánh Văn phòng",
            unit="Văn phòng Đảng ủy Khối",
            signed_at=signed_at + timedelta(minutes=i),
            kind="attachment" if i % 2 else "text",
        )
        out = tmp_path / f"parallel{i}.pdf"
        sign_pdf_file(src, out, duc_signer, SigningProfile(field_name=f"Sig-{i}", stamp=stamp))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(sign, range(8)))
    for out in outputs:
        (sig,) = validate_pdf(out, trust).signatures
        assert sig.bottom_line, sig.problems


def test_a_key_checked_once_is_only_decrypted_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    """The envelope and consistency checks run on the first load of an encrypted key in a
    process; later loads of the same bytes only decrypt, which still proves the passphrase."""
    from signing import keys

    pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers())
    checks: list[object] = []
    real = keys.check_rsa_key
    monkeypatch.setattr(keys, "check_rsa_key", lambda key: checks.append(key) or real(key))
    for _ in range(3):
        decrypt_private_key(pem, b"pw", fast_rsa_check=True)
    assert len(checks) == 1
    with pytest.raises(WrongPassphraseError):
        decrypt_private_key(pem, b"not the passphrase", fast_rsa_check=True)
    decrypt_private_key(pem, b"pw")  # OpenSSL's own full check is never skipped
    assert len(checks) == 1
