"""Shared fixtures: a TrinhKy app on a per-test database (SQLite, and PostgreSQL when
TRINHKY_TEST_POSTGRES_URL is set), blob folder and PKI."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url
from werkzeug.routing import Rule

from storage.blobs import BlobStore, FilesystemBlobStore
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services
from workflow.settings import DEFAULTS
from workflow.setup.bootstrap import initialise


def _compile_url_builders_on_first_use() -> None:
    """Every test builds its own app, and werkzeug compiles two Python functions per URL
    rule as the rule is added (over 300 an app, about 60 % of ``create_app``'s time)
    while a test builds a handful of URLs: compile each one when first used instead. The
    function is the same; only when it is made changes."""
    compile_builder = Rule._compile_builder

    @functools.wraps(compile_builder)
    def on_first_use(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(*args: Any, **kwargs: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(compile_builder(self, append_unknown))
            return compiled[0](*args, **kwargs)

        return build

    Rule._compile_builder = on_first_use  # type: ignore[method-assign]


_compile_url_builders_on_first_use()

DEMO_PASSWORD = "Mật-khẩu-thử-nghiệm-2026"
REPO = Path(__file__).resolve().parent.parent


FAST_SETTINGS: dict[str, Any] = {
    "SIGNATURE_LEVEL": "B-B",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 8,
    "ARGON2_PARALLELISM": 1,
}
"""What every test app and test server runs with, unless the test says otherwise: PAdES
B-B (no timestamp, OCSP or DSS: the tests about levels ask for theirs with the
``signature_level`` marker) and argon2 at its minimum cost (a login costs microseconds,
not a tenth of a second)."""


def app_config(instance: Path, **extra: Any) -> dict[str, Any]:
    """Config of a test app living in ``instance``."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "MAX_UPLOAD_BYTES": 2 * 1024 * 1024,
        **FAST_SETTINGS,
        **extra,
    }


def server_environment(instance: Path, **extra: Any) -> dict[str, str]:
    """The environment of a test server (gunicorn, ``make run``) on ``instance``: this
    process's, with :data:`FAST_SETTINGS` and ``extra`` as ``TRINHKY_*`` variables."""
    env = {**os.environ, "TRINHKY_INSTANCE_PATH": str(instance)}
    env.pop("TRINHKY_DATABASE_URL", None)  # the instance's config.py names its database
    for key, value in {**FAST_SETTINGS, **extra}.items():
        env[f"TRINHKY_{key}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def signature_level(request: pytest.FixtureRequest) -> dict[str, str]:
    """The ``SIGNATURE_LEVEL`` a test marked ``signature_level("B-LTA")`` asks for;
    ``signature_level()`` alone: the production default (``B-LT``)."""
    marker = request.node.get_closest_marker("signature_level")
    if marker is None:
        return {}
    return {"SIGNATURE_LEVEL": marker.args[0] if marker.args else DEFAULTS["SIGNATURE_LEVEL"]}


# --- the clock ------------------------------------------------------------------------

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def known_moment(after: datetime) -> datetime:
    """09:30 Vietnam time on the second Wednesday of the month after ``after``: a working
    day with working days around it, a week from any month's (quarter's, year's) edge,
    and inside the validity of the session's PKI, whose certificates start when the
    session does (so the clock moves forward, never back)."""
    local = after.astimezone(VN)
    first = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, 9, 30, tzinfo=VN)
    return first + timedelta(days=(2 - first.weekday()) % 7 + 7)


FROZEN_AT = known_moment(datetime.now(UTC))
"""Where :func:`clock` puts the tests about dates (a Wednesday, 09:30 in Vietnam)."""


@pytest.fixture
def clock_start() -> datetime:
    """Where :func:`clock` starts (a module about one fixed moment overrides it, with
    ``template_instance`` and ``pg_template_instance`` made before that moment)."""
    return FROZEN_AT


@pytest.fixture
def clock(request: pytest.FixtureRequest, clock_start: datetime) -> Iterator[Any]:
    """The clock at :func:`clock_start`, ticking from there (``clock.shift(timedelta(...))``
    moves it): for every test about due dates, deadlines, working days, periods, expiry,
    reminders or lock-outs. The instance templates are made first, on their own clock:
    their certificates must start before the test's now."""
    request.getfixturevalue("template_instance")
    if "db_backend" in request.fixturenames and request.getfixturevalue("db_backend") == "pg":
        request.getfixturevalue("pg_template_instance")
    with time_machine.travel(clock_start, tick=True) as traveller:
        yield traveller


