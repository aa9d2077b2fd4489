"""Benchmark: the document page of a document with three signatures, 50 concurrent readers.

The embedded default (SQLite) and, when a PostgreSQL server is configured
(``TRINHKY_BENCH_POSTGRES_URL`` or ``TRINHKY_TEST_POSTGRES_URL``), PostgreSQL; gunicorn
with 2 workers started as ``make run`` starts it. The document: a PDF signed twice by a
certificate of the instance's own CA, uploaded, approved and signed by ``bithu`` over
the API at the production level (B-LT): three valid signatures. Then 50 threads, each
logged in through the login form (its own session cookie), fetch ``/documents/<id>``
(every view is recorded in the audit log, as in production) for a fixed time, each
pausing about a second between pages (``BENCH_THINK_SECONDS``): the target's p95. The
same readers back to back then give the saturation rate and the server's CPU per page.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, make_pdf_bytes, summarise
from bench.served import (
    DEMO_PASSWORD,
    POSTGRES_URL,
    Server,
    Users,
    http_session,
    init_instance,
    loadavg,
    open_tasks,
    postgres_database,
)

NAME = "page"
TITLE = "Document page with three signatures: 50 concurrent readers, SQLite and PostgreSQL"
READERS = 50
TARGET_P95_MS = 100.0
READERS_AS = ("chuyenvien", "truongban", "bithu")
THINK_SECONDS = float(os.environ.get("BENCH_THINK_SECONDS", "1.0"))
"""Average pause of a reader between two pages (people read what they opened)."""


def presigned_pdf(instance: Path, folder: Path, count: int) -> bytes:
    """A PDF signed ``count`` times (B-B) by a certificate of the instance's own CA."""
    from signing.keys import load_signer
    from signing.pades import sign_pdf_file
    from signing.pki import EmbeddedPki
    from signing.profiles import SigningProfile

    pki = EmbeddedPki.load(instance / "pki", (instance / "ca_passphrase").read_text().encode())
    issued = pki.issue_signing_certificate(
        full_name="Người ký trước",
        title="Phó Trưởng ban",
        unit="Ban Tuyên giáo",
        organisation="Đảng ủy Khối",
        passphrase="truoc",  # noqa: S106 - throwaway bench certificate
    )
    signer = load_signer(issued.cert_pem, issued.encrypted_key_pem, "truoc", pki.chain_pems())
    source = folder / "presigned-0.pdf"
    source.write_bytes(make_pdf_bytes("Van ban ba chu ky"))
    for n in range(1, count + 1):
        out = folder / f"presigned-{n}.pdf"
        sign_pdf_file(source, out, signer, SigningProfile(field_name=f"KyTruoc{n}"))
        source = out
    return source.read_bytes()


def three_signature_document(users: Users, pdf: bytes) -> int:
    """Upload ``pdf`` (two signatures), approve, and sign it (the third): :returns: its id."""
    doc = users.call(
        "chuyenvien",
        "POST",
        "/documents",
        files={"file": ("ba-chu-ky.pdf", pdf, "application/pdf")},
        data={"subject": "Văn bản có ba chữ ký", "doc_type": "CV"},
    )
    users.call("chuyenvien", "POST", f"/documents/{doc['id']}/submit")
    for task in open_tasks(users, "truongban", "approve"):
        users.call("truongban", "POST", f"/tasks/{task['id']}/approve", json={})
    for task in open_tasks(users, "bithu", "sign"):
        users.call("bithu", "POST", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    report = users.call("chuyenvien", "GET", f"/documents/{doc['id']}/validation")
    signatures = len(report.get("signatures", []))
    if signatures != 3 or report.get("verdict") != "valid":
        raise RuntimeError(f"wanted three valid signatures, got {signatures}: {report}")
    return int(doc["id"])


def web_login(base: str, username: str) -> Any:
    """A ``requests`` session logged in through the login form."""
    s = http_session()
    page = s.get(f"{base}/login", timeout=60).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if not match:
        raise RuntimeError("no CSRF token on the login page")
    r = s.post(
        f"{base}/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": match.group(1)},
        timeout=60,
    )
    if r.status_code >= 400 or "/login" in r.url:
        raise RuntimeError(f"login of {username} failed: {r.status_code}")
    return s


