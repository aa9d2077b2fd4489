"""bench: the signing journey's throughput on one app host against two, sharing one
PostgreSQL and one S3-compatible object store, on the same machine.

``python -m bench.hosts [--pg postgresql://USER@HOST:PORT/postgres] [--journeys 24] [--clients 8]``

A throwaway database on the PostgreSQL server (``--pg``, else ``TRINHKY_TEST_POSTGRES_URL``)
and moto's S3 server on a loopback port are initialised once (``flask init``, demo data,
blobs in the bucket). Then, for one host (gunicorn as ``make run`` starts it, 2 workers) and
for two hosts (two of them, clients alternating between them), ``--clients`` clients carry
``--journeys`` documents each round through upload → submit → approve → sign (PAdES at
``--level``, B-LT by default). Prints journeys per second of each and the ratio two/one,
with the machine's core count and load: on a 2-core machine both share the same cores, so
the ratio says what a second host costs or gains there, not on two machines. The servers,
instances and tokens are those of :mod:`bench.served`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from bench.blob_stores import moto_server
from bench.common import REPO_ROOT, make_pdf_bytes
from bench.served import DEMO_PASSWORD, Server, env_for, init_instance, postgres_database, token

OUT = Path(__file__).resolve().parent / "out" / "hosts.json"


@contextmanager
def host(instance: Path, env: dict[str, str]) -> Iterator[str]:
    """One app host serving ``instance``: :returns: its base URL."""
    server = Server(REPO_ROOT, env, instance.parent / "gunicorn.log")
    try:
        server.wait_ready()
        yield server.base
    finally:
        server.stop()


def _headers(base: str, user: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token(base, user)}


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
        ("bithu", "sign", {"passphrase": DEMO_PASSWORD}),
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
    tokens = {u: _headers(bases[0], u) for u in ("chuyenvien", "truongban", "bithu")}
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
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database(args.pg))
        endpoint = stack.enter_context(moto_server())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        requests.put(f"{endpoint}/trinhky-bench", timeout=30).raise_for_status()
        settings = {
            "SIGNATURE_LEVEL": args.level,
            "SECRET_KEY": "bench-secret-key",
            "WEBHOOK_IMMEDIATE": "false",
            "BLOB_URL": "s3://trinhky-bench/hosts",
            "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": "bench",
            "S3_SECRET_ACCESS_KEY": "bench-secret",
            "S3_ADDRESSING_STYLE": "path",
        }
        first, second = tmp / "a" / "instance", tmp / "b" / "instance"
        init_instance(REPO_ROOT, first, url, **settings)
        shutil.copytree(first, second)  # the second host: the same configuration
        with host(first, env_for(first, **settings)) as a:
            one = measure([a], args.journeys, args.clients)
        with (
            host(first, env_for(first, **settings)) as a,
            host(second, env_for(second, **settings)) as b,
        ):
            two = measure([a, b], args.journeys, args.clients)
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
