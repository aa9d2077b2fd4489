"""bench: the signing journey's throughput on one app host against two, sharing one
PostgreSQL and one S3-compatible object store, on the same machine.

``python -m bench.hosts [--pg postgresql://USER@HOST:PORT/postgres] [--journeys 24] [--clients 8]``

A throwaway database on the PostgreSQL server (``--pg``, else ``TRINHKY_TEST_POSTGRES_URL``)
and moto's S3 server on a loopback port are initialised once (``flask init``, demo data,
blobs in the bucket). Then, for one host (gunicorn, 2 workers) and for two hosts (two
gunicorns, 2 workers each, clients alternating between them), ``--clients`` clients
carry ``--journeys`` documents each round through upload → submit → approve → sign
(PAdES at ``--level``, B-LT by default). Prints journeys per second of each and the ratio
two/one, with the machine's core count and load: on a 2-core machine both share the
same cores, so the ratio says what a second host costs or gains there, not on two machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import requests
from sqlalchemy import make_url

from bench.blob_stores import moto_server
from bench.common import REPO_ROOT, make_pdf_bytes

PASSWORD = "bench-demo-password-2026"  # noqa: S105 - the demo users of a throwaway database
OUT = Path(__file__).resolve().parent / "out" / "hosts.json"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(instance: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRINHKY_")}
    env.update(TRINHKY_INSTANCE_PATH=str(instance), TRINHKY_DEMO_PASSWORD=PASSWORD, **extra)
    return env


@contextmanager
def gunicorn(instance: Path, env: dict[str, str]) -> Iterator[str]:
    port = _port()
    log = (instance.parent / f"gunicorn-{port}.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and app
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "120",
            "--preload",
            "wsgi:app",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: see {log.name}")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()


def _token(base: str, user: str) -> dict[str, str]:
    r = requests.post(
        base + "/api/v1/auth/token", json={"username": user, "password": PASSWORD}, timeout=60
    )
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["token"]}


def journey(bases: list[str], tokens: dict[str, dict[str, str]], n: int) -> None:
    """Upload, submit, approve and sign one document, each step on the next host."""
    hop = iter(bases * 4)
    pdf = make_pdf_bytes(f"Van ban {n}")
    r = requests.post(
        next(hop) + "/api/v1/documents",
        headers=tokens["chuyenvien"],
        files={"file": ("vb.pdf", pdf, "application/pdf")},
        data={"subject": f"Văn bản đo tải {n}", "doc_type": "CV"},
        timeout=300,
    )
    r.raise_for_status()
    doc_id = r.json()["id"]
    requests.post(
        f"{next(hop)}/api/v1/documents/{doc_id}/submit", headers=tokens["chuyenvien"], timeout=300
    ).raise_for_status()
    for user, action, body in (
        ("truongban", "approve", {}),
        ("bithu", "sign", {"passphrase": PASSWORD}),
    ):
        base = next(hop)
        tasks = requests.get(base + "/api/v1/tasks", headers=tokens[user], timeout=300).json()[
            "tasks"
        ]
        (task,) = [t for t in tasks if t["document_id"] == doc_id]
        requests.post(
            f"{base}/api/v1/tasks/{task['id']}/{action}",
            headers=tokens[user],
            json=body,
            timeout=300,
        ).raise_for_status()


def measure(bases: list[str], journeys: int, clients: int) -> float:
    """:returns: journeys per second with ``clients`` concurrent clients."""
    tokens = {u: _token(bases[0], u) for u in ("chuyenvien", "truongban", "bithu")}
    journey(bases, tokens, -1)  # warm-up
    counter = iter(range(journeys))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(k: int) -> None:
        mine = bases[k % len(bases) :] + bases[: k % len(bases)]
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            try:
                journey(mine, tokens, n)
            except BaseException as exc:  # noqa: BLE001 - reported after the run
                errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} journeys failed, first: {errors[0]!r}")
    return journeys / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hosts", description=__doc__)
    parser.add_argument("--pg", default=os.environ.get("TRINHKY_TEST_POSTGRES_URL"))
    parser.add_argument("--journeys", type=int, default=24)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--level", default="B-LT")
    args = parser.parse_args(argv)
    if not args.pg:
        parser.error("needs a PostgreSQL server: --pg or TRINHKY_TEST_POSTGRES_URL")
    admin = make_url(args.pg)
    name = f"trinhky_bench_hosts_{uuid.uuid4().hex[:8]}"
    conn = psycopg.connect(
        admin.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )
    conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
            endpoint = stack.enter_context(moto_server())
            s3 = {
                "TRINHKY_BLOB_URL": "s3://trinhky-bench/hosts",
                "TRINHKY_S3_ENDPOINT_URL": endpoint,
                "TRINHKY_S3_REGION": "us-east-1",
                "TRINHKY_S3_ACCESS_KEY_ID": "bench",
                "TRINHKY_S3_SECRET_ACCESS_KEY": "bench-secret",
                "TRINHKY_S3_ADDRESSING_STYLE": "path",
            }
            requests.put(f"{endpoint}/trinhky-bench", timeout=30).raise_for_status()
            extra = {
                "TRINHKY_DATABASE_URL": url,
                "TRINHKY_SIGNATURE_LEVEL": args.level,
                "TRINHKY_SECRET_KEY": "bench-secret-key",
                "TRINHKY_WEBHOOK_IMMEDIATE": "false",
                **s3,
            }
            first, second = Path(tmp) / "a" / "instance", Path(tmp) / "b" / "instance"
            first.mkdir(parents=True)
            init = subprocess.run(
                [sys.executable, "-m", "flask", "--app", "wsgi", "init"],  # noqa: S603
                cwd=REPO_ROOT,
                env=_env(first, extra),
                capture_output=True,
                text=True,
                timeout=600,
            )
            if init.returncode:
                raise RuntimeError(init.stderr[-2000:])
            shutil.copytree(first, second)
            with gunicorn(first, _env(first, extra)) as a:
                one = measure([a], args.journeys, args.clients)
            with (
                gunicorn(first, _env(first, extra)) as a,
                gunicorn(second, _env(second, extra)) as b,
            ):
                two = measure([a, b], args.journeys, args.clients)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
    load = os.getloadavg()
    result = {
        "one_host_per_s": one,
        "two_hosts_per_s": two,
        "ratio": two / one,
        "cores": os.cpu_count(),
        "load": load,
        "journeys": args.journeys,
        "clients": args.clients,
        "level": args.level,
    }
    print(f"signing journeys ({args.level}, {args.clients} clients, {args.journeys} each run):")
    print(f"  one host (2 workers):        {one:6.2f} journeys/s")
    print(f"  two hosts (2 workers each):  {two:6.2f} journeys/s   ratio {two / one:4.2f}")
    print(
        f"  machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
