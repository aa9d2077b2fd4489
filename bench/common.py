"""Shared helpers: timing statistics, interleaved timing, PDF builders, test PKI."""

from __future__ import annotations

import gc
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.pdfs import simple_pdf

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

CA_PASSPHRASE = b"bench-ca-passphrase"
USER_PASSPHRASE = "mật khẩu người ký bench"  # noqa: S105 - throwaway test key


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-with-interpolation percentile (``q`` in 0..100)."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summarise(samples_s: list[float]) -> dict[str, Any]:
    """Median, p90, min and count of timings given in seconds (reported in ms)."""
    ms = [s * 1000.0 for s in samples_s]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": percentile(ms, 90),
        "min_ms": min(ms),
        "mean_ms": statistics.fmean(ms),
    }


@dataclass
class Variant:
    """One timed operation; ``setup`` (untimed) runs before each call of ``fn``."""

    name: str
    fn: Callable[[], Any]
    setup: Callable[[], Any] | None = None


def time_interleaved(
    variants: list[Variant], iterations: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Time variants round-robin (A B C A B C ...) so load bursts hit all of them alike.

    :returns: seconds per call, per variant name.
    """
    for _ in range(warmup):
        for v in variants:
            if v.setup:
                v.setup()
            v.fn()
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for i in range(iterations):
        order = variants if i % 2 == 0 else list(reversed(variants))
        for v in order:
            if v.setup:
                v.setup()
            gc.collect()
            t0 = time.perf_counter()
            v.fn()
            samples[v.name].append(time.perf_counter() - t0)
    return samples


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` (inf when the denominator is 0)."""
    return numerator / denominator if denominator else float("inf")


# --- PDFs --------------------------------------------------------------------------


def make_pdf_bytes(text: str = "Van ban thu nghiem", pages: int = 1) -> bytes:
    """A small valid PDF (A4 pages, one line of Helvetica text each): the tests' builder."""
    return simple_pdf(text, pages)


def write_big_pdf(path: Path, target_bytes: int, chunk: int = 1 << 20) -> int:
    """Write a 1-page PDF whose page uses a big uncompressed RGB image of random bytes.

    Streams to disk in ``chunk``-sized writes (never holds the file in memory).

    :returns: the size of the written file.
    """
    width = 4096
    height = max(1, target_bytes // (width * 3))
    length = width * height * 3
    offsets: list[int] = []
    with path.open("wb") as fh:
        pos = 0

        def put(data: bytes) -> None:
            nonlocal pos
            fh.write(data)
            pos += len(data)

        put(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        content = b"q 0.1 0 0 0.1 72 400 cm /Im1 Do Q BT /F1 14 Tf 72 770 Td (Tep lon) Tj ET"
        small = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> /XObject << /Im1 6 0 R >> >> "
            b"/Contents 5 0 R >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        ]
        for num, body in enumerate(small, start=1):
            offsets.append(pos)
            put(b"%d 0 obj\n%s\nendobj\n" % (num, body))
        offsets.append(pos)
        put(
            b"6 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n"
            % (width, height, length)
        )
        left = length
        while left:
            n = min(chunk, left)
            put(os.urandom(n))
            left -= n
        put(b"\nendstream\nendobj\n")
        xref_at = pos
        put(b"xref\n0 7\n0000000000 65535 f \n")
        for off in offsets:
            put(b"%010d 00000 n \n" % off)
        put(b"trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return path.stat().st_size


# --- PKI and signer ----------------------------------------------------------------


@dataclass
class BenchPki:
    """A PKI made by ``EmbeddedPki.create`` and one RSA-2048 signer, also as files."""

    directory: Path
    pki: Any
    issued: Any
    cert_file: Path
    key_file: Path
    chain_files: list[Path]


def make_pki(directory: Path) -> BenchPki:
    """Create the PKI in ``directory/ca`` and issue an RSA-2048 signing certificate."""
    from signing.pki import EmbeddedPki

    pki = EmbeddedPki.create(directory / "ca", CA_PASSPHRASE)
    issued = pki.issue_signing_certificate(
        full_name="Lê Văn Đức",
        title="Bí thư Đảng ủy Khối",
        unit="Thường trực Đảng ủy Khối",
        organisation="Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        passphrase=USER_PASSPHRASE,
        key_size=2048,
    )
    cert_file = directory / "signer.pem"
    key_file = directory / "signer.key.pem"
    cert_file.write_bytes(issued.cert_pem)
    key_file.write_bytes(issued.encrypted_key_pem)
    chain_files = []
    for i, pem in enumerate(pki.chain_pems()):
        p = directory / f"chain{i}.pem"
        p.write_bytes(pem)
        chain_files.append(p)
    return BenchPki(directory, pki, issued, cert_file, key_file, chain_files)


def load_pki_files(directory: Path) -> BenchPki:
    """Re-read a PKI written by :func:`make_pki` (for child processes)."""
    from signing.pki import EmbeddedPki

    pki = EmbeddedPki.load(directory / "ca", CA_PASSPHRASE)
    chain_files = sorted(directory.glob("chain*.pem"))
    return BenchPki(
        directory, pki, None, directory / "signer.pem", directory / "signer.key.pem", chain_files
    )


def trinhky_signer(bp: BenchPki) -> Any:
    """``signing.keys.load_signer`` on the bench signer's files."""
    from signing.keys import load_signer

    return load_signer(
        bp.cert_file.read_bytes(),
        bp.key_file.read_bytes(),
        USER_PASSPHRASE,
        [p.read_bytes() for p in bp.chain_files],
    )


def stock_signer(bp: BenchPki) -> Any:
    """Stock ``SimpleSigner.load`` on the same files (it returns None on failure)."""
    from pyhanko.sign.signers import SimpleSigner

    signer = SimpleSigner.load(
        str(bp.key_file),
        str(bp.cert_file),
        ca_chain_files=[str(p) for p in bp.chain_files],
        key_passphrase=USER_PASSPHRASE.encode("utf-8"),
    )
    if signer is None:
        raise RuntimeError("SimpleSigner.load returned None")
    return signer


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stamp_profile(field_name: str, visible: bool, seconds_later: int = 0) -> Any:
    """A TrinhKy profile: invisible, or with the Vietnamese stamp (signed ``seconds_later``)."""
    from datetime import UTC, datetime, timedelta

    from signing.profiles import SigningProfile
    from signing.stamps import StampContent

    stamp = None
    if visible:
        stamp = StampContent(
            signer_name="Lê Văn Đức",
            title="Bí thư Đảng ủy Khối",
            unit="Thường trực Đảng ủy Khối",
            signed_at=datetime.now(UTC) + timedelta(seconds=seconds_later),
        )
    return SigningProfile(
        field_name=field_name, reason="Ký duyệt văn bản", location="Tỉnh", stamp=stamp
    )