def readers(
    server: Server, sessions: list[Any], path: str, seconds: float, think: float
) -> dict[str, Any]:
    """Each logged-in reader fetches ``path`` for ``seconds``, pausing ``think`` seconds
    on average between pages (0: back to back): latencies, rate, errors, CPU per page."""
    base = server.base
    n = len(sessions)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n + 1)

    def read(s: Any, index: int) -> None:
        rnd = random.Random(index)  # noqa: S311 - spreads the readers, not security
        try:
            s.get(base + path, timeout=60)  # warm the connection
        finally:
            barrier.wait(timeout=300)
        time.sleep(rnd.uniform(0, think))
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            t0 = time.perf_counter()
            try:
                r = s.get(base + path, timeout=60)
                ok = r.status_code == 200 and "Hợp lệ" in r.text
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    if not ok:
                        errors.append(f"{r.status_code}")
            except Exception as exc:  # counted, reported
                with lock:
                    errors.append(str(exc)[:200])
            if think:
                time.sleep(rnd.uniform(0.5 * think, 1.5 * think))

    threads = [
        threading.Thread(target=read, args=(s, i), daemon=True) for i, s in enumerate(sessions)
    ]
    for t in threads:
        t.start()
    cpu0 = server.cpu_seconds()
    barrier.wait(timeout=300)
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 120)
    wall = time.perf_counter() - t0
    cpu = server.cpu_seconds() - cpu0
    return {
        "cpu_ms_per_page": 1000 * cpu / max(1, len(latencies)),
        "requests": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / wall,
        "latency": summarise(latencies) if latencies else None,
        "p95_ms": 1000 * statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else 0,
    }


def measure(database: str, tmpdir: Path, seconds: float) -> dict[str, Any]:
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database()) if database == "postgresql" else None
        instance = tmpdir / database / "instance"
        env = init_instance(REPO_ROOT, instance, url)
        server = Server(REPO_ROOT, env, tmpdir / database / "gunicorn.log")
        stack.callback(server.stop)
        server.wait_ready()
        users = Users(server.base, ("chuyenvien", "truongban", "bithu"))
        doc_id = three_signature_document(users, presigned_pdf(instance, tmpdir / database, 2))
        with ThreadPoolExecutor(max_workers=8) as pool:
            sessions = list(
                pool.map(lambda i: web_login(server.base, READERS_AS[i % 3]), range(READERS))
            )
        load_before = loadavg()
        result = readers(server, sessions, f"/documents/{doc_id}", seconds, THINK_SECONDS)
        result["load"] = f"{load_before} -> {loadavg()}"
        result["saturated"] = readers(server, sessions, f"/documents/{doc_id}", seconds / 2, 0)
        return result


def run(quick: bool) -> dict[str, Any]:
    seconds = 8.0 if quick else 20.0
    databases = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
    lines: list[str] = []
    targets = []
    results = {}
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-page-") as tmp:
        for database in databases:
            res = measure(database, Path(tmp), seconds)
            results[database] = res
            lat = res["latency"] or {"median_ms": float("nan")}
            sat = res["saturated"]
            lines.append(
                f"  {database:<10} {READERS} readers, a page each ~{THINK_SECONDS:g} s, "
                f"{seconds:.0f} s: {res['requests']} pages, {res['per_second']:.1f}/s, median "
                f"{lat['median_ms']:.0f} ms, p95 {res['p95_ms']:.0f} ms, server CPU "
                f"{res['cpu_ms_per_page']:.1f} ms/page, errors {len(res['errors'])}; {res['load']}"
            )
            lines.append(
                f"  {'':<10} the same readers back to back (saturation): {sat['per_second']:.1f}"
                f" pages/s, p95 {sat['p95_ms']:.0f} ms, server CPU {sat['cpu_ms_per_page']:.1f}"
                f" ms/page, errors {len(sat['errors'])}"
            )
            targets.append(
                {
                    "target": f"{database}: page p95 < {TARGET_P95_MS:.0f} ms with {READERS} readers",
                    "value": res["p95_ms"],
                    "met": res["p95_ms"] < TARGET_P95_MS and not res["errors"],
                }
            )
    if not POSTGRES_URL:
        lines.append("  PostgreSQL: not measured (set TRINHKY_BENCH_POSTGRES_URL)")
    return {"name": NAME, "title": TITLE, "results": results, "targets": targets, "lines": lines}
