"""storage: declarative base, engine factory and session factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker
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
    """Create an engine; SQLite gets foreign keys, WAL and write-ahead transactions.

    On SQLite every transaction starts with ``BEGIN IMMEDIATE``: a request that reads
    and then writes (an audit entry on a download, a state change) would otherwise fail
    with ``SQLITE_BUSY_SNAPSHOT`` when another process committed in between. Writers
    therefore queue on the busy timeout (90 s, inside gunicorn's 120 s request timeout:
    a burst of issuances, each holding the lock while the seal is signed, must queue
    rather than fail) instead of failing.

    :param url: database URL (see :func:`normalise_url`).
    :param echo: log SQL statements.
    :returns: the engine.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(
            url,
            echo=echo,
            poolclass=NullPool,
            connect_args={"timeout": 90, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=90000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Read-only sessions (see make_session_factory) take no write lock: in WAL mode they
        # read alongside a writer, e.g. an OCSP status lookup during a request's transaction.
        readonly = conn.get_execution_options().get(READONLY)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


READONLY = "trinhky_readonly"


def make_session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Any]:
    """Session factory used per request / per CLI command (the caller commits).

    :param engine: the engine from :func:`make_engine`.
    :param readonly: for sessions that only read: on SQLite their transactions take no
        write lock (``BEGIN`` instead of ``BEGIN IMMEDIATE``); they must not write.
    :returns: a ``sessionmaker`` with ``expire_on_commit=False``.
    """
    bind = engine.execution_options(**{READONLY: True}) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


def is_sqlite(engine: Engine) -> bool:
    """:returns: whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def private_sqlite_file(url: str) -> None:
    """Create the SQLite database file readable by the service user only (0600), or
    make an existing one so: SQLite gives its ``-wal`` and ``-shm`` files the database
    file's mode. Any umask is beside the point: the mode is set explicitly.

    :param url: a ``sqlite:///`` URL (in-memory databases are left alone).
    """
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    target = Path(path)
    if not target.parent.is_dir():
        return  # the engine reports it when connecting
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (target, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            file.chmod(0o600)
