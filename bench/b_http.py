"""Benchmark 3: signing throughput through the HTTP API vs the use-case in a loop."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, make_pdf_bytes, summarise

NAME = "http"
TITLE = "Signing throughput: HTTP API (gunicorn, 2 workers, 16 clients) vs service.sign loop"
TARGET_RATIO = 0.80
WORKERS = 2
CLIENTS = 16
DEMO_PASSWORD = "Bench-TrinhKy-2026"  # noqa: S105 - throwaway demo instance
BIN = Path(sys.executable).parent


def _env(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRINHKY_")}
    env.update(
        TRINHKY_INSTANCE_PATH=str(instance),
        TRINHKY_DEMO_PASSWORD=DEMO_PASSWORD,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn in its own process group; :meth:`stop` always ends it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our venv's gunicorn, loopback only
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(WORKERS),
                "--timeout",
                "120",
                "--no-control-socket",  # do not touch a running server's control socket
                "wsgi:app",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                if requests.get(f"{self.base}/api/v1/openapi.json", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within the timeout")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group we started
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self._log.close()


def _api(session: Any, method: str, url: str, **kwargs: Any) -> Any:
    response = session.request(method, url, timeout=120, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return response.json()


def _token(base: str, username: str) -> str:
    import requests

    with requests.Session() as s:
        body = _api(
            s,
            "POST",
            f"{base}/api/v1/auth/token",
            json={"username": username, "password": DEMO_PASSWORD},
        )
    return str(body["token"])


def _prepare(base: str, count: int) -> list[int]:
    """Upload, submit and approve ``count`` documents; :returns: bithu's sign task ids."""
    import requests

    tokens = {u: _token(base, u) for u in ("chuyenvien", "truongban", "bithu")}
    local = threading.local()

    def sess(user: str) -> Any:
        key = f"s_{user}"
        if not hasattr(local, key):
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {tokens[user]}"
            setattr(local, key, s)
        return getattr(local, key)

    def upload(i: int) -> None:
        s = sess("chuyenvien")
        pdf = make_pdf_bytes(f"Van ban do hieu nang so {i}")
        doc = _api(
            s,
            "POST",
            f"{base}/api/v1/documents",
            files={"file": (f"van-ban-{i}.pdf", pdf, "application/pdf")},
            data={"subject": f"Văn bản đo hiệu năng số {i}", "doc_type": "CV"},
        )
        _api(s, "POST", f"{base}/api/v1/documents/{doc['id']}/submit")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(upload, range(count)))
        approver = sess("truongban")
        approvals = [
            t["id"]
            for t in _api(approver, "GET", f"{base}/api/v1/tasks")["tasks"]
            if t.get("action") == "approve"
        ]
        list(
            pool.map(
                lambda tid: _api(sess("truongban"), "POST", f"{base}/api/v1/tasks/{tid}/approve"),
                approvals,
            )
        )
    signer = sess("bithu")
    tasks = [
        int(t["id"])
        for t in _api(signer, "GET", f"{base}/api/v1/tasks")["tasks"]
        if t.get("action") == "sign"
    ]
    if len(tasks) < count:
        raise RuntimeError(f"prepared {len(tasks)} signing tasks, wanted {count}")
    return tasks[:count]


