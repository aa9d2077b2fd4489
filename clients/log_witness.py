#!/usr/bin/env python3
"""Reference witness of a TrinhKy transparency log (standard library only).

Another committee, the superior committee or an archive runs this to receive every
signed tree head a TrinhKy server publishes (its witness webhook), check it and keep it:

    python clients/log_witness.py --secret-file witness.secret --store heads/ \
        --log-url https://trinhky.example.vn [--port 8470] [--mail-to luutru@example.vn]

For each POST it checks ``X-TrinhKy-Signature`` (HMAC-SHA256 with the secret the
server's administrator gave, at most 5 minutes old), then that the new head extends the
last one kept: it fetches ``GET /api/v1/log/consistency?from=OLD&to=NEW`` from the log and
checks the RFC 9162 proof against both roots. A head that does not extend the last one
(a rewritten log) is refused (409) and written to ``ALERTS.jsonl``; a good one is
appended to ``heads.jsonl`` and, with ``--mail-to``, mailed to the archive.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import smtplib
import sys
import time
import urllib.request
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def check_signature(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` (``t=<unix>,v1=<hex>``) signs ``body`` with ``secret``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(now - t) <= tolerance and hmac.compare_digest(mac, parts.get("v1", ""))


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new:
        return old == 0 and not proof
    path = ([old_root] if old & (old - 1) == 0 else []) + list(proof)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


class Witness:
    """What the witness keeps and checks."""

    def __init__(
        self, store: Path, secret: str, log_url: str, mail_to: str | None, smtp: str
    ) -> None:
        self.store, self.secret, self.log_url = store, secret, log_url.rstrip("/")
        self.mail_to, self.smtp = mail_to, smtp
        store.mkdir(parents=True, exist_ok=True)

    def fetch(self, path: str) -> dict[str, Any]:
        """GET a JSON document of the log."""
        with urllib.request.urlopen(self.log_url + path, timeout=20) as response:  # noqa: S310
            answer: dict[str, Any] = json.load(response)
        return answer

    def last(self) -> dict[str, Any] | None:
        path = self.store / "heads.jsonl"
        if not path.exists():
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
        return json.loads(lines[-1]) if lines else None

    def extends(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        if new["size"] < old["size"]:
            return False
        body = self.fetch(f"/api/v1/log/consistency?from={old['size']}&to={new['size']}")
        proof = [bytes.fromhex(h) for h in body["consistency_path"]]
        return verify_consistency(
            old["size"],
            new["size"],
            bytes.fromhex(old["root_hash"]),
            bytes.fromhex(new["root_hash"]),
            proof,
        )

    def receive(self, body: bytes, header: str) -> tuple[int, str]:
        if not check_signature(self.secret, body, header, int(time.time())):
            return 401, "bad signature"
        head = json.loads(body)["tree_head"]
        last = self.last()
        if last is not None and not self.extends(last, head):
            with (self.store / "ALERTS.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"kept": last, "received": head}, ensure_ascii=False) + "\n")
            return 409, "this head does not extend the last one kept: the log was rewritten"
        with (self.store / "heads.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(head, ensure_ascii=False, sort_keys=True) + "\n")
        if self.mail_to:
            message = EmailMessage()
            message["Subject"] = f"TrinhKy tree head {head['size']} {head['root_hash'][:16]}"
            message["From"] = message["To"] = self.mail_to
            message.set_content(json.dumps(head, ensure_ascii=False, indent=2))
            with smtplib.SMTP(self.smtp) as smtp:
                smtp.send_message(message)
        return 200, "kept"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--log-url", required=True, help="the TrinhKy server's public address")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--mail-to", help="also mail every kept head to this archive address")
    parser.add_argument("--smtp", default="localhost")
    args = parser.parse_args(argv)
    secret = args.secret_file.read_text(encoding="utf-8").strip()
    witness = Witness(args.store, secret, args.log_url, args.mail_to, args.smtp)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                status, text = witness.receive(body, self.headers.get("X-TrinhKy-Signature", ""))
            except (ValueError, KeyError, OSError) as exc:
                status, text = 400, f"cannot check this head: {exc}"
            self.send_response(status)
            self.end_headers()
            self.wfile.write(text.encode())

    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    print(f"witness listening on http://{args.bind}:{args.port}/ (store {args.store})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
