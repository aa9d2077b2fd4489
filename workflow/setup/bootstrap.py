"""workflow: first-run initialisation: schema migration, blob folder, PKI, demo data."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from signing.pki import EmbeddedPki
from storage import audit, cleanup
from storage.audit import AuditAction
from storage.types import utcnow
from workflow.services import Services
from workflow.setup import admins, system
from workflow.setup import demo as seed

ROOT = Path(__file__).resolve().parents[2]


class DemoRefusedError(RuntimeError):
    """Demo users would be reachable from the network."""


@dataclass(frozen=True)
class InitReport:
    """What initialisation did."""

    seeded: bool
    """Whether the demo organisation was created now."""
    demo_password: str | None
    """The demo password (when demo mode is on)."""
    users: tuple[str, ...]
    """Demo usernames."""
    setup_link: str | None = None
    """Without demo data, on the first run (no user yet): the one-time link to set the
    password of the administrator created now (shown once, never stored)."""
    created: tuple[str, ...] = ()
    """System data created now (routes, seal certificates)."""


def alembic_config(url: str) -> Config:
    """:returns: an Alembic config pointing at ``migrations/`` and ``url``."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def is_loopback(host: str) -> bool:
    """:returns: whether ``host`` is a loopback address or ``localhost``."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_pki(services: Services) -> EmbeddedPki:
    """:returns: the embedded PKI, created on first use."""
    directory = services.settings.pki_dir
    if EmbeddedPki.exists(directory):
        return EmbeddedPki.load(directory, services.ca_passphrase)
    return EmbeddedPki.create(directory, services.ca_passphrase, services.settings.org_name)


def demo_password(services: Services) -> str:
    """:returns: ``TRINHKY_DEMO_PASSWORD``, else one generated once and kept (0600)."""
    if services.settings.demo_password:
        return services.settings.demo_password
    path = services.settings.instance_path / "demo_password"
    if not path.exists():
        words = secrets.token_urlsafe(9)
        return read_or_create_secret_value(path, f"TrinhKy-{words}")
    return path.read_text().strip()


def read_or_create_secret_value(path: Path, value: str) -> str:
    """Write ``value`` to ``path`` (0600) unless it exists; :returns: the stored value."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


def sweep_leftovers(services: Services) -> int:
    """At start: remove what a crash left in the blob store (the ``cleanup`` job does it
    on its schedule too). :returns: how many files were removed."""
    grace = timedelta(seconds=services.settings.cleanup_grace_seconds)
    with services.session_factory() as session:
        removed = cleanup.sweep(session, services.blobs, utcnow(), grace)
        session.commit()
    return len(removed)


def initialise(
    services: Services, host: str = "127.0.0.1", base_url: str | None = None
) -> InitReport:
    """Migrate, create folders and the PKI, and seed the demo data on first run; without
    demo data, create the system routes and, when no user exists, the root unit and an
    administrator ``admin`` whose one-time password link is returned.

    :param base_url: where the server is reached (the link's address); default
        ``PUBLIC_BASE_URL``, else ``http://host``.

    :raises DemoRefusedError: demo mode on a non-loopback address without permission.
    """
    settings = services.settings
    if settings.demo and not is_loopback(host) and not settings.demo_allow_remote:
        raise DemoRefusedError(
            f"Refusing to create demo users on a server bound to {host}: demo accounts are "
            "for loopback only. Set TRINHKY_DEMO=false for a real deployment, or "
            "TRINHKY_DEMO_ALLOW_REMOTE=true if you really mean it."
        )
    settings.blob_dir.mkdir(parents=True, exist_ok=True)
    migrate(services.engine)
    pki = load_pki(services)
    sweep_leftovers(services)
    if not settings.demo:
        with services.session_factory() as session:
            link = None
            if not admins.has_users(session):
                link = admins.create_admin(
                    session,
                    services.hasher,
                    username="admin",
                    full_name="Quản trị hệ thống",
                    email=None,
                    org_code=admins.ROOT_CODE,
                    org_name=settings.org_name,
                    org_symbol=admins.ROOT_SYMBOL,
                    base_url=base_url or settings.public_url or f"http://{host}",
                    hours=settings.setup_link_hours,
                    via="init",
                ).url
            created = system.ensure_system_data(session, pki, services.seal_passphrase)
            if created or link:
                audit.append(
                    session,
                    AuditAction.SYSTEM_INIT,
                    actor_id=None,
                    object_type="system",
                    details={"demo": False, "created": created, "first_admin": bool(link)},
                )
            session.commit()
        return InitReport(False, None, (), link, tuple(created))
    password = demo_password(services)
    with services.session_factory() as session:
        seeded = not seed.is_seeded(session)
        if seeded:
            seed.seed_demo(session, services.hasher, pki, password)
        system.ensure_system_data(session, pki, services.seal_passphrase)
        session.commit()
    return InitReport(seeded, password, tuple(u.username for u in seed.DEMO_USERS))
