"""storage: declarative base, engine factory and session factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every TrinhKy model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalise_url(url: str) -> str:
    """Accept the usual ``DATABASE_URL`` spellings and pick the psycopg 3 driver.

    :param url: ``sqlite:///...``, ``postgres://...`` or ``postgresql://...``.
    :returns: a URL SQLAlchemy understands with the installed drivers.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a lock policy per session.

    On SQLite (WAL) readers never wait: a transaction takes the write lock only as the
    session factory says (:func:`make_session_factory`): ``BEGIN IMMEDIATE`` for the
    units of work that write (CLI, jobs, and a request's write phase through
    :func:`begin_write`), a plain deferred ``BEGIN`` for read-only sessions and for web
    requests. A deferred transaction that read and then writes fails at once with
    "database is locked" (``SQLITE_BUSY``/``SQLITE_BUSY_SNAPSHOT``) when another writer
    holds the lock or committed since its first read: never a lost update, and
    :func:`is_lock_upgrade_failure` lets the web layer run the request again with
    ``BEGIN IMMEDIATE`` (``workflow.app``). Writers queue on the busy timeout (90 s,
    inside gunicorn's 120 s request timeout).

    :param url: database URL (see :func:`normalise_url`).
    :param echo: log SQL statements.
    :returns: the engine.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        # A pool of open connections (a page needs two or three transactions; opening a
        # connection and setting it up cost about as much as a small query each time).
        # An in-memory database lives and dies with its one connection: no pool there.
        in_memory = make_url(url).database in (None, "", ":memory:")
        pool: dict[str, Any] = (
            {"poolclass": NullPool} if in_memory else {"pool_size": 8, "max_overflow": 40}
        )
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **pool,
        )
        _configure_sqlite(engine)
        _pool_per_process(engine)
        return engine
    # A gthread worker (gunicorn.conf.py: 16 threads) may use two connections per thread
    # at once (the request's session, and a short read beside it such as an OCSP status).
    engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=30)
    _pool_per_process(engine)
    return engine


def _pool_per_process(engine: Engine) -> None:
    """A process forked with the pool in it (gunicorn ``--preload``) never uses its
    parent's connections: they are dropped from its pool unclosed (the parent's own)."""

    @event.listens_for(engine, "connect")
    def _note_pid(_dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _check_pid(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError("a connection of the parent process")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()
        private_sqlite_file(engine.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Deferred sessions (see make_session_factory) take no write lock until they write:
        # in WAL mode they read alongside a writer. begin_write asks for the lock up front.
        options = conn.get_execution_options()
        deferred = (options.get(READONLY) or options.get(DEFERRED)) and not options.get(WRITE)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


BUSY_TIMEOUT_MS = 90_000
"""How long a SQLite writer waits for the lock (inside gunicorn's 120 s request timeout)."""
READONLY = "trinhky_readonly"
DEFERRED = "trinhky_deferred"
WRITE = "trinhky_write"


def make_session_factory(
    engine: Engine, *, readonly: bool = False, deferred: bool = False
) -> sessionmaker[Any]:
    """Session factory used per request / per CLI command (the caller commits).

    :param engine: the engine from :func:`make_engine`.
    :param readonly: for sessions that only read: on SQLite their transactions take no
        write lock (``BEGIN`` instead of ``BEGIN IMMEDIATE``); they must not write.
    :param deferred: sessions that mostly read and may write (web requests): a deferred
        ``BEGIN`` on SQLite; a write after a read may fail with "database is locked"
        (see :func:`is_lock_upgrade_failure`) unless the transaction was begun with
        :func:`begin_write`.
    :returns: a ``sessionmaker`` with ``expire_on_commit=False``.
    """
    bind = engine
    if readonly:
        bind = engine.execution_options(**{READONLY: True})
    elif deferred:
        bind = engine.execution_options(**{DEFERRED: True})
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


def begin_write(session: Session) -> None:
    """Start ``session``'s next transaction as a writer (``BEGIN IMMEDIATE`` on SQLite,
    waiting on the busy timeout for the lock), so that what it reads is still current
    when it writes. Call it before the first query of a unit of work that writes; a
    session already in a transaction is left as it is (that transaction's lock mode is
    set). On PostgreSQL this only starts the transaction.

    :param session: a session from :func:`make_session_factory`.
    """
    if not session.in_transaction():
        session.connection(execution_options={WRITE: True})


def is_lock_upgrade_failure(exc: BaseException) -> bool:
    """:returns: whether ``exc`` is SQLite refusing a deferred transaction the write lock
    (another writer holds it or committed since this transaction's first read): nothing
    was written, and the unit of work may run again as a writer."""
    orig = getattr(exc, "orig", None)
    return orig is not None and "database is locked" in str(orig)


def is_sqlite(engine: Engine) -> bool:
    """:returns: whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def probe_write(engine: Engine, timeout_seconds: float = 2.0) -> None:
    """Take the database's write lock and give it back, writing nothing: the health
    check's proof that the database accepts writes now (not read-only, not locked for
    longer than ``timeout_seconds`` by another writer, reachable).

    :raises sqlalchemy.exc.DBAPIError: it does not.
    """
    millis = int(timeout_seconds * 1000)
    with engine.connect().execution_options(**{READONLY: True}) as conn:
        if not is_sqlite(engine):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
            _probe_update(conn)
            return
        # The connection goes back to the pool: its own busy timeout is restored after.
        conn.exec_driver_sql(f"PRAGMA busy_timeout={millis}")
        try:
            _probe_update(conn)
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _probe_update(conn: Connection) -> None:
    """An update that changes nothing still takes the row's (SQLite: the database's)
    write lock; the rollback leaves the database as it was."""
    try:
        conn.exec_driver_sql("UPDATE trust_state SET version = version WHERE id = 1")
    finally:
        conn.rollback()


def private_sqlite_file(url: str) -> None:
    """Create the SQLite database file readable by the service user only (0600), or
    make an existing one so: SQLite gives its ``-wal`` and ``-shm`` files the database
    file's mode. Any umask is beside the point: the mode is set explicitly.

    :param url: a ``sqlite:///`` URL (in-memory databases are left alone).
    """
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    # Only existing files: opening an engine must not create a database (a refused
    # restore leaves nothing); a new file is made private on the first connection.
    for file in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            file.chmod(0o600)
