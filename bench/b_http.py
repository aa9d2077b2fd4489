"""Benchmark 3: signing over HTTP at B-LT against honest baselines and the starting commit.

In one run, on two fresh instances of the embedded default (SQLite, B-LT):

1. the signing function alone (``sign_pdf_file``, the request's profile and stamp, key
   decrypted once, timestamp and revocation data in process), one process;
2. the service function in process (``workflow.signatures.flow.run``: the same unit of
   work as the request), two processes as the two workers;
3. the HTTP request (``POST /api/v1/tasks/<id>/sign``), gunicorn with 2 workers started
   as ``make run`` starts it, 16 clients; CPU of the server's processes per request;
4. the same HTTP request against the starting commit (``BENCH_BASE_REF``, default
   10702c9), checked out with ``git worktree add --detach`` and served the way that
   commit's ``make run`` served it.

The two servers of 3 and 4 run side by side and are measured in alternating rounds
(this code, the starting commit, the starting commit, this code, twice over in a full
run), so the machine's load drifting during the run weighs on both; each one's
throughput is its signatures over its measured time.

Ratios: new HTTP / starting commit's HTTP (target ≥ 3), request CPU / signing function
CPU (target ≤ 10), HTTP / service in process (≤ 1: the service bounds HTTP from above).

Why the old baseline lost to HTTP: it looped over ``flow.sign``, which runs all three
phases in one transaction, and on SQLite every transaction was ``BEGIN IMMEDIATE``: each
loop held the database's write lock while it signed and validated, so the two processes
took turns (about one core), while the HTTP view (``flow.run``) commits between the
phases and signed on both cores. The loop measured the lock, not the signing.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, summarise
from bench.served import (
    DEMO_PASSWORD,
    Server,
    Users,
    base_worktree,
    init_instance,
    loadavg,
    prepare_to_sign,
)

NAME = "http"
TITLE = "Signing at B-LT: function alone, service in process, HTTP (2 workers, 16 clients), and the starting commit's HTTP"
WORKERS = 2
CLIENTS = 16
BASE_REF = os.environ.get("BENCH_BASE_REF", "10702c9")
WARM = 4 * CLIENTS
"""Warm-up signatures per server, before the measured rounds."""
TARGET_SPEEDUP = 3.0
TARGET_CPU_RATIO = 10.0


def _http_sign(server: Server, users: Users, tasks: list[int]) -> dict[str, Any]:
    """Sign ``tasks`` with 16 client threads: throughput, latencies, server CPU per request."""
    body = {"passphrase": DEMO_PASSWORD}
    work: queue.Queue[int] = queue.Queue()
    for tid in tasks:
        work.put(tid)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        barrier.wait()
        while True:
            try:
                tid = work.get_nowait()
            except queue.Empty:
                return
            t0 = time.perf_counter()
            try:
                users.call("bithu", "POST", f"/tasks/{tid}/sign", json=body)
                with lock:
                    latencies.append(time.perf_counter() - t0)
            except Exception as exc:  # counted, reported
                with lock:
                    errors.append(f"{tid}: {exc}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    cpu0 = server.cpu_seconds()
    barrier.wait()
    t_start = time.perf_counter()
    for t in threads:
        t.join(timeout=900)
    wall = time.perf_counter() - t_start
    cpu = server.cpu_seconds() - cpu0
    return {
        "signed": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "per_second": len(latencies) / wall if wall else 0.0,
        "cpu_ms_per_request": 1000 * cpu / len(latencies) if latencies else float("nan"),
        "latency": summarise(latencies) if latencies else None,
        "latencies": latencies,
    }


def _children(
    mode: str, env: dict[str, str], warmup: list[int], tasks: list[int], procs_n: int
) -> dict[str, Any]:
    """``procs_n`` processes of ``bench._signloop MODE`` over ``tasks`` (split)."""
    procs = []
    try:
        for p in range(procs_n):
            proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
                [sys.executable, "-m", "bench._signloop", mode, "bithu"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            job = {
                "warmup": warmup[p::procs_n],
                "tasks": tasks[p::procs_n],
                "passphrase": DEMO_PASSWORD,
            }
            assert proc.stdin is not None and proc.stdout is not None  # noqa: S101
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            procs.append(proc)
        for proc in procs:
            line = proc.stdout.readline().strip()  # type: ignore[union-attr]
            if line != "ready":
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"{mode} child not ready: {line!r} {err[-1500:]}")
        for proc in procs:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f"{mode} child failed: {err[-1500:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    latencies = [x for r in results for x in r["latencies"]]
    cpu = [x for r in results for x in r["cpu"]]
    errors = [x for r in results for x in r["errors"]]
    wall = max(r["t_end"] for r in results) - min(r["t_start"] for r in results)
    return {
        "signed": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "per_second": len(latencies) / wall if wall else 0.0,
        "cpu_ms_per_request": 1000 * sum(cpu) / len(cpu) if cpu else float("nan"),
        "latency": summarise(latencies) if latencies else None,
    }


@contextmanager
def _served(code: Path, tmpdir: Path, label: str, count: int) -> Iterator[tuple[Any, ...]]:
    """An instance of ``code`` served by gunicorn, with ``count`` signing tasks prepared
    and the workers warmed first (:data:`WARM` signatures from all the clients at once,
    so that both workers sign, load their keys and fill their caches before a round):
    ``(server, users, env, task ids)``."""
    env = init_instance(code, tmpdir / label / "instance")
    server = Server(code, env, tmpdir / label / "gunicorn.log", workers=WORKERS)
    try:
        server.wait_ready()
        users = Users(server.base, ("chuyenvien", "truongban", "bithu"))
        ids = prepare_to_sign(users, WARM + count)
        body = {"passphrase": DEMO_PASSWORD}
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            list(
                pool.map(
                    lambda t: users.call("bithu", "POST", f"/tasks/{t}/sign", json=body),
                    ids[:WARM],
                )
            )
        yield server, users, env, ids[WARM:]
    except BaseException:
        print(server.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        server.stop()


def _merged(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one server as one run: throughput over the summed time."""
    signed = sum(r["signed"] for r in rounds)
    wall = sum(r["wall_s"] for r in rounds)
    cpu_ms = sum(r["cpu_ms_per_request"] * r["signed"] for r in rounds if r["signed"])
    latencies = [x for r in rounds for x in r["latencies"]]
    return {
        "signed": signed,
        "errors": [e for r in rounds for e in r["errors"]],
        "wall_s": wall,
        "per_second": signed / wall if wall else 0.0,
        "cpu_ms_per_request": cpu_ms / signed if signed else float("nan"),
        "latency": summarise(latencies) if latencies else None,
        "rounds": [round(r["per_second"], 2) for r in rounds],
    }


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; :returns: the result dictionary.

    The two servers run side by side (one idle while the other is measured) and are
    measured in rounds in the order new, old, old, new (ABBA; twice over in a full run),
    so a change of the machine's load during the run weighs on both alike.
    """
    n = 12 if quick else 40
    order = ("new", "base", "base", "new") * (1 if quick else 2)
    per_server = n * order.count("new")
    lines = [f"  before: {loadavg()}"]
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-http-") as tmp:
        tmpdir = Path(tmp)
        spare_n = WORKERS + n + 2
        with (
            base_worktree(BASE_REF) as base_code,
            _served(REPO_ROOT, tmpdir, "new", per_server + spare_n) as new_side,
            _served(base_code, tmpdir, "base", per_server) as base_side,
        ):
            sides = {"new": new_side, "base": base_side}
            queues = {"new": list(new_side[3][:per_server]), "base": list(base_side[3])}
            rounds: dict[str, list[dict[str, Any]]] = {"new": [], "base": []}
            for label in order:
                server, users, _env, _ids = sides[label]
                tasks, queues[label] = queues[label][:n], queues[label][n:]
                rounds[label].append(_http_sign(server, users, tasks))
            env, spare = new_side[2], list(new_side[3][per_server:])
        new, old = _merged(rounds["new"]), _merged(rounds["base"])
        kept, spare = spare[-2:], spare[:-2]  # the function alone only reads its tasks
        service = _children("service", env, spare[:WORKERS], spare[WORKERS:], WORKERS)
        function = _children("function", env, kept[:1], (kept * n)[:n], 1)
    lines.append(f"  after:  {loadavg()}")
    speedup = new["per_second"] / old["per_second"] if old["per_second"] else 0.0
    cpu_ratio = new["cpu_ms_per_request"] / function["cpu_ms_per_request"]
    http_over_service = new["per_second"] / service["per_second"] if service["per_second"] else 0
    for label, res in (
        ("signing function alone, 1 process", function),
        (f"service flow.run in process, {WORKERS} processes", service),
        (f"HTTP, this code, {WORKERS} workers, {CLIENTS} clients", new),
        (f"HTTP, starting commit {BASE_REF}", old),
    ):
        lat = res["latency"] or {"median_ms": float("nan"), "p90_ms": float("nan")}
        lines.append(
            f"  {label:<46} {res['per_second']:6.2f}/s  CPU {res['cpu_ms_per_request']:6.1f} ms"
            f"/signature  (latency median {lat['median_ms']:.0f} ms p90 {lat['p90_ms']:.0f} ms;"
            f" {res['signed']} done, errors {len(res['errors'])})"
        )
    lines.append(
        f"  HTTP rounds ({', '.join(order)}), signatures/s: this code "
        + ", ".join(f"{x:.2f}" for x in new["rounds"])
        + "; starting commit "
        + ", ".join(f"{x:.2f}" for x in old["rounds"])
    )
    lines.append(f"  ratio HTTP this code / starting commit: {speedup:.2f}")
    lines.append(f"  ratio request CPU / signing function CPU: {cpu_ratio:.2f}")
    lines.append(f"  ratio HTTP / service in process: {http_over_service:.2f}")
    for res in (new, old, service, function):
        for e in res["errors"][:3]:
            lines.append(f"  error: {e[:300]}")
    clean = not any(r["errors"] for r in (new, old, service, function))
    return {
        "name": NAME,
        "title": TITLE,
        "documents": n,
        "function": function,
        "service": service,
        "http": new,
        "http_base": old,
        "base_ref": BASE_REF,
        "targets": [
            {
                "target": f"HTTP throughput >= {TARGET_SPEEDUP:.0f} x the starting commit's",
                "value": speedup,
                "met": speedup >= TARGET_SPEEDUP and clean,
            },
            {
                "target": f"request CPU <= {TARGET_CPU_RATIO:.0f} x the signing function's",
                "value": cpu_ratio,
                "met": cpu_ratio <= TARGET_CPU_RATIO and clean,
            },
        ],
        "lines": lines,
    }
