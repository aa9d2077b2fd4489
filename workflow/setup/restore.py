"""workflow: restoring a backup (:mod:`workflow.setup.backup`) into a fresh instance, then
proving it came back whole: the audit chain verifies and ends at the same head, the rows
and coverage figures are those of the snapshot, every blob hashes to its key, every
stored signature validates against the restored trust anchors, and the passphrases kept
offline open the restored CA and seal keys.

A failed check is a result (listed, and the command exits non-zero), not an exception.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from signing.errors import KeyLoadError
from signing.keys import decrypt_private_key
from signing.pki import EmbeddedPki
from signing.profiles import TrustConfig
from signing.validate import validate_pdf
from storage.audit import verify_chain
from storage.blobs import BlobStore
from storage.db import is_sqlite
from storage.errors import BlobNotFoundError
from storage.models import AuditEvent, Certificate, Revision, Signature
from workflow.settings import Settings
from workflow.setup.backup import (
    PG_FILE,
    SECRET_FILES,
    SQLITE_FILE,
    BackupError,
    database_url_kind,
    figures,
    libpq_url,
    read_manifest,
    referenced_blobs,
    run_tool,
    table_counts,
)
from workflow.signatures.seal_keys import on_token


@dataclass(frozen=True)
class Check:
    """One verification of the restored instance."""

    name: str
    ok: bool
    detail: str


GROWS_WITH_THE_AUDIT_LOG = frozenset({"audit_events", "log_leaves", "log_nodes"})
"""Tables the restore itself extends (its own audit entries, and the transparency log's
leaves and subtrees that come with them); the chain check covers them."""


@dataclass
class RestoreReport:
    """What the restore did and found."""

    manifest_sha256: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def summary(self) -> dict[str, Any]:
        """:returns: plain data (audit details)."""
        return {
            "manifest_sha256": self.manifest_sha256,
            "ok": self.ok,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


# --- putting the files back ---------------------------------------------------------------


def _require_empty(engine: Engine, settings: Settings) -> None:
    if is_sqlite(engine):
        path = Path(str(engine.url.database))
        if path.exists() and path.stat().st_size:
            with sqlite3.connect(path) as db:
                tables = {
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                rows = (
                    db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
                    if "audit_events" in tables
                    else 0
                )
            if rows:
                raise BackupError(
                    f"the database {path} already holds data: restore into a fresh instance"
                )
    else:
        with engine.connect() as connection:
            tables = connection.scalar(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            )
        if tables:
            raise BackupError(
                "the PostgreSQL database already has tables: restore into a new, empty database "
                "(createdb), without running init first"
            )
    if (settings.pki_dir / "root.pem").exists():
        raise BackupError(f"{settings.pki_dir} already holds a PKI: restore into a fresh instance")


def restore_files(
    engine: Engine, blobs: BlobStore, settings: Settings, src: Path
) -> tuple[dict[str, Any], str]:
    """Check the backup against its manifest, then put the database, the blobs and the
    PKI of ``src`` into this (empty) instance.

    :returns: the manifest and its SHA-256.
    :raises BackupError: the backup is damaged, of another database kind, or the
        instance is not empty (nothing is written then).
    """
    manifest, digest = read_manifest(src)
    kind = database_url_kind(engine.url.render_as_string(hide_password=False))
    if manifest["database"] != kind:
        raise BackupError(
            f"the backup is of a {manifest['database']} database; this instance uses {kind}"
        )
    _require_empty(engine, settings)
    engine.dispose()
    if kind == "sqlite":
        target = Path(str(engine.url.database))
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        source = sqlite3.connect(src / SQLITE_FILE)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=WAL")
        finally:
            copy.close()
            source.close()
        os.chmod(target, 0o600)
    else:
        url, env = libpq_url(engine)
        run_tool(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={url}",
                str(src / PG_FILE),
            ],
            env,
        )
    for name in manifest["files"]:
        if name.startswith("blobs/"):
            with (src / name).open("rb") as stream:
                key = blobs.put(stream)
            if key != Path(name).name:
                raise BackupError(f"{name} stored under another key {key}")
    settings.pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in manifest["files"]:
        if name.startswith("pki/"):
            target = settings.pki_dir / Path(name).name
            shutil.copy2(src / name, target)
            os.chmod(target, 0o600 if name.endswith(".key.pem") else 0o644)
    shutil.copy2(src / "settings.json", settings.instance_path / "restored-settings.json")
    return manifest, digest


# --- proving it came back whole -------------------------------------------------------------


def _passphrase(settings: Settings, value: str | None, name: str) -> str | None:
    if value:
        return value
    path = settings.instance_path / name
    return path.read_text().strip() if path.exists() else None


def check_restored(
    session: Session, blobs: BlobStore, settings: Settings, manifest: dict[str, Any], digest: str
) -> RestoreReport:
    """Verify the restored instance against the manifest; :returns: the checks."""
    report = RestoreReport(digest)
    facts = manifest["facts"]
    add = report.checks.append

    chain = verify_chain(session)
    # The backup's head must be in the verified chain (entries appended since, such as
    # this restore's own, follow it); with no entry at all both heads are the genesis.
    head = facts["audit"]["head"]
    kept = facts["audit"]["entries"] == 0 or (
        session.scalar(select(AuditEvent.seq).where(AuditEvent.hash == head)) is not None
    )
    add(
        Check(
            "audit chain",
            chain.ok and kept,
            f"{chain.entries} entries verified; the backup's head {head[:16]}… "
            + ("is in the chain" if kept else "is MISSING")
            + ("" if chain.ok else f"; BROKEN at {chain.first_broken}: {chain.reason}"),
        )
    )
    counts = table_counts(session)
    differ = {
        t: (n, counts.get(t))
        for t, n in facts["tables"].items()
        if counts.get(t) != n and t not in GROWS_WITH_THE_AUDIT_LOG
    }
    add(
        Check(
            "rows",
            not differ,
            f"{sum(counts.values())} rows in {len(counts)} tables"
            + (f"; differ (backup, now): {differ}" if differ else ", as in the backup"),
        )
    )
    now_figures = figures(session, settings, facts["coverage"]["year"])
    same = now_figures == facts["coverage"]["figures"]
    shown = ", ".join(f"{t} {v['numerator']}/{v['denominator']}" for t, v in now_figures.items())
    add(
        Check(
            "coverage",
            same,
            f"{facts['coverage']['year']}: {shown}" + ("" if same else " (differ)"),
        )
    )

    bad_blobs = []
    keys = referenced_blobs(session)
    for key in sorted(keys):
        try:
            if not blobs.verify(key):
                bad_blobs.append(f"{key} corrupt")
        except BlobNotFoundError:
            bad_blobs.append(f"{key} missing")
    add(
        Check(
            "blobs",
            not bad_blobs,
            f"{len(keys)} blobs hash to their keys" if not bad_blobs else "; ".join(bad_blobs[:5]),
        )
    )

    add(_signatures(session, blobs, settings))
    add(_ca_passphrase(settings))
    add(_seal_passphrase(session, settings))
    return report


def _trust(settings: Settings) -> TrustConfig:
    root = (settings.pki_dir / "root.pem").read_bytes()
    issuing = settings.pki_dir / "issuing.pem"
    return TrustConfig(
        trust_roots_pem=(root,), other_certs_pem=(issuing.read_bytes(),) if issuing.exists() else ()
    )


def _signatures(session: Session, blobs: BlobStore, settings: Settings) -> Check:
    """Every signature TrinhKy stored validates (intact, trusted) in its revision."""
    trust = _trust(settings)
    rows = session.execute(
        select(Signature.id, Signature.field_name, Revision.blob_sha256)
        .join(Revision, Revision.id == Signature.revision_id)
        .order_by(Signature.id)
    ).all()
    failures = []
    for sig_id, field_name, key in rows:
        try:
            with blobs.local_copy(key) as path:
                result = validate_pdf(path, trust)
        except BlobNotFoundError:
            failures.append(f"#{sig_id}: file missing")
            continue
        mine = [s for s in result.signatures if s.field_name == field_name]
        if not mine or not mine[0].bottom_line:
            why = "; ".join(mine[0].problems) if mine else (result.error or "signature not found")
            failures.append(f"#{sig_id} ({field_name}): {why}")
    return Check(
        "signatures",
        not failures,
        f"{len(rows)} signatures valid"
        if not failures
        else f"{len(failures)} of {len(rows)} invalid: " + "; ".join(failures[:5]),
    )


def _ca_passphrase(settings: Settings) -> Check:
    value = _passphrase(settings, settings.ca_passphrase, "ca_passphrase")
    if value is None:
        return Check(
            "CA passphrase",
            False,
            "not given: set TRINHKY_CA_PASSPHRASE or put instance/ca_passphrase back from where "
            "it is kept offline",
        )
    try:
        EmbeddedPki.load(settings.pki_dir, value.encode())
    except KeyLoadError as exc:  # WrongPassphraseError is one
        return Check("CA passphrase", False, f"does not open the restored CA keys: {exc}")
    return Check("CA passphrase", True, "opens the restored CA keys")


def _seal_passphrase(session: Session, settings: Settings) -> Check:
    seals = [
        c
        for c in session.scalars(
            select(Certificate).where(Certificate.purpose == "seal", Certificate.status == "active")
        )
        if not on_token(c)
    ]
    if not seals:
        return Check("seal passphrase", True, "no stored seal key")
    value = _passphrase(settings, settings.seal_passphrase, "seal_passphrase")
    if value is None:
        return Check(
            "seal passphrase",
            False,
            "not given: set TRINHKY_SEAL_PASSPHRASE or put instance/seal_passphrase back from "
            "where it is kept offline",
        )
    for cert in seals:
        try:
            decrypt_private_key(cert.encrypted_key_pem.encode(), value.encode())
        except KeyLoadError as exc:
            return Check(
                "seal passphrase", False, f"does not open the seal key of {cert.subject}: {exc}"
            )
    return Check("seal passphrase", True, f"opens the {len(seals)} stored seal key(s)")


def secret_files_present(settings: Settings) -> list[str]:
    """:returns: the secret files present in the instance folder (for the summary)."""
    return [name for name in SECRET_FILES if (settings.instance_path / name).exists()]


__all__ = ["Check", "RestoreReport", "check_restored", "restore_files", "secret_files_present"]
