"""workflow: frozen, validated settings built from the layered Flask config."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argon2

from signing.errors import KeyLoadError
from signing.pkcs11_keys import Pkcs11Config, seal_config

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,
    "BLOB_DIR": None,
    "PKI_DIR": None,
    "MAX_UPLOAD_BYTES": 50 * 1024 * 1024,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_SECONDS": 15 * 60,
    "KEY_MAX_FAILURES": 5,
    "KEY_LOCK_SECONDS": 15 * 60,
    "TOKEN_TTL_SECONDS": 8 * 3600,
    # argon2id cost of new password hashes (argon2-cffi's defaults, RFC 9106 low memory).
    "ARGON2_TIME_COST": argon2.DEFAULT_TIME_COST,
    "ARGON2_MEMORY_COST": argon2.DEFAULT_MEMORY_COST,
    "ARGON2_PARALLELISM": argon2.DEFAULT_PARALLELISM,
    "SESSION_COOKIE_SECURE": False,
    "DEMO": True,
    "DEMO_PASSWORD": None,
    "DEMO_ALLOW_REMOTE": False,
    "ORG_NAME": "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
    # PAdES level by policy: the default, and overrides keyed by "UNIT:TYPE", "TYPE" or "UNIT".
    "SIGNATURE_LEVEL": "B-LT",
    "SIGNATURE_POLICY": {},
    # Outgoing e-mail (dispatch links, reminders); unset MAIL_SERVER: in-app only.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_FROM": "trinhky@localhost",
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_STARTTLS": False,
    "DISPATCH_LINK_DAYS": 7,
    "PUBLIC_BASE_URL": None,
    # The organisation's seal key on a PKCS#11 token or HSM (unset module: the seal keys
    # are stored encrypted by the server). The PIN from _PIN or, better, _PIN_FILE.
    "SEAL_PKCS11_MODULE": None,
    "SEAL_PKCS11_TOKEN_LABEL": None,
    "SEAL_PKCS11_KEY_LABEL": None,
    "SEAL_PKCS11_PIN": None,
    "SEAL_PKCS11_PIN_FILE": None,
    # Periodic jobs (`flask scheduler run`, started by `make run`), intervals in seconds:
    # the audit + ledger checkpoint, then any job by name (workflow/jobs/catalogue.py).
    "CHECKPOINT_INTERVAL": 3600,
    "JOB_INTERVALS": {},
    "JOB_GRACE": 600,
}


class SettingsError(ValueError):
    """The configuration is unusable; raised at start-up, never later."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated once in ``create_app``."""

    instance_path: Path
    """Folder for the embedded default: database, blobs, PKI, secrets."""
    database_url: str
    """SQLAlchemy URL; ``sqlite:///...`` (default) or ``postgresql://...``."""
    blob_dir: Path
    """Where PDF revisions are stored by SHA-256."""
    pki_dir: Path
    """The embedded CA (root and issuing certificates, encrypted keys)."""
    max_upload_bytes: int
    """Largest accepted upload; beyond it the server answers 413."""
    login_max_failures: int
    """Failed logins in a row before the account is locked for a while."""
    login_lock_seconds: int
    """How long an account stays locked."""
    key_max_failures: int
    """Wrong key passphrases in a row before the key is locked for a while."""
    key_lock_seconds: int
    """How long a signing key stays locked."""
    token_ttl_seconds: int
    """Lifetime of an API token."""
    argon2_cost: tuple[int, int, int]
    """argon2id ``(time_cost, memory_cost in KiB, parallelism)`` of new password hashes;
    a stored hash of another cost is re-hashed at the next successful login."""
    session_cookie_secure: bool
    """Send cookies only over HTTPS (set behind a TLS proxy)."""
    demo: bool
    """Seed the demo organisation and users on first initialisation."""
    demo_password: str | None
    """Password of the demo users (generated when unset)."""
    demo_allow_remote: bool
    """Allow demo users on a server bound to a non-loopback address."""
    org_name: str
    """Name of the organisation (root CA subject, stamps)."""
    signature_level: str
    """Default PAdES level: B-B, B-T, B-LT or B-LTA."""
    public_url: str | None
    """Where validators reach this server (OCSP/CRL URLs in new certificates), if anywhere."""
    signature_policy: dict[str, str]
    """Levels by document type and unit: keys "UNIT:TYPE", "TYPE" or "UNIT"."""
    checkpoint_interval: int = 3600
    """Seconds between two checkpoints of the audit-log and ledger heads (TSA-stamped)."""
    job_intervals: dict[str, int] = field(default_factory=dict)
    """Seconds between two runs, by job name, over the defaults of ``workflow.jobs``."""
    job_grace: int = 600
    """Seconds a run may start after its due time before the job counts as late."""
    seal_pkcs11: Pkcs11Config | None = None
    """The token holding the organisation's seal key, if any (``SEAL_PKCS11_*``); used
    for issuers whose active seal certificate was registered for it (``flask seal-token``)."""
    ca_passphrase: str | None = field(default=None, repr=False)
    """Passphrase of the embedded CA keys (``TRINHKY_CA_PASSPHRASE``); unset: a secret
    file in the instance folder, created on first use."""
    seal_passphrase: str | None = field(default=None, repr=False)
    """Passphrase of the organisation's stored seal keys (``TRINHKY_SEAL_PASSPHRASE``);
    unset: a secret file in the instance folder, created on first use."""

    def level_for(self, unit_code: str, doc_type: str) -> str:
        """:returns: the PAdES level the policy gives a document of this unit and type."""
        policy = self.signature_policy
        for key in (f"{unit_code}:{doc_type}", doc_type, unit_code):
            if key in policy:
                return policy[key]
        return self.signature_level

    def password_hasher(self) -> argon2.PasswordHasher:
        """:returns: the argon2id hasher of this configuration."""
        time_cost, memory_cost, parallelism = self.argon2_cost
        return argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], instance_path: Path) -> Settings:
        """Build and validate settings from ``app.config``.

        :raises SettingsError: on an unusable value.
        """
        instance_path = Path(instance_path)

        def path(key: str, default: str) -> Path:
            value = config.get(key)
            return Path(value) if value else instance_path / default

        url = config.get("DATABASE_URL") or f"sqlite:///{instance_path / 'trinhky.sqlite3'}"
        if not str(url).startswith(("sqlite", "postgres")):
            raise SettingsError(f"DATABASE_URL must be SQLite or PostgreSQL, got {url!r}")

        def positive(key: str) -> int:
            value = config.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SettingsError(f"{key} must be a positive integer, got {value!r}")
            return value

        return cls(
            instance_path=instance_path,
            database_url=str(url),
            blob_dir=path("BLOB_DIR", "blobs"),
            pki_dir=path("PKI_DIR", "pki"),
            max_upload_bytes=positive("MAX_UPLOAD_BYTES"),
            login_max_failures=positive("LOGIN_MAX_FAILURES"),
            login_lock_seconds=positive("LOGIN_LOCK_SECONDS"),
            key_max_failures=positive("KEY_MAX_FAILURES"),
            key_lock_seconds=positive("KEY_LOCK_SECONDS"),
            token_ttl_seconds=positive("TOKEN_TTL_SECONDS"),
            argon2_cost=_argon2_cost(positive),
            session_cookie_secure=bool(config.get("SESSION_COOKIE_SECURE")),
            demo=bool(config.get("DEMO")),
            demo_password=config.get("DEMO_PASSWORD") or None,
            demo_allow_remote=bool(config.get("DEMO_ALLOW_REMOTE")),
            org_name=str(config.get("ORG_NAME")),
            public_url=config.get("PUBLIC_BASE_URL") or None,
            signature_level=_level(config.get("SIGNATURE_LEVEL"), "SIGNATURE_LEVEL"),
            signature_policy=_policy(config.get("SIGNATURE_POLICY")),
            checkpoint_interval=positive("CHECKPOINT_INTERVAL"),
            job_intervals=_intervals(config.get("JOB_INTERVALS")),
            job_grace=positive("JOB_GRACE"),
            seal_pkcs11=_seal_token(config),
            ca_passphrase=_secret(config, "CA_PASSPHRASE"),
            seal_passphrase=_secret(config, "SEAL_PASSPHRASE"),
        )


LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def _level(value: Any, key: str) -> str:
    if value not in LEVELS:
        raise SettingsError(f"{key} must be one of {', '.join(LEVELS)}, got {value!r}")
    return str(value)


def _policy(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SettingsError(f"SIGNATURE_POLICY must be a JSON object, got {value!r}")
    return {str(k): _level(v, f"SIGNATURE_POLICY[{k}]") for k, v in value.items()}


def _argon2_cost(positive: Callable[[str], int]) -> tuple[int, int, int]:
    cost = (
        positive("ARGON2_TIME_COST"),
        positive("ARGON2_MEMORY_COST"),
        positive("ARGON2_PARALLELISM"),
    )
    if cost[1] < 8 * cost[2]:  # argon2's own floor: 8 KiB per lane
        raise SettingsError(
            f"ARGON2_MEMORY_COST must be at least 8 × ARGON2_PARALLELISM, got {cost[1]!r}"
        )
    return cost


def _intervals(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise SettingsError(f"JOB_INTERVALS must be a JSON object, got {value!r}")
    for name, seconds in value.items():
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise SettingsError(
                f"JOB_INTERVALS[{name}] must be a positive integer, got {seconds!r}"
            )
    return {str(k): int(v) for k, v in value.items()}


def _secret(config: Mapping[str, Any], key: str) -> str | None:
    # from_prefixed_env parses values as JSON: a passphrase of digits arrives as a number.
    value = config.get(key)
    return None if value is None or value == "" else str(value)


def _seal_token(config: Mapping[str, Any]) -> Pkcs11Config | None:
    try:
        token = seal_config(config)
    except KeyLoadError as exc:
        raise SettingsError(str(exc)) from exc
    if token is not None and not Path(token.module).is_file():
        raise SettingsError(f"SEAL_PKCS11_MODULE: no such library {token.module!r}")
    return token


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Read a secret file, creating it atomically (0600) if missing.

    Several gunicorn workers may start at once: the secret is written to a temporary
    file and linked into place, so exactly one value wins and everyone reads it.

    :returns: the secret (URL-safe text).
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(nbytes))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
