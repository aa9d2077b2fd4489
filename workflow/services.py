"""workflow: the service container kept in ``app.extensions`` and per-request session."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import current_app, g
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from signing.pki import EmbeddedPki
from signing.profiles import TrustConfig
from signing.revocation import CertStatus, RevokedEntry
from signing.trust import TrustServices
from signing.tsa import digest_timestamper
from storage import trust_models
from storage.blobs import BlobStore
from storage.models import Certificate
from workflow.settings import Settings, read_or_create_secret

EXTENSION_KEY = "trinhky"
TRUST_RECHECK_SECONDS = 2.0
"""How stale a process's view of the trust list may be (another process changed it)."""


@dataclass
class Services:
    """What use-cases need, built once in ``create_app`` and shared by requests."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: BlobStore
    read_session_factory: sessionmaker[Session]
    """Sessions that only read (no write lock on SQLite): look-ups beside a request."""
    secret_key: str = field(default="", repr=False)
    """The application's secret key (sessions; webhook secrets are encrypted with a key
    derived from it)."""
    request_session_factory: sessionmaker[Session] | None = None
    """The requests' sessions: deferred transactions on SQLite (no write lock until the
    first write; see ``storage.db.begin_write``); ``session_factory`` when unset."""
    hasher: PasswordHasher = field(init=False)
    """argon2id at the cost the settings give (``ARGON2_*``)."""
    _trust: TrustConfig | None = None
    _trust_checked: float = 0.0
    _seal_passphrase: str | None = None
    _trust_services: TrustServices | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def writing_factories(self) -> tuple[sessionmaker[Session], ...]:
        """:returns: every session factory whose sessions may write (the jobs' and CLI's,
        and the web requests'), for hooks that must see every commit (search index,
        webhooks)."""
        factories = [self.session_factory]
        if self.request_session_factory is not None:
            factories.append(self.request_session_factory)
        return tuple(factories)

    def __post_init__(self) -> None:
        self.hasher = self.settings.password_hasher()

    @property
    def trust_services(self) -> TrustServices:
        """The embedded TSA, OCSP responder and CRL issuer (keys decrypted once per process)."""
        if self._trust_services is None:
            with self._lock:
                if self._trust_services is None:
                    pki = EmbeddedPki.load(self.settings.pki_dir, self.ca_passphrase)
                    self._trust_services = TrustServices(
                        pki, self.certificate_status, self.revoked_certificates
                    )
        return self._trust_services

    def checkpoint_timestamper(self, digest: bytes) -> bytes:
        """Stamp an audit checkpoint: the embedded TSA's RFC 3161 token (DER) over the
        SHA-256 ``digest`` (``storage.checkpoints.Timestamper``; the PKI loads on first use)."""
        return digest_timestamper(self.trust_services.timestamper)(digest)

    def certificate_status(self, serial: int) -> CertStatus:
        """The revocation status of one of our certificates, read now from the database
        (so a revocation shows in the next OCSP answer at once)."""
        with self.read_session_factory() as session:
            row = session.execute(
                select(Certificate.status, Certificate.revoked_at, Certificate.revocation_reason)
                .where(Certificate.serial == format(serial, "x"))
                .limit(1)
            ).first()
        if row is None:
            return CertStatus(revoked=False, known=False)
        if row.status == "revoked":
            return CertStatus(True, row.revoked_at, row.revocation_reason)
        return CertStatus(False)

    def revoked_certificates(self) -> list[RevokedEntry]:
        """Every revoked certificate, for the CRL."""
        with self.read_session_factory() as session:
            rows = session.execute(
                select(
                    Certificate.serial,
                    Certificate.revoked_at,
                    Certificate.created_at,
                    Certificate.revocation_reason,
                ).where(Certificate.status == "revoked")
            ).all()
        return [
            RevokedEntry(int(c.serial, 16), c.revoked_at or c.created_at, c.revocation_reason)
            for c in rows
        ]

    @property
    def seal_passphrase(self) -> str:
        """Passphrase of the organisation's seal keys (settings, else an instance file)."""
        if self._seal_passphrase is None:
            self._seal_passphrase = self.settings.seal_passphrase or (
                read_or_create_secret(self.settings.instance_path / "seal_passphrase")
            )
        return self._seal_passphrase

    @property
    def ca_passphrase(self) -> bytes:
        """Passphrase of the embedded CA keys (settings, else an instance file)."""
        value = self.settings.ca_passphrase or read_or_create_secret(
            self.settings.instance_path / "ca_passphrase"
        )
        return value.encode()

    @property
    def trust(self) -> TrustConfig:
        """Trust anchors for validation: the embedded root (read once from disk), then the
        administrators' trust list (:mod:`storage.trust_models`), rebuilt when its version
        changes (checked at most every :data:`TRUST_RECHECK_SECONDS` per process, at once
        after a change made by this process)."""
        now = time.monotonic()
        if self._trust is None or now - self._trust_checked > TRUST_RECHECK_SECONDS:
            try:
                with self.read_session_factory() as session:
                    version = trust_models.current_version(session)
                    if self._trust is None or version != self._trust.version:
                        self._trust = self._build_trust(session, version)
                self._trust_checked = now
            except SQLAlchemyError:  # no trust-list table yet (before migrating)
                self._trust = self._builtin_trust()
        return self._trust

    def trust_in(self, session: Session) -> TrustConfig:
        """The trust configuration as ``session`` sees the trust list (its own
        uncommitted changes included): what a change re-validates with."""
        return self._build_trust(session, trust_models.current_version(session))

    def trust_changed(self) -> None:
        """Forget the cached trust configuration (after a change of the trust list)."""
        self._trust = None

    def _builtin_trust(self) -> TrustConfig:
        root = (self.settings.pki_dir / "root.pem").read_bytes()
        issuing = self.settings.pki_dir / "issuing.pem"
        others = (issuing.read_bytes(),) if issuing.exists() else ()
        return TrustConfig(trust_roots_pem=(root,), other_certs_pem=others, version=-1)

    def _build_trust(self, session: Session, version: int) -> TrustConfig:
        builtin = self._builtin_trust()
        roots = list(builtin.trust_roots_pem)
        others = list(builtin.other_certs_pem)
        names: list[tuple[str, str]] = []
        for anchor in trust_models.anchors(session):
            pem = anchor.cert_pem.encode()
            (roots if anchor.kind == "root" else others).append(pem)
            names.append((anchor.fingerprint, anchor.list_name))
        return TrustConfig(
            trust_roots_pem=tuple(roots),
            other_certs_pem=tuple(others),
            list_names=tuple(names),
            version=version,
        )

    def root_pem_path(self) -> Path:
        """:returns: the path of the embedded root certificate."""
        return self.settings.pki_dir / "root.pem"


def get_services() -> Services:
    """:returns: the services of the current app."""
    services: Services = current_app.extensions[EXTENSION_KEY]
    return services


def get_session() -> Session:
    """:returns: the request's session, created on first use and closed at teardown."""
    session: Session | None = g.get("db_session")
    if session is None:
        services = get_services()
        # A request runs as a reader (deferred) unless a first try lost the write lock to
        # another writer: then it runs again as a writer from the start (workflow.app).
        factory = services.request_session_factory
        if factory is None or g.get(WRITE_FROM_START):
            factory = services.session_factory
        session = factory()
        event.listen(session, "after_commit", _note_commit)
        g.db_session = session
    return session


WRITE_FROM_START = "trinhky_write_from_start"
"""``g`` flag: this request's transactions take the write lock when they begin."""
COMMITTED = "trinhky_committed"
"""``g`` flag: this request committed something (it is not run again)."""


def _note_commit(_session: Session) -> None:
    g.setdefault(COMMITTED, True)


def close_session(_exc: Any = None) -> None:
    """Close (and so roll back, if uncommitted) the request's session."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
