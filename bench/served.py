"""Benchmarks over real HTTP: throwaway instances, gunicorn, the JSON API, CPU accounting.

Shared by ``b_http`` (signing throughput, today's code against a starting commit run
from a ``git worktree``), ``b_page`` (document page under 50 readers) and ``b_mixed``
(a mixed workload of 50 users), on the embedded default (SQLite) and on PostgreSQL.
"""

from __future__ import annotations

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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, make_pdf_bytes

DEMO_PASSWORD = "Bench-TrinhKy-2026"  # noqa: S105 - throwaway demo instance
BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("TRINHKY_BENCH_POSTGRES_URL") or os.environ.get(
    "TRINHKY_TEST_POSTGRES_URL"
)
"""An admin URL of a PostgreSQL server that may create databases (else no PostgreSQL run)."""


def env_for(instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a server or child on ``instance`` (no ``TRINHKY_*`` inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRINHKY_")}
    env.update(
        TRINHKY_INSTANCE_PATH=str(instance),
        TRINHKY_DEMO_PASSWORD=DEMO_PASSWORD,
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update({f"TRINHKY_{k}": v for k, v in settings.items()})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_database(admin_url: str | None = None) -> Iterator[str]:
    """A fresh database on ``admin_url`` (default :data:`POSTGRES_URL`), dropped
    afterwards: :returns: its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = admin_url or POSTGRES_URL
    assert server  # noqa: S101
    name = f"trinhky_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_url(server).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_engine(admin_url: str | None = None) -> Iterator[Any]:
    """A SQLAlchemy engine on a fresh database of :func:`postgres_database`, disposed and
    the database dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    with postgres_database(admin_url) as url:
        engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        try:
            yield engine
        finally:
            engine.dispose()


def init_instance(
    code: Path, instance: Path, database_url: str | None = None, **settings: str
) -> dict[str, str]:
    """``flask --app wsgi init`` of the code in ``code`` on ``instance``: :returns: the env."""
    instance.mkdir(parents=True, exist_ok=True)
    if database_url:
        (instance / "config.py").write_text(f"DATABASE_URL = {database_url!r}\n")
    env = env_for(instance, **settings)
    done = subprocess.run(  # noqa: S603 - our venv's flask
        [str(BIN / "flask"), "--app", "wsgi", "init"],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask init failed in {code}: {done.stderr[-1500:]}")
    return env


class Server:
    """gunicorn serving ``code`` in its own process group; :meth:`stop` always ends it.

    Started as that code's ``make run`` starts it: with its ``gunicorn.conf.py`` if it
    has one, else as the starting commit did (sync workers, ``--timeout 120``).
    """

    def __init__(self, code: Path, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.code = code
        self._log = log.open("wb")
        self.log_path = log
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", str(workers), "--no-control-socket"]
        if (code / "gunicorn.conf.py").exists():
            command += ["--config", "gunicorn.conf.py"]
        else:
            command += ["--config", "/dev/null", "--timeout", "120"]
        self.proc = subprocess.Popen(  # noqa: S603 - our venv's gunicorn, loopback only
            [*command, "wsgi:app"],
            cwd=code,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers = workers

    def wait_ready(self, timeout: float = 90.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                if requests.get(f"{self.base}/api/v1/openapi.json", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not answer within the timeout")
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # the other worker finishes booting

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (the workers)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in [self.proc.pid, *self.worker_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

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


def http_session() -> Any:
    """A ``requests`` session that retries an idempotent request once on a connection the
    server had already closed (an idle keep-alive connection, as browsers do)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    s = requests.Session()
    retry = Retry(total=1, status=0, allowed_methods=frozenset({"GET", "HEAD"}))
    s.mount("http://", HTTPAdapter(max_retries=retry))
    return s


def api(session: Any, method: str, url: str, **kwargs: Any) -> Any:
    response = session.request(method, url, timeout=120, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return (
        response.json()
        if response.headers.get("Content-Type", "").startswith("application/json")
        else response
    )


def token(base: str, username: str) -> str:
    import requests

    with requests.Session() as s:
        body = api(
            s,
            "POST",
            f"{base}/api/v1/auth/token",
            json={"username": username, "password": DEMO_PASSWORD},
        )
    return str(body["token"])


class Users:
    """One bearer token per demo user, one ``requests`` session per thread and user."""

    def __init__(self, base: str, names: tuple[str, ...]) -> None:
        self.base = base
        self.tokens = {u: token(base, u) for u in names}
        self._local = threading.local()

    def session(self, user: str) -> Any:
        key = f"s_{user}"
        if not hasattr(self._local, key):
            s = http_session()
            s.headers["Authorization"] = f"Bearer {self.tokens[user]}"
            setattr(self._local, key, s)
        return getattr(self._local, key)

    def call(self, user: str, method: str, path: str, **kwargs: Any) -> Any:
        return api(self.session(user), method, f"{self.base}/api/v1{path}", **kwargs)


def upload(users: Users, i: int, submit: bool = True) -> int:
    """``chuyenvien`` uploads (and submits) a one-page document: :returns: its id."""
    pdf = make_pdf_bytes(f"Van ban do hieu nang so {i}")
    doc = users.call(
        "chuyenvien",
        "POST",
        "/documents",
        files={"file": (f"van-ban-{i}.pdf", pdf, "application/pdf")},
        data={"subject": f"Văn bản đo hiệu năng số {i}", "doc_type": "CV"},
    )
    if submit:
        users.call("chuyenvien", "POST", f"/documents/{doc['id']}/submit")
    return int(doc["id"])


def open_tasks(users: Users, user: str, action: str) -> list[dict[str, Any]]:
    return [t for t in users.call(user, "GET", "/tasks")["tasks"] if t.get("action") == action]


def prepare_to_sign(users: Users, count: int) -> list[int]:
    """Upload, submit and approve ``count`` documents: :returns: bithu's sign task ids."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: upload(users, i), range(count)))
        approvals = [t["id"] for t in open_tasks(users, "truongban", "approve")]
        list(
            pool.map(
                lambda tid: users.call("truongban", "POST", f"/tasks/{tid}/approve", json={}),
                approvals,
            )
        )
    tasks = [int(t["id"]) for t in open_tasks(users, "bithu", "sign")]
    if len(tasks) < count:
        raise RuntimeError(f"prepared {len(tasks)} signing tasks, wanted {count}")
    return tasks[:count]


@contextmanager
def base_worktree(ref: str) -> Iterator[Path]:
    """The code of commit ``ref`` in a detached ``git worktree`` (made here, removed after;
    ``BENCH_BASE_DIR`` names an existing checkout to use instead)."""
    given = os.environ.get("BENCH_BASE_DIR")
    if given:
        yield Path(given)
        return
    target = Path(tempfile.mkdtemp(prefix="trinhky-bench-base-")) / "code"
    subprocess.run(  # noqa: S603
        ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(target), ref],  # noqa: S607
        check=True,
        capture_output=True,
    )
    try:
        yield target
    finally:
        subprocess.run(  # noqa: S603
            ["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(target)],  # noqa: S607
            check=False,
            capture_output=True,
        )
        shutil.rmtree(target.parent, ignore_errors=True)


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"
