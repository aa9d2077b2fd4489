"""workflow: the service container kept in ``app.extensions`` and per-request session."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from signing.profiles import TrustConfig
from storage.blobs import FilesystemBlobStore
from workflow.settings import Settings, read_or_create_secret

EXTENSION_KEY = "trinhky"


@dataclass
class Services:
    """What use-cases need, built once in ``create_app`` and shared by requests."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: FilesystemBlobStore
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    _trust: TrustConfig | None = None
    _seal_passphrase: str | None = None

    @property
    def seal_passphrase(self) -> str:
        """Passphrase of the organisation's seal keys (env, else an instance file; read once)."""
        if self._seal_passphrase is None:
            self._seal_passphrase = os.environ.get("TRINHKY_SEAL_PASSPHRASE") or (
                read_or_create_secret(self.settings.instance_path / "seal_passphrase")
            )
        return self._seal_passphrase

    @property
    def trust(self) -> TrustConfig:
        """Trust anchors for validation: the embedded root (read once from disk)."""
        if self._trust is None:
            root = (self.settings.pki_dir / "root.pem").read_bytes()
            issuing = self.settings.pki_dir / "issuing.pem"
            others = (issuing.read_bytes(),) if issuing.exists() else ()
            self._trust = TrustConfig(trust_roots_pem=(root,), other_certs_pem=others)
        return self._trust

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
        session = get_services().session_factory()
        g.db_session = session
    return session


def close_session(_exc: Any = None) -> None:
    """Close (and so roll back, if uncommitted) the request's session."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