def make_template(
    instance: Path, database_url: str | None = None, at: datetime | None = None
) -> Path:
    """Initialise ``instance`` as `make run`'s init does (schema, PKI, demo data), with
    the clock stopped at ``at`` if given (its certificates start then)."""
    if at is not None:
        with time_machine.travel(at, tick=False):
            return make_template(instance, database_url)
    app = create_app(
        app_config(instance, **({"DATABASE_URL": database_url} if database_url else {}))
    )
    initialise(app.extensions[EXTENSION_KEY])
    app.extensions[EXTENSION_KEY].engine.dispose()  # a PostgreSQL template has no sessions
    return instance


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised instance (schema, PKI, demo data), made once and copied per test."""
    return make_template(tmp_path_factory.mktemp("template") / "instance")


# --- PostgreSQL -----------------------------------------------------------------------
# With TRINHKY_TEST_POSTGRES_URL set (``make test`` starts a throwaway cluster, see
# scripts/pg-test-server.sh), the tests marked ``both_databases`` that use
# ``instance``/``app`` run on SQLite and on PostgreSQL; the others on SQLite only. The PostgreSQL instance folder carries the PKI and secrets like the SQLite
# one, plus a ``config.py`` naming its own database (a copy of a migrated, seeded
# template database), so an app built on that folder in any way talks to PostgreSQL.

POSTGRES_URL: str | None = os.environ.get("TRINHKY_TEST_POSTGRES_URL") or None
"""Admin URL of the test cluster (a role allowed to create databases), if any."""
BACKENDS = ("sqlite", "pg") if POSTGRES_URL else ("sqlite",)
_DATABASE_URLS: dict[Path, str] = {}
"""PostgreSQL URL of each live test instance folder."""
_OUR_DATABASE = re.compile(r"^trinhky_(?:template|test)_(\d+)(?:_|$)")


def postgres_url(database: str) -> str:
    """:returns: the test cluster's URL for ``database``."""
    assert POSTGRES_URL, "TRINHKY_TEST_POSTGRES_URL is not set"
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


class PgCluster:
    """Creates and drops the test databases over one autocommit admin connection."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        )

    def create(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template``); :returns: its URL."""
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            # PostgreSQL 15's default WAL_LOG strategy: FILE_COPY waits for two checkpoints.
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        self.connection.execute(query)
        return postgres_url(name)

    def drop(self, name: str) -> None:
        """Drop database ``name``, ending the sessions still connected to it."""
        from psycopg import sql

        self.connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def drop_stale(self) -> None:
        """Drop databases left behind by test runs that no longer exist."""
        names = [
            row[0] for row in self.connection.execute("SELECT datname FROM pg_database").fetchall()
        ]
        for name in names:
            match = _OUR_DATABASE.match(name)
            if match and int(match[1]) != os.getpid() and not _pid_alive(int(match[1])):
                self.drop(name)

    def close(self) -> None:
        self.connection.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_database_config(instance: Path, url: str) -> None:
    """Point the instance folder at ``url`` (``instance/config.py``, read by create_app)."""
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(
        f"# Written by tests/conftest.py: this test instance's database.\nDATABASE_URL = {url!r}\n"
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The PostgreSQL test cluster (skips the test when none is configured)."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need TRINHKY_TEST_POSTGRES_URL (make test sets it)")
    cluster = PgCluster(POSTGRES_URL)
    try:
        cluster.drop_stale()
        yield cluster
    finally:
        cluster.close()


@contextmanager
def pg_template(
    tmp_path_factory: pytest.TempPathFactory,
    cluster: PgCluster,
    suffix: str = "",
    at: datetime | None = None,
) -> Iterator[tuple[Path, str]]:
    """An initialised instance on PostgreSQL (made at ``at``, see :func:`make_template`),
    dropped afterwards: (instance folder, template database name)."""
    name = f"trinhky_template_{os.getpid()}{suffix}"
    cluster.drop(name)
    url = cluster.create(name)
    instance = tmp_path_factory.mktemp("template-pg") / "instance"
    write_database_config(instance, url)
    make_template(instance, url, at)
    yield instance, name
    cluster.drop(name)


@pytest.fixture(scope="session")
def pg_template_instance(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster
) -> Iterator[tuple[Path, str]]:
    """An initialised instance on PostgreSQL: (instance folder, template database name)."""
    with pg_template(tmp_path_factory, pg_cluster) as template:
        yield template


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``db_backend`` (through ``instance``, ``app``...) runs on SQLite;
    those marked ``both_databases`` run on PostgreSQL too, when it is set up."""
    definitions = metafunc._arg2fixturedefs.get("db_backend")  # the ones in force, last wins
    if definitions and definitions[-1].func is db_backend.__wrapped__:  # not overridden
        both = metafunc.definition.get_closest_marker("both_databases") is not None
        metafunc.parametrize("db_backend", BACKENDS if both else ("sqlite",), indirect=True)


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """The database this test runs on: ``sqlite``, or ``pg`` (``both_databases`` tests,
    when PostgreSQL is set up); parametrized by :func:`pytest_generate_tests`."""
    backend: str = request.param
    return backend


@pytest.fixture
def database_url(instance: Path) -> str:
    """The URL of this test's database."""
    return _DATABASE_URLS.get(instance, f"sqlite:///{instance / 'trinhky.sqlite3'}")