def _http_sign(base: str, warmup: list[int], tasks: list[int]) -> dict[str, Any]:
    """Sign ``tasks`` with 16 client threads; :returns: throughput and latencies."""
    import requests

    token = _token(base, "bithu")
    body = {"passphrase": DEMO_PASSWORD}

    def one(s: Any, tid: int) -> None:
        _api(s, "POST", f"{base}/api/v1/tasks/{tid}/sign", json=body)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:  # warm both workers
        ws = [requests.Session() for _ in range(WORKERS)]
        for s in ws:
            s.headers["Authorization"] = f"Bearer {token}"
        list(pool.map(lambda p: one(ws[p[0] % WORKERS], p[1]), enumerate(warmup)))

    work: queue.Queue[int] = queue.Queue()
    for tid in tasks:
        work.put(tid)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            while True:
                try:
                    tid = work.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                try:
                    one(s, tid)
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                except Exception as exc:  # counted, reported
                    with lock:
                        errors.append(f"{tid}: {exc}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    barrier.wait()
    t_start = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - t_start
    return {
        "signed": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "per_second": len(latencies) / wall if wall else 0.0,
        "latency": summarise(latencies) if latencies else None,
    }


def _loop_baseline(env: dict[str, str], warmup: list[int], tasks: list[int]) -> dict[str, Any]:
    """2 processes, each looping ``workflow.documents.usecases.sign`` over half of ``tasks``."""
    procs = []
    try:
        for p in range(WORKERS):
            proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
                [sys.executable, "-m", "bench._signloop", "bithu"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            job = {
                "warmup": warmup[p::WORKERS],
                "tasks": tasks[p::WORKERS],
                "passphrase": DEMO_PASSWORD,
            }
            assert proc.stdin is not None and proc.stdout is not None  # noqa: S101
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            procs.append(proc)
        for proc in procs:
            line = proc.stdout.readline().strip()  # type: ignore[union-attr]
            if line != "ready":
                err = proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
                raise RuntimeError(f"baseline child not ready: {line!r} {err[-1500:]}")
        for proc in procs:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"baseline child failed: {err[-1500:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    latencies = [x for r in results for x in r["latencies"]]
    errors = [x for r in results for x in r["errors"]]
    wall = max(r["t_end"] for r in results) - min(r["t_start"] for r in results)
    return {
        "signed": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "per_second": len(latencies) / wall if wall else 0.0,
        "latency": summarise(latencies) if latencies else None,
    }


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; :returns: the result dictionary."""
    n = 12 if quick else 48
    warm_http, warm_base = 2 * WORKERS, WORKERS
    with tempfile.TemporaryDirectory(prefix="trinhky-bench-http-") as tmp:
        tmpdir = Path(tmp)
        env = _env(tmpdir / "instance")
        init = subprocess.run(  # noqa: S603
            [str(BIN / "flask"), "--app", "wsgi", "init"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if init.returncode != 0:
            raise RuntimeError(f"flask init failed: {init.stderr[-1500:]}")
        server = Server(env, tmpdir / "gunicorn.log")
        try:
            server.wait_ready()
            t0 = time.perf_counter()
            ids = _prepare(server.base, warm_http + n + warm_base + n)
            prep_s = time.perf_counter() - t0
            http_warm, http_ids = ids[:warm_http], ids[warm_http : warm_http + n]
            rest = ids[warm_http + n :]
            base_warm, base_ids = rest[:warm_base], rest[warm_base:]
            http = _http_sign(server.base, http_warm, http_ids)
        except BaseException:
            log = (tmpdir / "gunicorn.log").read_text(errors="replace")[-3000:]
            print(f"  gunicorn log tail:\n{log}", file=sys.stderr)
            raise
        finally:
            server.stop()
        baseline = _loop_baseline(env, base_warm, base_ids)

    r = http["per_second"] / baseline["per_second"] if baseline["per_second"] else 0.0
    lines = [f"  {n} signatures each; {len(ids)} documents prepared via the API in {prep_s:.1f} s"]
    for label, res in (
        (f"HTTP API, gunicorn {WORKERS} workers, {CLIENTS} clients", http),
        (f"service.sign loop, {WORKERS} processes", baseline),
    ):
        lat = res["latency"] or {"median_ms": float("nan"), "p90_ms": float("nan")}
        lines.append(
            f"  {label:<44} {res['per_second']:6.2f} sig/s  (wall {res['wall_s']:.1f} s; "
            f"latency median {lat['median_ms']:.0f} ms p90 {lat['p90_ms']:.0f} ms; "
            f"errors {len(res['errors'])})"
        )
    lines.append(f"  ratio HTTP / loop: {r:.2f}")
    for res in (http, baseline):
        for e in res["errors"][:3]:
            lines.append(f"  error: {e[:300]}")
    return {
        "name": NAME,
        "title": TITLE,
        "documents": n,
        "prepare_seconds": prep_s,
        "http": http,
        "baseline_loop": baseline,
        "ratio_http_over_loop": r,
        "targets": [
            {
                "target": f"HTTP throughput >= {TARGET_RATIO:.2f} x in-process loop",
                "value": r,
                "met": r >= TARGET_RATIO and not http["errors"] and not baseline["errors"],
            }
        ],
        "lines": lines,
    }
