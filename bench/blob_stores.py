"""bench: the object store's overhead per upload and download against the filesystem store.

``python -m bench.blob_stores [--sizes 0.1,1,10,40] [--repeat 5]``

Starts moto's standalone S3-protocol server (``python -m moto.server``, the one the tests
use) on a loopback port, then for each size (MB) times, round-robin in the same run,
``put`` (stage + publish: what an upload or a signature costs the store) and a full
streamed read (``open`` + read to the end: a download) on the filesystem store and on the
S3 store, each on fresh random content. Prints the medians and the ratio S3 / filesystem.
moto keeps objects in its own process's memory and speaks plain HTTP on loopback: the
figures are the protocol's and boto3's cost, not a real network's or disk's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from storage.blobs import CHUNK, BlobStore, FilesystemBlobStore, S3BlobStore, S3Config, S3Location

OUT_DIR = Path(__file__).resolve().parent / "out"


@contextmanager
def moto_server() -> Iterator[str]:
    """:returns: the endpoint of a moto S3 server running until the block ends."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(endpoint + "/moto-api/", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield endpoint
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def timed_put(store: BlobStore, data: bytes) -> tuple[float, str]:
    start = time.perf_counter()
    key = store.put(io.BytesIO(data))
    return time.perf_counter() - start, key


def timed_read(store: BlobStore, key: str) -> float:
    start = time.perf_counter()
    with store.open(key) as f:
        while f.read(CHUNK):
            pass
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.blob_stores", description=__doc__)
    parser.add_argument("--sizes", default="0.1,1,10,40", help="blob sizes in MB")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [float(s) for s in args.sizes.split(",")]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint:
        config = S3Config(endpoint, "us-east-1", "bench", "bench-secret", "path")
        client = config.client()
        client.create_bucket(Bucket="trinhky-bench")
        stores: dict[str, BlobStore] = {
            "filesystem": FilesystemBlobStore(Path(tmp) / "fs"),
            "s3": S3BlobStore(S3Location("trinhky-bench", "b/"), client, Path(tmp) / "staging"),
        }
        stores["s3"].put_bytes(b"warm-up")
        for size in sizes:
            times: dict[str, list[float]] = {
                f"{n}.{op}": [] for n in stores for op in ("put", "get")
            }
            for _ in range(args.repeat):
                for name, store in stores.items():
                    data = os.urandom(int(size * 1024 * 1024))
                    elapsed, key = timed_put(store, data)
                    times[f"{name}.put"].append(elapsed)
                    times[f"{name}.get"].append(timed_read(store, key))
            row = {k: statistics.median(v) * 1000 for k, v in times.items()}
            row["ratio.put"] = row["s3.put"] / row["filesystem.put"]
            row["ratio.get"] = row["s3.get"] / row["filesystem.get"]
            results[f"{size:g} MB"] = row
            print(
                f"{size:>6g} MB  put: fs {row['filesystem.put']:8.1f} ms  s3 {row['s3.put']:8.1f} ms"
                f"  ratio {row['ratio.put']:5.1f}×   get: fs {row['filesystem.get']:7.1f} ms"
                f"  s3 {row['s3.get']:8.1f} ms  ratio {row['ratio.get']:5.1f}×"
            )
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "blob_stores.json").write_text(json.dumps({"results": results, "load": load}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
