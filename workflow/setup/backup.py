"""workflow: a consistent backup of a running instance: the database (SQLite's online
backup API, or ``pg_dump`` in an exported snapshot), the blobs the database refers to,
the PKI (certificates and the CA keys, encrypted) and the settings that are not secrets,
with a manifest of SHA-256 hashes and the figures of the snapshot (rows per table, audit
head, coverage) that a restore must find again.

The passphrases (CA, seal, the Flask secret key), which decrypt the keys in the backup,
are never in it: they are kept offline and given to the restored instance apart.

Consistency: the database is copied first, in one transaction (SQLite's backup copies
every page under one read lock, which in WAL mode does not stop writers; PostgreSQL's
``pg_dump`` reads the exported snapshot of a repeatable-read transaction in which the
figures are read too). Blobs are written before the rows that refer to them and never
changed or deleted, so every blob the snapshot refers to exists when it is copied after.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import String, create_engine, func, make_url, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from storage.audit import verify_chain
from storage.blobs import BlobStore
from storage.blobs.base import CHUNK
from storage.db import Base, is_sqlite
from storage.errors import BlobNotFoundError
from workflow.coverage.figures import coverage_figures, parse_period, resolve_scope
from workflow.settings import DEFAULTS, Settings

FORMAT = "trinhky-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
SECRET_WORDS = ("PASSWORD", "PASSPHRASE", "SECRET", "PIN", "PRIVATE", "ACCESS_KEY")
NOT_COPIED = ("DATABASE_URL", "BLOB_DIR", "BLOB_URL", "PKI_DIR", "INSTANCE_PATH", "TESTING")
SECRET_FILES = ("secret_key", "ca_passphrase", "seal_passphrase", "demo_password")
"""Secret files of the instance folder that a backup leaves out (keep them offline)."""
NOT_BLOB_COLUMNS = frozenset({"token_sha256"})
FIGURE_KEYS = ("numerator", "denominator", "exempt", "pending", "counts")


class BackupError(RuntimeError):
    """The backup cannot be taken or read (English: the console)."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds."""

    path: Path
    """The backup folder."""
    manifest_sha256: str
    """SHA-256 of ``manifest.json`` (record it apart: it pins the whole backup)."""
    facts: dict[str, Any]
    """Rows per table, audit head, signatures, coverage of the snapshot."""
    files: int
    """Files listed in the manifest."""
    size: int
    """Their total size in bytes."""


# --- what a snapshot holds ------------------------------------------------------------


def blob_columns() -> list[tuple[str, str]]:
    """:returns: (table, column) of every column that holds a blob key: the 64-character
    columns named ``*sha256`` (what models added later get too)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if (
                column.name.endswith("sha256")
                and column.name not in NOT_BLOB_COLUMNS
                and isinstance(column.type, String)
                and column.type.length == 64
            ):
                found.append((table.name, column.name))
    return found


def referenced_blobs(session: Session) -> set[str]:
    """:returns: every blob key the database refers to."""
    keys: set[str] = set()
    for table_name, column_name in blob_columns():
        column = Base.metadata.tables[table_name].c[column_name]
        keys |= {k for k in session.scalars(select(column).distinct()) if k}
    return {k for k in keys if len(k) == 64 and all(c in "0123456789abcdef" for c in k)}


def table_counts(session: Session) -> dict[str, int]:
    """:returns: rows per table of the models."""
    return {
        t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
        for t in Base.metadata.sorted_tables
    }


def figures(session: Session, settings: Settings, year: int) -> dict[str, Any]:
    """:returns: the coverage counts of ``year`` for the whole organisation (what the
    ledger holds; the targets, which are settings, left out)."""
    period = parse_period(str(year), date(year, 6, 30))
    out = coverage_figures(session, resolve_scope(session, None), period, policy=settings.coverage)
    return {t: {k: v.get(k) for k in FIGURE_KEYS} for t, v in sorted(out.items())}


def snapshot_facts(session: Session, settings: Settings, year: int) -> dict[str, Any]:
    """:returns: the figures a restore must find again."""
    chain = verify_chain(session)
    counts = table_counts(session)
    return {
        "tables": counts,
        "audit": {
            "ok": chain.ok,
            "entries": counts.get("audit_events", 0),
            "head": chain.head_hash,
        },
        "signatures": counts.get("signatures", 0),
        "coverage": {"year": year, "figures": figures(session, settings, year)},
    }


def alembic_revision(session: Session) -> str | None:
    """:returns: the schema's migration revision."""
    return session.scalar(text("SELECT version_num FROM alembic_version"))


# --- files ---------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    """:returns: the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def blob_path(root: Path, key: str) -> Path:
    """:returns: where blob ``key`` lives in a backup (the store's own layout)."""
    return root / "blobs" / key[:2] / key[2:4] / key


def copy_blob(blobs: BlobStore, key: str, target: Path) -> int:
    """Copy one blob, checking it still hashes to its key; :returns: its size.

    :raises BackupError: the blob is corrupt.
    :raises BlobNotFoundError: the blob is missing.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with blobs.open(key) as source, target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if digest.hexdigest() != key:
        raise BackupError(f"blob {key} is corrupt in the store (its content changed)")
    return size


def public_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """:returns: the settings that differ from the defaults and are not secrets, paths
    or the database address (``settings.json`` of a backup)."""
    out = {}
    for key, default in DEFAULTS.items():
        if key in NOT_COPIED or any(word in key for word in SECRET_WORDS):
            continue
        value = config.get(key, default)
        if value != default:
            out[key] = value
    return json.loads(json.dumps(out, default=str))


# --- the database -------------------------------------------------------------------------


def libpq_url(engine: Engine) -> tuple[str, dict[str, str]]:
    """:returns: the libpq URL of a PostgreSQL engine without its password, and the
    environment carrying the password (``PGPASSWORD``), so it never shows in ``ps``."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def run_tool(command: list[str], env: dict[str, str]) -> None:
    """Run a PostgreSQL client tool; :raises BackupError: missing, or it failed (its
    error output in the message)."""
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(
            f"{command[0]} not found: install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client)"
        ) from exc
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


