"""Child process of the memory benchmark: sign one big PDF and report peak RSS growth.

``python -m bench._memchild MODE PKI_DIR IN_PDF OUT_PDF WARMUP_PDF`` prints one JSON line.
MODE: ``trinhky`` (sign_pdf_file, file to file), ``stock_bytesio`` (whole file in a
BytesIO, output to a BytesIO, as in pyHanko's examples) or ``stock_file`` (stock
pyHanko with real file handles, output opened ``w+b``).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from io import BytesIO
from pathlib import Path


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def main() -> int:
    mode, pki_dir, in_pdf, out_pdf, warm_pdf = sys.argv[1:6]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from bench.common import load_pki_files, stamp_profile, stock_signer, trinhky_signer
    from signing.pades import sign_pdf_file

    bp = load_pki_files(Path(pki_dir))
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
    profile = stamp_profile("Sig1", visible=False)
    signer = trinhky_signer(bp) if mode == "trinhky" else stock_signer(bp)

    def sign(src: Path, dst: Path) -> None:
        if mode == "trinhky":
            sign_pdf_file(src, dst, signer, profile)
        elif mode == "stock_bytesio":
            data = src.read_bytes()
            out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(data)), meta, signer=signer)
            dst.write_bytes(out.getvalue())
        elif mode == "stock_file":
            with src.open("rb") as inf, dst.open("w+b") as outf:
                signers.sign_pdf(
                    IncrementalPdfFileWriter(inf, strict=False), meta, signer=signer, output=outf
                )
        else:
            raise SystemExit(f"unknown mode {mode}")

    # Warm up on a small file: imports, lazy initialisation, caches count as baseline.
    sign(Path(warm_pdf), Path(out_pdf))
    Path(out_pdf).unlink()
    gc.collect()
    reset = _reset_peak()
    rss_before = _status_kb("VmRSS")
    hwm_before = _status_kb("VmHWM")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    sign(Path(in_pdf), Path(out_pdf))
    seconds = time.perf_counter() - t0
    hwm_after = _status_kb("VmHWM")
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base = rss_before if reset else hwm_before
    print(
        json.dumps(
            {
                "mode": mode,
                "peak_reset": reset,
                "rss_before_kb": rss_before,
                "hwm_before_kb": hwm_before,
                "hwm_after_kb": hwm_after,
                "growth_kb": hwm_after - base,
                "ru_maxrss_growth_kb": maxrss_after - maxrss_before,
                "seconds": seconds,
                "out_size": Path(out_pdf).stat().st_size,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
