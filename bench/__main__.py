"""Run the TrinhKy benchmarks: ``.venv/bin/python -m bench [--quick] [--only NAME[,NAME]]``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT

BENCHMARKS = ("sign", "memory", "http", "validate", "page", "mixed", "external")
OUT_DIR = Path(__file__).resolve().parent / "out"


def _module(name: str) -> Any:
    import importlib

    return importlib.import_module(f"bench.b_{name}")


def _machine() -> dict[str, Any]:
    from importlib.metadata import version

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "pyhanko": version("pyHanko"),
        "cryptography": version("cryptography"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these benchmarks (repeat or comma-separate): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args(argv)

    selected = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in selected if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    names = [n for n in BENCHMARKS if not selected or n in selected]

    os.chdir(REPO_ROOT)
    started = time.time()
    result: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": _machine(),
        "benchmarks": {},
    }
    mode = "quick" if args.quick else "full"
    print(f"TrinhKy benchmarks ({mode}): {', '.join(names)}", flush=True)
    print(
        f"  python {result['machine']['python']}, pyHanko {result['machine']['pyhanko']}, "
        f"{result['machine']['cpus']} CPUs, load {result['machine'].get('loadavg_start')}",
        flush=True,
    )
    failures = 0
    for name in names:
        mod = _module(name)
        print(f"\n[{name}] {mod.TITLE}", flush=True)
        t0 = time.perf_counter()
        try:
            res = mod.run(args.quick)
        except Exception as exc:  # report and carry on with the other benchmarks
            failures += 1
            last = (str(exc).strip().splitlines() or [""])[-1][:300]
            res = {
                "name": name,
                "title": mod.TITLE,
                "error": f"{type(exc).__name__}: {last}",
                "traceback": traceback.format_exc(),
                "targets": [],
                "lines": [f"  ERROR: {type(exc).__name__}: {last}"],
            }
            traceback.print_exc()
        res["seconds"] = time.perf_counter() - t0
        for line in res.get("lines", []):
            print(line)
        for target in res.get("targets", []):
            verdict = "MET" if target["met"] else "NOT MET"
            print(f"  target {target['target']}: {target['value']:.3g} -> {verdict}")
        print(f"  ({res['seconds']:.1f} s)", flush=True)
        result["benchmarks"][name] = res

    result["seconds"] = time.time() - started
    try:
        result["machine"]["loadavg_end"] = os.getloadavg()
    except OSError:
        pass
    out = args.out
    if out is None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = OUT_DIR / f"bench-{mode}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")

    print("\nSummary of targets:")
    for name, res in result["benchmarks"].items():
        if "error" in res:
            print(f"  {name}: ERROR {res['error']}")
        for target in res.get("targets", []):
            print(f"  {name}: {target['target']}: {'MET' if target['met'] else 'NOT MET'}")
    print(f"\nResults written to {out} ({result['seconds']:.0f} s in all)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
