"""``python -m trinhky_verify BUNDLE.zip``: verify an audit bundle offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trinhky_verify.checks import BundleUnreadable, summary, verify_bundle


def main(argv: list[str] | None = None) -> int:
    """:returns: 0 if every check passed, 1 on any mismatch, 2 if the bundle is unreadable."""
    parser = argparse.ArgumentParser(
        prog="python -m trinhky_verify",
        description="Verify a TrinhKy audit bundle offline (hashes, signatures, ledger, "
        "audit chain, checkpoints, coverage figures).",
    )
    parser.add_argument("bundle", type=Path, help="the bundle ZIP exported by TrinhKy")
    parser.add_argument(
        "--quiet", action="store_true", help="print only failures, warnings and the summary"
    )
    args = parser.parse_args(argv)
    try:
        lines = verify_bundle(args.bundle)
    except BundleUnreadable as exc:
        print(f"[FAIL] bundle: {exc}")
        print("SUMMARY: bundle NOT VERIFIED (unreadable)")
        return 2
    for line in lines:
        if not args.quiet or line.status in ("FAIL", "WARN"):
            print(line.render())
    text, ok = summary(lines)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
