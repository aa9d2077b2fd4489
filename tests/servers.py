"""Real HTTP for tests: gunicorn serving a test's instance on a free loopback port."""

from __future__ import annotations

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
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
