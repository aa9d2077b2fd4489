"""``python -m trinhky_verify BUNDLE.zip``: verify an audit bundle offline."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trinhky_verify import logs
from trinhky_verify.checks import BundleUnreadable, summary, verify_bundle
from trinhky_verify.tlog import ExportUnreadable, verify_log


def log_main(argv: list[str]) -> int:
    """``python -m trinhky_verify log EXPORT.zip [--since HEAD.json|OLD.zip]``.

    :returns: 0 if every check passed, 1 on any mismatch, 2 if an input is unreadable.
    """
    parser = argparse.ArgumentParser(
        prog="python -m trinhky_verify log",
        description="Verify a TrinhKy transparency log export offline and, with --since, "
        "prove that it extends a tree head saved earlier (or name the first bad entry).",
    )
    parser.add_argument("export", type=Path, help="the export of `flask --app wsgi log export`")
    parser.add_argument(
        "--since",
        type=Path,
        metavar="HEAD",
        help="a tree head saved earlier (JSON of GET /api/v1/log/head) or an earlier export",
    )
    args = parser.parse_args(argv)
    try:
        lines = verify_log(args.export, args.since)
    except ExportUnreadable as exc:
        print(f"[FAIL] log: {exc}")
        print("SUMMARY: log NOT VERIFIED (unreadable)")
        return 2
    for line in lines:
        print(line.render())
    text, ok = summary(lines)
    print(text.replace("bundle", "log"))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """:returns: 0 if every check passed, 1 on any mismatch, 2 if the bundle is unreadable
    or the verification could not be completed."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["log"]:
        return log_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m trinhky_verify",
        description="Verify a TrinhKy audit bundle offline (hashes, signatures, ledger, "
        "audit chain, checkpoints, coverage figures).",
    )
    parser.add_argument("bundle", type=Path, help="the bundle ZIP exported by TrinhKy")
    parser.add_argument(
        "--quiet", action="store_true", help="print only failures, warnings and the summary"
    )
    parser.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="write what the validation library logs (with tracebacks) to FILE; by "
        "default it is only summarised on the check it belongs to",
    )
    args = parser.parse_args(argv)
    logs.configure(args.log)
    try:
        lines = verify_bundle(args.bundle)
    except BundleUnreadable as exc:
        print(f"[FAIL] bundle: {exc}")
        print("SUMMARY: bundle NOT VERIFIED (unreadable)")
        return 2
    except Exception as exc:  # noqa: BLE001 - a verifier bug must not look like a verdict
        logging.getLogger("trinhky_verify").exception("verification stopped")
        print(f"[FAIL] verifier: stopped by an unexpected error ({type(exc).__name__}: {exc})")
        print("SUMMARY: bundle NOT VERIFIED (the verification could not be completed)")
        return 2
    for line in lines:
        if not args.quiet or line.status in ("FAIL", "WARN"):
            print(line.render())
    text, ok = summary(lines)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
