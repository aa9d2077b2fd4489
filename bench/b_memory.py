"""Benchmark 2: peak RSS growth of a child process signing a ~100 MB PDF."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, make_pdf_bytes, make_pki, sha256_file, write_big_pdf

NAME = "memory"
TITLE = "Peak RSS growth signing a ~100 MB PDF in a child process"
TARGET_MB = 32.0
SIZE_MB = 100
MODES = ("trinhky", "stock_file", "stock_bytesio")


def _child(mode: str, pki_dir: Path, big: Path, out: Path, warm: Path) -> dict[str, Any]:
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bench._memchild",
            mode,
            str(pki_dir),
            str(big),
            str(out),
            str(warm),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {mode} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; :returns: the result dictionary."""
    repeats = 1 if quick else 2
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-mem-") as tmp:
        tmpdir = Path(tmp)
        make_pki(tmpdir)
        big = tmpdir / "big.pdf"
        size = write_big_pdf(big, SIZE_MB * 1024 * 1024)
        warm = tmpdir / "warm.pdf"
        warm.write_bytes(make_pdf_bytes())
        in_hash = sha256_file(big)
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
        for _ in range(repeats):
            for mode in MODES:
                out = tmpdir / f"out-{mode}.pdf"
                res = _child(mode, tmpdir, big, out, warm)
                if sha256_file(big) != in_hash:
                    raise RuntimeError("the input file changed")
                res["out_grew_by"] = res["out_size"] - size
                out.unlink(missing_ok=True)
                runs[mode].append(res)
    summary = {}
    for mode, rs in runs.items():
        growth_mb = max(r["growth_kb"] for r in rs) / 1024.0
        summary[mode] = {
            "growth_mb_max": growth_mb,
            "growth_mb_runs": [r["growth_kb"] / 1024.0 for r in rs],
            "seconds_median": sorted(r["seconds"] for r in rs)[len(rs) // 2],
        }
    lines = [
        f"  input: {size / 1e6:.1f} MB (1 page, uncompressed random image), {repeats} run(s) per mode"
    ]
    labels = {
        "trinhky": "TrinhKy sign_pdf_file (file to file)",
        "stock_file": "stock pyHanko, file handles (w+b)",
        "stock_bytesio": "stock pyHanko, BytesIO in and out",
    }
    for mode, s in summary.items():
        lines.append(
            f"  {labels[mode]:<40} peak RSS growth {s['growth_mb_max']:8.2f} MB   "
            f"time {s['seconds_median']:6.2f} s"
        )
    t = summary["trinhky"]["growth_mb_max"]
    b = summary["stock_bytesio"]["growth_mb_max"]
    lines.append(f"  ratio TrinhKy / stock BytesIO growth: {t / b if b else float('nan'):.3f}")
    return {
        "name": NAME,
        "title": TITLE,
        "input_bytes": size,
        "runs": runs,
        "summary": summary,
        "targets": [
            {
                "target": f"TrinhKy peak RSS growth < {TARGET_MB:g} MB",
                "value": t,
                "met": t < TARGET_MB,
            }
        ],
        "lines": lines,
    }
