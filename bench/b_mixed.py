"""Benchmark: a mixed workload of 50 concurrent users (browse, upload, approve, sign).

On the embedded default (SQLite) and, when configured, PostgreSQL; gunicorn with 2
workers started as ``make run`` starts it, production signing level (B-LT). Of the 50
users, 35 browse (their task list, the document list, a document's API view and page
data), 5 upload and submit documents, 5 approve and 5 sign, each in a loop without
pause for a fixed time, pausing about a second between operations (``BENCH_THINK_SECONDS``; 0 for a
saturation test). Approvers and signers take prepared tasks from queues (no two
users on one task); a user whose queue is empty browses instead. Reported: operations
and HTTP requests per second, p95 per kind and overall, errors, and the machine's load.
"""

from __future__ import annotations

import os
import queue
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT
from bench.served import (
    DEMO_PASSWORD,
    POSTGRES_URL,
    Server,
    Users,
    init_instance,
    loadavg,
    open_tasks,
    postgres_database,
    prepare_to_sign,
    upload,
)

NAME = "mixed"
TITLE = "Mixed workload, 50 concurrent users (browse, upload, approve, sign), SQLite and PostgreSQL"
USERS = {"browse": 35, "upload": 5, "approve": 5, "sign": 5}
THINK_SECONDS = float(os.environ.get("BENCH_THINK_SECONDS", "1.0"))
"""Average pause of a user between two operations (0: back to back, a saturation test)."""
BROWSERS_AS = ("chuyenvien", "truongban", "bithu", "vanthu")


def _p95(values: list[float]) -> float:
    return 1000 * statistics.quantiles(values, n=20)[-1] if len(values) > 1 else float("nan")


def workload(
    server: Server,
    users: Users,
    seconds: float,
    approvals: list[int],
    signs: list[int],
    think: float,
) -> dict[str, Any]:
    approve_q: queue.Queue[int] = queue.Queue()
    sign_q: queue.Queue[int] = queue.Queue()
    for t in approvals:
        approve_q.put(t)
    for t in signs:
        sign_q.put(t)
    doc_ids = [d["id"] for d in users.call("chuyenvien", "GET", "/documents")["documents"]]
    times: dict[str, list[float]] = defaultdict(list)
    requests_done = [0]
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(10**9))
    total = sum(USERS.values())
    barrier = threading.Barrier(total + 1)

    def browse(me: str, rnd: random.Random) -> int:
        users.call(me, "GET", "/tasks")
        users.call("chuyenvien", "GET", "/documents")
        users.call("chuyenvien", "GET", f"/documents/{rnd.choice(doc_ids)}")
        return 3

    def act(kind: str, index: int) -> None:
        rnd = random.Random(index)  # noqa: S311 - workload mix, not security
        me = BROWSERS_AS[index % len(BROWSERS_AS)]
        barrier.wait(timeout=300)
        until = time.monotonic() + seconds
        time.sleep(rnd.uniform(0, think))
        while time.monotonic() < until:
            t0 = time.perf_counter()
            done_kind = kind
            try:
                if kind == "upload":
                    upload(users, 100000 + next(counter))
                    n = 2
                elif kind == "approve" and not approve_q.empty():
                    tid = approve_q.get_nowait()
                    users.call("truongban", "POST", f"/tasks/{tid}/approve", json={})
                    n = 1
                elif kind == "sign" and not sign_q.empty():
                    tid = sign_q.get_nowait()
                    users.call(
                        "bithu", "POST", f"/tasks/{tid}/sign", json={"passphrase": DEMO_PASSWORD}
                    )
                    n = 1
                else:
                    done_kind = "browse"
                    n = browse(me, rnd)
                with lock:
                    times[done_kind].append(time.perf_counter() - t0)
                    requests_done[0] += n
            except Exception as exc:  # counted, reported
                with lock:
                    errors.append(f"{kind}: {str(exc)[:200]}")
            if think:
                time.sleep(rnd.uniform(0.5 * think, 1.5 * think))

    threads = []
    index = 0
    for kind, count in USERS.items():
        for _ in range(count):
            threads.append(threading.Thread(target=act, args=(kind, index), daemon=True))
            index += 1
    for t in threads:
        t.start()
    load_before = loadavg()
    cpu0 = server.cpu_seconds()
    barrier.wait(timeout=300)
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 300)
    wall = time.perf_counter() - t0
    cpu = server.cpu_seconds() - cpu0
    everything = [x for v in times.values() for x in v]
    return {
        "operations": len(everything),
        "http_requests": requests_done[0],
        "ops_per_second": len(everything) / wall,
        "requests_per_second": requests_done[0] / wall,
        "p95_ms": _p95(everything),
        "cpu_ms_per_request": 1000 * cpu / max(1, requests_done[0]),
        "server_cpu_share": cpu / wall,
        "by_kind": {k: {"n": len(v), "p95_ms": _p95(v)} for k, v in sorted(times.items())},
        "errors": errors,
        "load": f"{load_before} -> {loadavg()}",
    }


def measure(database: str, tmpdir: Path, seconds: float, prepared: int) -> dict[str, Any]:
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database()) if database == "postgresql" else None
        env = init_instance(REPO_ROOT, tmpdir / database / "instance", url)
        server = Server(REPO_ROOT, env, tmpdir / database / "gunicorn.log")
        stack.callback(server.stop)
        server.wait_ready()
        users = Users(server.base, ("chuyenvien", "truongban", "bithu", "vanthu"))
        signs = prepare_to_sign(users, prepared)
        for i in range(prepared):
            upload(users, 50000 + i)
        approvals = [int(t["id"]) for t in open_tasks(users, "truongban", "approve")]
        result = workload(server, users, seconds, approvals, signs, THINK_SECONDS)
        if result["errors"]:  # the server's account of them, before its folder goes
            log = server.log_path.read_text(errors="replace").splitlines()
            result["server_log"] = [x for x in log if '" 20' not in x and '" 30' not in x][-40:]
        return result


def run(quick: bool) -> dict[str, Any]:
    seconds, prepared = (10.0, 40) if quick else (30.0, 120)
    databases = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
    if os.environ.get("BENCH_DATABASES"):
        databases = [d for d in databases if d in os.environ["BENCH_DATABASES"].split(",")]
    lines: list[str] = []
    results = {}
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-mixed-") as tmp:
        for database in databases:
            res = measure(database, Path(tmp), seconds, prepared)
            results[database] = res
            kinds = ", ".join(
                f"{k} {v['n']} (p95 {v['p95_ms']:.0f} ms)" for k, v in res["by_kind"].items()
            )
            lines.append(
                f"  {database:<10} {sum(USERS.values())} users, an operation each "
                f"~{THINK_SECONDS:g} s, {seconds:.0f} s: {res['ops_per_second']:.1f} operations/s, "
                f"{res['requests_per_second']:.1f} requests/s, p95 {res['p95_ms']:.0f} ms, server "
                f"CPU {res['cpu_ms_per_request']:.1f} ms/request ({res['server_cpu_share']:.2f} "
                f"cores busy), errors {len(res['errors'])}"
            )
            lines.append(f"             {kinds}")
            lines.append(f"             {res['load']}")
            for e in res["errors"][:3]:
                lines.append(f"             error: {e}")
            for x in res.get("server_log", []):
                lines.append(f"             server: {x[:300]}")
    if not POSTGRES_URL:
        lines.append("  PostgreSQL: not measured (set TRINHKY_BENCH_POSTGRES_URL)")
    return {"name": NAME, "title": TITLE, "results": results, "targets": [], "lines": lines}