@contextmanager
def _sqlite_session(path: Path) -> Iterator[Session]:
    """A session on a copied SQLite file that changes nothing in it (no WAL switch)."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _dump_sqlite(
    engine: Engine, dest: Path, settings: Settings, year: int
) -> tuple[dict[str, Any], set[str], str | None]:
    source_path = Path(str(engine.url.database))
    target = dest / SQLITE_FILE
    source = sqlite3.connect(source_path, timeout=90)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # every page in one step, under one read lock
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()
    with _sqlite_session(target) as session:
        return (
            snapshot_facts(session, settings, year),
            referenced_blobs(session),
            alembic_revision(session),
        )


def _dump_postgres(
    engine: Engine, dest: Path, settings: Settings, year: int
) -> tuple[dict[str, Any], set[str], str | None]:
    url, env = libpq_url(engine)
    with engine.connect() as raw:
        connection: Connection = raw.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            run_tool(
                [
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dest / PG_FILE}",
                    f"--dbname={url}",
                ],
                env,
            )
            with Session(bind=connection) as session:
                facts = snapshot_facts(session, settings, year)
                keys = referenced_blobs(session)
                revision = alembic_revision(session)
    return facts, keys, revision


# --- the backup ---------------------------------------------------------------------------


def take_backup(
    engine: Engine,
    blobs: BlobStore,
    settings: Settings,
    config: Mapping[str, Any],
    dest: Path,
    now: datetime,
) -> BackupReport:
    """Write a backup of the running instance into ``dest`` (a new or empty folder).

    :raises BackupError: ``dest`` is not empty, a tool failed or a blob is missing or corrupt
        (the partial folder is then removed).
    """
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} exists and is not an empty folder")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest.chmod(0o700)  # password hashes and encrypted keys: the service user only
    try:
        return _write(engine, blobs, settings, config, dest, now)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _write(
    engine: Engine,
    blobs: BlobStore,
    settings: Settings,
    config: Mapping[str, Any],
    dest: Path,
    now: datetime,
) -> BackupReport:
    dump = _dump_sqlite if is_sqlite(engine) else _dump_postgres
    facts, keys, revision = dump(engine, dest, settings, now.year)
    missing = []
    for key in sorted(keys):
        try:
            copy_blob(blobs, key, blob_path(dest, key))
        except BlobNotFoundError:
            missing.append(key)
    if missing:
        raise BackupError(
            f"{len(missing)} blob(s) the database refers to are missing from the store, "
            f"e.g. {missing[0]}: the instance is already damaged; see verify-audit and revalidation"
        )
    pki = dest / "pki"
    pki.mkdir(mode=0o700)
    for item in sorted(settings.pki_dir.iterdir()):
        if item.is_file():
            shutil.copy2(item, pki / item.name)
    (dest / "settings.json").write_text(
        json.dumps(public_settings(config), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )
    files: dict[str, dict[str, Any]] = {}
    size = 0
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        length = path.stat().st_size
        files[path.relative_to(dest).as_posix()] = {"sha256": sha256_file(path), "size": length}
        size += length
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "database": "sqlite" if is_sqlite(engine) else "postgresql",
        "schema_revision": revision,
        "facts": facts,
        "blobs": len(keys),
        "not_included": [
            "passphrases and secret keys (TRINHKY_CA_PASSPHRASE, TRINHKY_SEAL_PASSPHRASE, "
            "TRINHKY_SECRET_KEY, instance/"
            + ", instance/".join(SECRET_FILES)
            + "): keep them offline",
            "keys on a PKCS#11 token or HSM (the seal token): they stay on the token",
        ],
        "files": files,
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"
    (dest / MANIFEST).write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    (dest / "manifest.sha256").write_text(f"{digest}  {MANIFEST}\n")
    return BackupReport(dest, digest, facts, len(files), size)


def read_manifest(src: Path) -> tuple[dict[str, Any], str]:
    """Read a backup's manifest and check every file it lists.

    :returns: the manifest and its SHA-256.
    :raises BackupError: a file is missing, changed or unlisted, or the manifest is not
        the one its ``manifest.sha256`` names.
    """
    try:
        body = (src / MANIFEST).read_bytes()
        manifest = json.loads(body)
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} holds no readable {MANIFEST}: {exc}") from exc
    digest = hashlib.sha256(body).hexdigest()
    pinned = src / "manifest.sha256"
    if pinned.exists() and pinned.read_text().split()[0] != digest:
        raise BackupError(f"{MANIFEST} does not match manifest.sha256: the backup was altered")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    problems = []
    for name, entry in manifest["files"].items():
        path = src / name
        if not path.is_file():
            problems.append(f"missing {name}")
        elif path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
            problems.append(f"changed {name}")
    listed = set(manifest["files"]) | {MANIFEST, "manifest.sha256"}
    extra = [p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()]
    problems += [f"not in the manifest: {name}" for name in extra if name not in listed]
    if problems:
        raise BackupError(
            f"the backup does not match its manifest ({len(problems)} problem(s)): "
            + "; ".join(problems[:10])
        )
    return manifest, digest


def database_url_kind(url: str) -> str:
    """:returns: ``sqlite`` or ``postgresql``."""
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"
