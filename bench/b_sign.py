"""Benchmark 1: B-B signature of a 1-page PDF with RSA-2048, stock pyHanko vs TrinhKy."""

from __future__ import annotations

import hashlib
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.common import (
    Variant,
    make_pdf_bytes,
    make_pki,
    ratio,
    stamp_profile,
    stock_signer,
    summarise,
    time_interleaved,
    trinhky_signer,
)

NAME = "sign"
TITLE = "B-B signature, 1-page PDF, RSA-2048: stock pyHanko vs TrinhKy"
TARGET_SPEEDUP = 8.0


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; :returns: the result dictionary."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from bench.common import USER_PASSPHRASE
    from signing import fontcache
    from signing.pades import sign_pdf_file

    iterations = 8 if quick else 40
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-sign-") as tmp:
        tmpdir = Path(tmp)
        bp = make_pki(tmpdir)
        data = make_pdf_bytes()
        in_path = tmpdir / "in.pdf"
        in_path.write_bytes(data)
        out_path = tmpdir / "out.pdf"

        stock = stock_signer(bp)
        fast = trinhky_signer(bp)
        invisible = stamp_profile("Sig1", visible=False)
        visible = stamp_profile("Sig1", visible=True)
        tick = [0]

        def next_stamp_time() -> None:  # untimed: every stamp shows another time, as in use
            nonlocal visible
            tick[0] += 1
            visible = stamp_profile("Sig1", visible=True, seconds_later=tick[0] * 61)

        def cold_font() -> None:  # untimed: forget the cached font subsets
            next_stamp_time()
            fontcache.SUBSETS.clear()

        meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
        raw_key = load_pem_private_key(bp.key_file.read_bytes(), USER_PASSPHRASE.encode("utf-8"))

        def stock_sign() -> None:
            w = IncrementalPdfFileWriter(BytesIO(data))
            out = signers.sign_pdf(w, meta, signer=stock)
            out.getvalue()

        def trinhky_invisible() -> None:
            sign_pdf_file(in_path, out_path, fast, invisible)

        def trinhky_visible() -> None:
            sign_pdf_file(in_path, out_path, fast, visible)

        def trinhky_with_load() -> None:  # the per-request path of workflow.documents.usecases.sign
            sign_pdf_file(in_path, out_path, trinhky_signer(bp), invisible)

        def floor() -> None:
            digest = hashlib.sha256(data).digest()
            raw_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))

        variants = [
            Variant("stock_pyhanko", stock_sign),
            Variant("trinhky_invisible", trinhky_invisible),
            Variant("trinhky_visible_vi_stamp", trinhky_visible, setup=next_stamp_time),
            Variant("trinhky_visible_vi_stamp_cold_font", trinhky_visible, setup=cold_font),
            Variant("trinhky_invisible_incl_load_signer", trinhky_with_load),
            Variant("crypto_floor_sha256_rsa2048", floor),
        ]
        samples = time_interleaved(variants, iterations, warmup=2)

    stats = {name: summarise(s) for name, s in samples.items()}
    stock_med = stats["stock_pyhanko"]["median_ms"]
    floor_med = stats["crypto_floor_sha256_rsa2048"]["median_ms"]
    lines = []
    targets = []
    informative = ("trinhky_visible_vi_stamp_cold_font", "trinhky_invisible_incl_load_signer")
    for name in (
        "trinhky_invisible",
        "trinhky_visible_vi_stamp",
        *informative,
    ):
        med = stats[name]["median_ms"]
        speedup = ratio(stock_med, med)
        stats[name]["speedup_vs_stock"] = speedup
        stats[name]["times_floor"] = ratio(med, floor_med)
        if name not in informative:
            targets.append(
                {
                    "target": f"{name}: >= {TARGET_SPEEDUP:g}x faster than stock pyHanko",
                    "value": speedup,
                    "met": speedup >= TARGET_SPEEDUP,
                }
            )
    stats["stock_pyhanko"]["times_floor"] = ratio(stock_med, floor_med)
    for name, st in stats.items():
        extra = ""
        if "speedup_vs_stock" in st:
            extra = f"  {st['speedup_vs_stock']:6.2f}x faster than stock"
        if "times_floor" in st:
            extra += f"  {st['times_floor']:7.1f}x the floor"
        lines.append(
            f"  {name:<38} median {st['median_ms']:8.2f} ms  p90 {st['p90_ms']:8.2f} ms{extra}"
        )
    lines.append(
        "  (stock = SimpleSigner.load once + sign_pdf(IncrementalPdfFileWriter(BytesIO)); "
        "TrinhKy = load_signer once + sign_pdf_file; the stamp shows another time on every "
        "call; 'cold_font' empties the font subset cache before each call; 'incl_load_signer' "
        "decrypts the key on every call, as workflow.documents.usecases.sign does per request; the "
        "last two are informative only)"
    )
    return {
        "name": NAME,
        "title": TITLE,
        "iterations": iterations,
        "stats": stats,
        "targets": targets,
        "lines": lines,
    }
