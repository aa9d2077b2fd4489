"""Real HTTP for tests: gunicorn serving a test's instance on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from storage.blobs import BlobStore, FilesystemBlobStore, S3Config
from tests.conftest import server_environment

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Served:
    """A test server that is up: where it answers and the instance it serves."""

    base: str
    """Its base URL, ``http://127.0.0.1:<port>``."""
    instance: Path
    """The instance folder it serves (database, blobs, PKI)."""


def free_port() -> int:
    """:returns: a loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def gunicorn(
    instance: Path, *, workers: int = 4, app: str = "wsgi:app", **settings: Any
) -> Iterator[str]:
    """Serve ``instance`` (its SQLite file, or the PostgreSQL URL in its config.py) with
    gunicorn until the block ends, with the tests' settings and ``settings`` (as
    ``TRINHKY_*`` variables); :returns: the base URL."""
    port = free_port()
    log = instance.parent / f"gunicorn-{port}.log"
    env = server_environment(instance, **settings)
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    # --preload: the app is imported once and the workers forked from it (seconds per
    # boot on two cores); they are still separate processes serving real requests.
    command += ["--workers", str(workers), "--config", "gunicorn.conf.py", "--preload", app]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if requests.get(base + "/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have killed it (kill -9)
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass(frozen=True)
class ObjectStore:
    """An S3-protocol server that is up (moto's standalone server, see :func:`s3_server`)."""

    endpoint: str
    """Its URL, ``http://127.0.0.1:<port>``."""
    access_key_id: str = "trinhky-test"
    secret_access_key: str = "trinhky-test-secret"
    region: str = "us-east-1"

    def client(self) -> Any:
        """:returns: a boto3 client of this server (path-style addressing)."""
        return self.config().client()

    def settings(self, bucket: str) -> dict[str, str]:
        """:returns: the settings of an app whose blobs live in ``bucket`` on this server."""
        return {
            "BLOB_URL": f"s3://{bucket}/trinhky",
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_REGION": self.region,
            "S3_ACCESS_KEY_ID": self.access_key_id,
            "S3_SECRET_ACCESS_KEY": self.secret_access_key,
            "S3_ADDRESSING_STYLE": "path",
        }

    def config(self) -> S3Config:
        """:returns: how the blob store reaches this server."""
        return S3Config(
            endpoint_url=self.endpoint,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            addressing_style="path",
        )


@contextmanager
def s3_server(log_dir: Path) -> Iterator[ObjectStore]:
    """Run moto's standalone S3-protocol server (``moto.server``, real HTTP on a loopback
    port, its own process) until the block ends."""
    port = free_port()
    log = log_dir / f"moto-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if requests.get(endpoint + "/moto-api/", timeout=5).status_code < 500:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield ObjectStore(endpoint)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def move_blobs(instance: Path, store: BlobStore) -> None:
    """Move every blob initialisation left in ``instance``'s blob folder (seals...) into
    ``store``: nothing of them stays on the local disk."""
    local = FilesystemBlobStore(instance / "blobs")
    for blob in list(local.blobs()):
        with local.open(blob.name) as f:
            store.put(f)
        local.delete(blob.name)