@pytest.fixture
def instance(request: pytest.FixtureRequest, tmp_path: Path, db_backend: str) -> Iterator[Path]:
    """A fresh copy of the initialised instance for one test (on PostgreSQL: and of the
    template database)."""
    target = tmp_path / "instance"
    if db_backend == "sqlite":
        template: Path = request.getfixturevalue("template_instance")
        shutil.copytree(template, target)
        yield target
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    pg_template, template_db = request.getfixturevalue("pg_template_instance")
    shutil.copytree(pg_template, target)
    name = f"trinhky_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    url = cluster.create(name, template=template_db)
    write_database_config(target, url)
    _DATABASE_URLS[target] = url
    try:
        yield target
    finally:
        del _DATABASE_URLS[target]
        cluster.drop(name)


@pytest.fixture
def app(request: pytest.FixtureRequest, instance: Path, database_url: str) -> Iterator[Flask]:
    """The application on this test's instance."""
    application = create_app(
        app_config(instance, DATABASE_URL=database_url, **signature_level(request))
    )
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


@pytest.fixture
def services(app: Flask) -> Services:
    """The app's service container."""
    svc: Services = app.extensions[EXTENSION_KEY]
    return svc


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept between requests)."""
    return app.test_client()


def closed(response: Any) -> Any:
    """Buffer a test response's body and close it (file responses hold a handle)."""
    response.get_data()
    response.close()
    return response


class Api:
    """A small JSON API client over Flask's test client, one bearer token per user."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}

    def login(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        token: str = response.get_json()["token"]
        self.tokens[username] = token
        return token

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.login(user)
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **kw: Any) -> Any:
        return closed(self.client.get("/api/v1" + path, headers=self.headers(user), **kw))

    def post(self, user: str, path: str, **kw: Any) -> Any:
        return closed(self.client.post("/api/v1" + path, headers=self.headers(user), **kw))

    def upload(
        self,
        user: str,
        data: bytes,
        subject: str = "Về việc tổ chức hội nghị học tập Nghị quyết",
        doc_type: str = "CV",
        filename: str = "cong-van.pdf",
    ) -> Any:
        from io import BytesIO

        return self.post(
            user,
            "/documents",
            data={"file": (BytesIO(data), filename), "subject": subject, "doc_type": doc_type},
            content_type="multipart/form-data",
        )

    def task_for(self, user: str, document_id: int) -> dict[str, Any]:
        tasks = self.get(user, "/tasks").get_json()["tasks"]
        mine = [t for t in tasks if t["document_id"] == document_id]
        assert len(mine) == 1, tasks
        return mine[0]


@pytest.fixture
def api(app: Flask) -> Api:
    """A JSON API client."""
    return Api(app)


@pytest.fixture
def submitted_document(api: Api) -> Callable[..., int]:
    """Upload and submit a document as the drafter; returns its id."""
    from tests.pdfs import simple_pdf

    def _make(**kw: Any) -> int:
        created = api.upload("chuyenvien", simple_pdf(), **kw)
        assert created.status_code == 201, created.get_json()
        doc_id: int = created.get_json()["id"]
        submitted = api.post("chuyenvien", f"/documents/{doc_id}/submit")
        assert submitted.status_code == 200, submitted.get_json()
        return doc_id

    return _make


def blob_files(instance: Path) -> list[Path]:
    """Every file under the blob folder (published or temporary)."""
    return sorted(p for p in (instance / "blobs").rglob("*") if p.is_file())


def rewrite_blob(blobs: BlobStore, key: str, change: Callable[[bytes], bytes]) -> None:
    """Change a stored blob behind the store's back (an incident the checks must catch).
    Only the filesystem store allows it: its local copy of a blob is the blob's own file."""
    assert isinstance(blobs, FilesystemBlobStore)
    with blobs.local_copy(key) as path:
        data = change(path.read_bytes())
        path.chmod(0o640)
        path.write_bytes(data)


def flip_byte(data: bytes) -> bytes:
    """``data`` with one bit changed a third of the way in."""
    changed = bytearray(data)
    changed[len(changed) // 3] ^= 0x01
    return bytes(changed)


@pytest.fixture
def count_rows(services: Services) -> Callable[[Any], int]:
    """Count the rows of a model."""
    from sqlalchemy import func, select

    def _count(model: Any) -> int:
        with services.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return _count


__all__ = ["REPO", "blob_files", "flip_byte", "rewrite_blob"]
