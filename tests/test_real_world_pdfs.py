"""Real-world PDF corpus, built at test time: every input is signed and validates, or is
refused with a specific PdfInputError code, in bounded time and without raw exceptions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from signing.errors import PdfInputError
from signing.keys import LoadedKeySigner, load_signer
from signing.pades import inspect_pdf, sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent
from signing.validate import validate_pdf
from tests.pdfs import hybrid_xref_pdf

PER_FILE_SECONDS = 60.0
QPDF = shutil.which("qpdf")
SYSTEM_PDF_DIRS = (Path("/usr/share/doc"), Path(sys.prefix) / "lib")
MAX_SYSTEM_PDFS = 40
MAX_SYSTEM_PDF_BYTES = 5 * 1024 * 1024
VERIFY_TOOL = Path("/work/shared/tools/independent_verify.py")
VERIFY_PYTHON = Path("/root/.cache/independent_verify/venv/bin/python")

# expected outcome per generated file: "signed" or a PdfInputError code
EXPECTED: dict[str, str] = {
    "plain.pdf": "signed",
    "multipage.pdf": "signed",
    "objstreams.pdf": "signed",
    "linearized.pdf": "signed",
    "pdf20.pdf": "signed",
    "enc_empty_aes256.pdf": "signed",
    "enc_empty_aes128.pdf": "signed",
    "enc_empty_rc4.pdf": "signed",
    "enc_user_password.pdf": "encrypted",
    "enc_no_modify.pdf": "encrypted_no_signing",
    "already_signed.pdf": "signed",
    "certified_form_filling.pdf": "certified_no_new_fields",
    "certified_no_changes.pdf": "certified_no_changes",
    "form_filled.pdf": "signed",
    "damaged_xref.pdf": "damaged",
    "truncated.pdf": "truncated",
    "garbage.pdf": "not_pdf",
    "hybrid_xref.pdf": "signed",
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedPki:
    return EmbeddedPki.create(tmp_path_factory.mktemp("rw-pki") / "ca", b"ca-pass")


@pytest.fixture(scope="module")
def signer(pki: EmbeddedPki) -> LoadedKeySigner:
    cert = pki.issue_signing_certificate(
        full_name="Lê Văn Đức",
        title="Bí thư",
        unit="Đảng ủy Khối",
        organisation="Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        passphrase="pw",
    )
    return load_signer(cert.cert_pem, cert.encrypted_key_pem, "pw", pki.chain_pems())


@pytest.fixture(scope="module")
def trust(pki: EmbeddedPki) -> TrustConfig:
    return TrustConfig(trust_roots_pem=(pki.root_pem(),), other_certs_pem=tuple(pki.chain_pems()))


def _reportlab(pages: int = 1, form: bool = False) -> bytes:
    buf = BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    for n in range(pages):
        pdf.drawString(72, 760, f"Trang {n + 1}")
        if form and n == 0:
            pdf.acroForm.textfield(name="hoten", value="Nguyen Van A", x=72, y=600, width=200)
            pdf.acroForm.checkbox(name="dongy", checked=True, x=72, y=560)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _qpdf(src: Path, dst: Path, *args: str) -> None:
    assert QPDF is not None
    subprocess.run([QPDF, *args, str(src), str(dst)], check=True, timeout=60)  # noqa: S603


def _pyhanko_sign(src: Path, dst: Path, signer: LoadedKeySigner, certify: MDPPerm | None) -> None:
    with src.open("rb") as inf:
        writer = IncrementalPdfFileWriter(inf, strict=False)
        meta = signers.PdfSignatureMetadata(
            field_name="Earlier",
            subfilter=SigSeedSubFilter.PADES,
            certify=certify is not None,
            docmdp_permissions=certify or MDPPerm.FILL_FORMS,
        )
        with dst.open("wb") as outf:
            signers.sign_pdf(writer, meta, signer=signer, output=outf)


def build_corpus(directory: Path, signer: LoadedKeySigner) -> dict[str, str]:
    """Write the generated corpus into ``directory``; :returns: name -> expected outcome."""
    plain = directory / "plain.pdf"
    plain.write_bytes(_reportlab())
    (directory / "multipage.pdf").write_bytes(_reportlab(pages=12))
    (directory / "form_filled.pdf").write_bytes(_reportlab(form=True))
    _pyhanko_sign(plain, directory / "already_signed.pdf", signer, None)
    _pyhanko_sign(plain, directory / "certified_form_filling.pdf", signer, MDPPerm.FILL_FORMS)
    _pyhanko_sign(plain, directory / "certified_no_changes.pdf", signer, MDPPerm.NO_CHANGES)
    data = plain.read_bytes()
    xref_at = data.rindex(b"\nxref") + 1
    (directory / "damaged_xref.pdf").write_bytes(
        data[:xref_at] + b"xrfe garbage" + data[xref_at + 12 :]
    )
    (directory / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (directory / "garbage.pdf").write_bytes(b"<html>not a pdf</html>" * 10)
    (directory / "hybrid_xref.pdf").write_bytes(hybrid_xref_pdf())
    expected = {k: v for k, v in EXPECTED.items() if (directory / k).exists()}
    if QPDF is not None:
        _qpdf(plain, directory / "objstreams.pdf", "--object-streams=generate")
        _qpdf(plain, directory / "linearized.pdf", "--linearize")
        _qpdf(plain, directory / "pdf20.pdf", "--force-version=2.0")
        enc = "--encrypt"
        _qpdf(plain, directory / "enc_empty_aes256.pdf", enc, "", "owner", "256", "--")
        _qpdf(
            plain,
            directory / "enc_empty_aes128.pdf",
            "--allow-weak-crypto",
            enc,
            "",
            "owner",
            "128",
            "--use-aes=y",
            "--",
        )
        _qpdf(
            plain,
            directory / "enc_empty_rc4.pdf",
            "--allow-weak-crypto",
            enc,
            "",
            "owner",
            "40",
            "--",
        )
        _qpdf(plain, directory / "enc_user_password.pdf", enc, "user", "owner", "256", "--")
        _qpdf(
            plain, directory / "enc_no_modify.pdf", enc, "", "owner", "256", "--modify=none", "--"
        )
        expected = {k: v for k, v in EXPECTED.items() if (directory / k).exists()}
    return expected


def system_pdfs() -> list[Path]:
    """PDFs shipped by installed packages (used in place, never copied into the repo)."""
    found: list[Path] = []
    for root in SYSTEM_PDF_DIRS:
        if root.is_dir():
            found += [
                p for p in sorted(root.rglob("*.pdf")) if p.stat().st_size < MAX_SYSTEM_PDF_BYTES
            ]
    return found[:MAX_SYSTEM_PDFS]


def _validates(path: Path, trust: TrustConfig) -> bool:
    """Every signature in ``path`` is intact, valid and trusted (validate_pdf opens
    files encrypted with the empty user password itself)."""
    report = validate_pdf(path, trust)
    return report.error is None and report.bottom_line


def _attempt(src: Path, dst: Path, signer: LoadedKeySigner, kind: str) -> str:
    """Sign one file; :returns: ``'signed'`` or the refusal code."""
    stamp = StampContent(
        "Lê Văn Đức", "Số: 12-TB/ĐUK", "", datetime(2026, 11, 27, 14, 6, tzinfo=UTC), kind=kind
    )  # type: ignore[arg-type]
    profile = SigningProfile(field_name="TrinhKy", stamp=stamp)
    try:
        inspect_pdf(src, allow_empty_password=True)
        sign_pdf_file(src, dst, signer, profile, allow_empty_password=True)
    except PdfInputError as exc:
        assert exc.message_vi and exc.message_en
        return exc.code
    return "signed"


def run_corpus(
    files: list[Path], out_dir: Path, signer: LoadedKeySigner, trust: TrustConfig
) -> dict[Path, str]:
    """Sign each file under a per-file timeout; :returns: path -> outcome."""
    outcomes: dict[Path, str] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        for n, src in enumerate(files):
            dst = out_dir / f"{n:03d}-{src.name}"
            kind = ("attachment", "text", "personal")[n % 3]
            future = pool.submit(_attempt, src, dst, signer, kind)
            try:
                outcome = future.result(timeout=PER_FILE_SECONDS)
            except FutureTimeout:
                pytest.fail(f"{src}: no answer within {PER_FILE_SECONDS} s")
            if outcome == "signed":
                assert _validates(dst, trust), f"{src}: signed but does not validate"
            outcomes[src] = outcome
    return outcomes


def test_generated_corpus(
    tmp_path: Path, signer: LoadedKeySigner, trust: TrustConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    expected = build_corpus(corpus, signer)
    out = tmp_path / "out"
    out.mkdir()
    outcomes = run_corpus([corpus / name for name in expected], out, signer, trust)
    got = {path.name: outcome for path, outcome in outcomes.items()}
    assert got == expected
    with capsys.disabled():
        signed = sum(1 for v in got.values() if v == "signed")
        print(
            f"\n[corpus] generated: {len(got)} files, {signed} signed, {len(got) - signed} refused"
        )


def test_form_fields_survive_signing(tmp_path: Path, signer: LoadedKeySigner) -> None:
    from pypdf import PdfReader

    src = tmp_path / "form.pdf"
    src.write_bytes(_reportlab(form=True))
    dst = tmp_path / "signed.pdf"
    sign_pdf_file(src, dst, signer, SigningProfile(field_name="TrinhKy"))
    fields = PdfReader(dst).get_fields() or {}
    assert fields["hoten"].get("/V") == "Nguyen Van A"
    assert fields["dongy"].get("/V") not in (None, "/Off")


def test_encrypted_refused_by_default(tmp_path: Path, signer: LoadedKeySigner) -> None:
    if QPDF is None:
        pytest.skip("qpdf is not installed")
    src = tmp_path / "plain.pdf"
    src.write_bytes(_reportlab())
    enc = tmp_path / "enc.pdf"
    _qpdf(src, enc, "--encrypt", "", "owner", "256", "--")
    with pytest.raises(PdfInputError) as info:
        sign_pdf_file(enc, tmp_path / "o.pdf", signer, SigningProfile(field_name="S"))
    assert info.value.code == "encrypted"
    assert inspect_pdf(enc, allow_empty_password=True).encrypted


def test_system_pdfs(
    tmp_path: Path, signer: LoadedKeySigner, trust: TrustConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    files = system_pdfs()
    if not files:
        pytest.skip("no PDF shipped by installed packages")
    outcomes = run_corpus(files, tmp_path, signer, trust)
    codes = {
        "signed",
        "damaged",
        "encrypted",
        "encrypted_certificate",
        "encrypted_no_signing",
        "certified_no_changes",
        "certified_no_new_fields",
        "truncated",
        "not_pdf",
        "no_pages",
    }
    assert set(outcomes.values()) <= codes
    with capsys.disabled():
        signed = sum(1 for v in outcomes.values() if v == "signed")
        print(
            f"\n[corpus] system: {len(outcomes)} files, {signed} signed, {len(outcomes) - signed} refused"
        )


@pytest.mark.skipif(
    not (VERIFY_TOOL.exists() and VERIFY_PYTHON.exists()), reason="independent verifier absent"
)
def test_independent_verifier_sample(
    tmp_path: Path, pki: EmbeddedPki, signer: LoadedKeySigner
) -> None:
    src = tmp_path / "plain.pdf"
    src.write_bytes(_reportlab())
    samples: list[tuple[Path, Callable[[Path], None]]] = []
    out = tmp_path / "signed.pdf"
    stamp = StampContent("Lê Văn Đức", "", "", datetime(2026, 11, 27, tzinfo=UTC), kind="personal")
    sign_pdf_file(src, out, signer, SigningProfile(field_name="TrinhKy", stamp=stamp))
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root_pem())
    del samples
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(VERIFY_TOOL), "--python", str(VERIFY_PYTHON), str(out), str(root)],
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode()[-2000:] + result.stderr.decode()[-2000:]


def _independent_verify(pdf: Path, root: Path) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(VERIFY_TOOL), "--python", str(VERIFY_PYTHON), str(pdf), str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(
    not (VERIFY_TOOL.exists() and VERIFY_PYTHON.exists()), reason="independent verifier absent"
)
def test_hybrid_reference_file_is_signed_and_verified_independently(
    tmp_path: Path, pki: EmbeddedPki, signer: LoadedKeySigner, trust: TrustConfig
) -> None:
    """A classic table with /XRefStm (objects in an object stream found only through
    the stream): pyHanko keeps the hybrid structure readable, so every reader, those that
    follow /XRefStm and those that do not, sees the signature over the same bytes."""
    src = tmp_path / "hybrid.pdf"
    src.write_bytes(hybrid_xref_pdf())
    with src.open("rb") as fh:
        assert PdfFileReader(fh, strict=False).xrefs.hybrid_xrefs_present
    out = tmp_path / "hybrid-signed.pdf"
    stamp = StampContent(
        "Lê Văn Đức", "Bí thư", "", datetime(2026, 11, 27, tzinfo=UTC), kind="personal"
    )
    sign_pdf_file(src, out, signer, SigningProfile(field_name="TrinhKy", stamp=stamp))
    assert _validates(out, trust)
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root_pem())
    report = _independent_verify(out, root)
    for validator in ("openssl", "pdfsig", "pdfbox", "endesive", "mutool", "qpdf"):
        assert f"{validator}: valid" in report, report
    text = subprocess.run(
        ["pdftotext", str(out), "-"],
        capture_output=True,
        text=True,
        check=True,  # noqa: S607
    ).stdout
    assert "Tep tham chieu lai" in text and "Lê Văn Đức" in text
