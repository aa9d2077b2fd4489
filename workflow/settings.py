"""workflow: frozen, validated settings built from the layered Flask config."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import argon2

from signing.errors import KeyLoadError
from signing.limits import PdfLimits
from signing.pkcs11_keys import Pkcs11Config, seal_config
from storage.blobs import BlobStore, S3Config, S3Location, open_blob_store

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
    # Coverage targets: overrides of the seed's, per key (T1, T2, T4, T3.bloc,
    # T3.grassroots) and from year, e.g. {"T1": {"2026": 0.95, "2030": 1.0}}.
    "COVERAGE_TARGETS": {},
    # T1: working days an issued document may await dispatch before it is a miss.
    "T1_GRACE_WORKING_DAYS": 2,
    # Days off besides weekends (ISO dates), for working days.
    "HOLIDAYS": [],
    # Periodic jobs (`flask scheduler run`, started by `make run`), intervals in seconds:
    # the audit + ledger checkpoint, then any job by name (workflow/jobs/catalogue.py).
    "CHECKPOINT_INTERVAL": 3600,
    "JOB_INTERVALS": {},
    "JOB_GRACE": 600,
    # Input at the edge (workflow/edge.py): JSON bodies, before they are parsed.
    "MAX_JSON_BYTES": 1024 * 1024,
    "MAX_JSON_DEPTH": 32,
    # Bounded work for every uploaded PDF (signing/limits.py), and active content.
    "PDF_MAX_PAGES": 2000,
    "PDF_MAX_OBJECTS": 500_000,
    "PDF_MAX_DEPTH": 64,
    "PDF_MAX_DECOMPRESSED_BYTES": 512 * 1024 * 1024,
    "PDF_MAX_SECONDS": 20,
    "ACTIVE_CONTENT_POLICY": "warn",
    # Crash leftovers (the `cleanup` job): temporary uploads and unreferenced blobs older
    # than this many seconds are removed.
    "CLEANUP_GRACE_SECONDS": 24 * 3600,
    # Hours a one-time link to set a password stays valid (first administrator, imports).
    "SETUP_LINK_HOURS": 72,
    # Where blobs live: unset, the folder BLOB_DIR (file://); "s3://bucket/prefix" for an
    # S3-compatible object store reached with the S3_* settings (unset ones: boto3's chain).
    "BLOB_URL": None,
    "S3_ENDPOINT_URL": None,
    "S3_REGION": None,
    "S3_ACCESS_KEY_ID": None,
    "S3_SECRET_ACCESS_KEY": None,
    "S3_ADDRESSING_STYLE": "auto",
    # Outbound webhooks: seconds to wait for a receiver, attempts before giving up, and
    # whether the server delivers right after the commit (else only the webhooks job).
    "WEBHOOK_TIMEOUT": 10,
    "WEBHOOK_MAX_ATTEMPTS": 10,
    "WEBHOOK_IMMEDIATE": True,
    # Login throttling (workflow/accounts/throttle.py): failed logins a source address may
    # make in a window before it must wait for the window's end, and how many reverse
    # proxies in front of the server append to X-Forwarded-For (0: trust no header).
    "LOGIN_SOURCE_MAX_FAILURES": 30,
    "LOGIN_SOURCE_WINDOW_SECONDS": 15 * 60,
    "TRUSTED_PROXY_HOPS": 0,
    # Office mailboxes read over IMAP (TLS) for incoming documents: a JSON list of
    # {"name", "host", "port", "user", "password", "folder", "unit", ...} (MailboxConfig).
    "MAIL_INTAKE": [],
    # Archival renewal of B-LTA documents (the daily `archival` job): days before the
    # newest timestamp's TSA certificate expires, deprecated digests, and whether issued
    # B-LT documents are upgraded to B-LTA.
    "ARCHIVAL_RENEW_DAYS": 180,
    "ARCHIVAL_WEAK_DIGESTS": ["md5", "sha1"],
    "ARCHIVAL_UPGRADE_B_LT": False,
}


# --- the coverage targets (workflow.coverage reads them) --------------------------------

TARGET_KEYS = ("T1", "T2", "T3.bloc", "T3.grassroots", "T4")
"""What has a target: T1, T2, T4, and T3 per level."""
DEFAULT_TARGETS: dict[str, tuple[tuple[int, float], ...]] = {
    "T1": ((2025, 1.0),),
    "T2": ((2025, 1.0),),
    "T3.bloc": ((2025, 0.80), (2030, 0.90)),
    "T3.grassroots": ((2025, 0.60), (2030, 0.70)),
    "T4": ((2025, 1.0),),
}
"""The seed's targets: (from year, fraction) steps. T1, T2 and T4 are goals for 2030 and
the seed asks 100% of them every year; T3 rises in two steps (2025, 2030): the
resolution sets floors for those years, not a yearly path."""
DEFAULT_GRACE_WORKING_DAYS = 2
"""Working days after its issue date during which an undispatched document awaits
dispatch (T1) before it counts as a miss."""


class PolicyError(ValueError):
    """A coverage setting is unusable (English: raised at start-up)."""


def _steps(key: str, value: Any) -> tuple[tuple[int, float], ...]:
    """``0.9`` (every year) or ``{"2025": 0.8, "2030": 0.9}`` (from each year on)."""
    raw = value if isinstance(value, Mapping) else {"2000": value}
    steps: list[tuple[int, float]] = []
    for year, fraction in raw.items():
        if not str(year).isdigit() or not 2000 <= int(year) <= 2100:
            raise PolicyError(f"COVERAGE_TARGETS[{key}]: {year!r} is not a year (2000-2100)")
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise PolicyError(f"COVERAGE_TARGETS[{key}][{year}] must be a number, got {fraction!r}")
        if not 0 < fraction <= 1:
            raise PolicyError(
                f"COVERAGE_TARGETS[{key}][{year}] must be a fraction in (0, 1], got {fraction!r}"
            )
        steps.append((int(year), float(fraction)))
    if not steps:
        raise PolicyError(f"COVERAGE_TARGETS[{key}] names no year")
    return tuple(sorted(steps))


@dataclass(frozen=True)
class CoveragePolicy:
    """The settings the coverage rules depend on (``Settings.coverage``)."""

    targets: Mapping[str, tuple[tuple[int, float], ...]] = field(
        default_factory=lambda: dict(DEFAULT_TARGETS), hash=False
    )
    """Per key of :data:`TARGET_KEYS`: ``(from year, fraction)`` steps, sorted; a year
    before the first step takes the first step's value."""
    grace_working_days: int = DEFAULT_GRACE_WORKING_DAYS
    """T1: working days after the issue date before an undispatched document is a miss."""
    holidays: frozenset[date] = frozenset()
    """Days off besides Saturdays and Sundays (public holidays), for working days."""

    @classmethod
    def from_config(cls, targets: Any, grace: Any, holidays: Any) -> CoveragePolicy:
        """Build the policy from ``COVERAGE_TARGETS`` (overrides of the seed's targets,
        per key), ``T1_GRACE_WORKING_DAYS`` and ``HOLIDAYS`` (ISO dates).

        :raises PolicyError: an unknown key, a bad year or fraction, a negative grace.
        """
        if targets is None:
            targets = {}
        if not isinstance(targets, Mapping):
            raise PolicyError(f"COVERAGE_TARGETS must be a JSON object, got {targets!r}")
        unknown = sorted(set(targets) - set(TARGET_KEYS))
        if unknown:
            raise PolicyError(
                f"COVERAGE_TARGETS: unknown key(s) {', '.join(unknown)}; use {', '.join(TARGET_KEYS)}"
            )
        merged = dict(DEFAULT_TARGETS)
        merged.update({str(k): _steps(str(k), v) for k, v in targets.items()})
        if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 60:
            raise PolicyError(f"T1_GRACE_WORKING_DAYS must be an integer 0-60, got {grace!r}")
        days: set[date] = set()
        for text in holidays or ():
            try:
                days.add(date.fromisoformat(str(text)))
            except ValueError as exc:
                raise PolicyError(f"HOLIDAYS: {text!r} is not an ISO date") from exc
        return cls(targets=merged, grace_working_days=grace, holidays=frozenset(days))

    def target(self, key: str, year: int) -> float:
        """:returns: the target of ``key`` (``T1``, ``T3.bloc``...) in ``year``."""
        steps = self.targets[key]
        value = steps[0][1]
        for start, fraction in steps:
            if year >= start:
                value = fraction
        return value

    def is_working_day(self, day: date) -> bool:
        """:returns: whether ``day`` is Monday to Friday and not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def dispatch_deadline(self, issued_on: date) -> date:
        """:returns: the last day on which a document issued on ``issued_on`` is still
        awaiting dispatch: the ``grace_working_days``-th working day after it (the
        issue day itself with no grace)."""
        day, added = issued_on, 0
        while added < self.grace_working_days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                added += 1
        return day

    def as_json(self) -> dict[str, Any]:
        """:returns: the policy as plain data (the audit bundle's manifest)."""
        return {
            "targets": {k: [[y, f] for y, f in v] for k, v in sorted(self.targets.items())},
            "grace_working_days": self.grace_working_days,
            "holidays": sorted(d.isoformat() for d in self.holidays),
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
    """Failed logins of one account from one source before each further try waits
    (1 s, 2 s, 4 s... doubling); the account is never locked for other sources."""
    login_lock_seconds: int
    """Longest wait between tries of one account from one source (and how long a quiet
    spell clears the count)."""
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
    coverage: CoveragePolicy = field(default_factory=lambda: CoveragePolicy())
    """The targets of each year (``COVERAGE_TARGETS``, the seed's by default), the T1
    grace period (``T1_GRACE_WORKING_DAYS``) and the days off (``HOLIDAYS``)."""
    ca_passphrase: str | None = field(default=None, repr=False)
    """Passphrase of the embedded CA keys (``TRINHKY_CA_PASSPHRASE``); unset: a secret
    file in the instance folder, created on first use."""
    seal_passphrase: str | None = field(default=None, repr=False)
    """Passphrase of the organisation's stored seal keys (``TRINHKY_SEAL_PASSPHRASE``);
    unset: a secret file in the instance folder, created on first use."""
    mail_server: str | None = None
    """SMTP host for outgoing e-mail (dispatch links, reminders) (``MAIL_SERVER``);
    unset: nothing is e-mailed, notifications stay in the application."""
    mail_port: int = 25
    """SMTP port (``MAIL_PORT``)."""
    mail_from: str = "trinhky@localhost"
    """The From address of outgoing e-mail (``MAIL_FROM``)."""
    mail_username: str | None = None
    """SMTP login (``MAIL_USERNAME``), if the server needs one."""
    mail_password: str | None = field(default=None, repr=False)
    """SMTP password (``MAIL_PASSWORD``)."""
    mail_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS before logging in (``MAIL_STARTTLS``)."""
    dispatch_link_days: int = 7
    """Days an outside recipient's one-time download link stays valid
    (``DISPATCH_LINK_DAYS``)."""
    max_json_bytes: int = 1024 * 1024
    """Largest JSON request body (checked before it is parsed; beyond it: 413)."""
    max_json_depth: int = 32
    """Deepest nesting of arrays and objects in a JSON body (checked before parsing)."""
    pdf_limits: PdfLimits = field(default_factory=PdfLimits)
    """Bounds on the work an uploaded PDF may cause (pages, objects, nesting,
    decompressed size, time): beyond any of them the upload is refused, the limit named."""
    active_content_policy: str = "warn"
    """``warn`` (default: JavaScript, XFA, launch actions, embedded files are accepted,
    listed in the validation report and shown to the signer) or ``refuse`` (at upload)."""
    cleanup_grace_seconds: int = 24 * 3600
    """Age after which a temporary upload or an unreferenced blob is removed."""
    setup_link_hours: int = 72
    """Hours a one-time link to set a password stays valid (``SETUP_LINK_HOURS``)."""
    blob_url: str = ""
    """Where blobs live (``BLOB_URL``): ``file://`` + :attr:`blob_dir` by default, or
    ``s3://bucket/prefix``."""
    s3: S3Config | None = None
    """How to reach the object store of an ``s3://`` :attr:`blob_url` (``S3_*``)."""
    webhook_timeout: int = 10
    """Seconds a webhook receiver has to answer (``WEBHOOK_TIMEOUT``)."""
    webhook_max_attempts: int = 10
    """Attempts of one delivery before it is marked failed (``WEBHOOK_MAX_ATTEMPTS``)."""
    webhook_immediate: bool = True
    archival_renew_days: int = 180
    """Renew a B-LTA document's timestamp this many days before its TSA certificate
    expires (``ARCHIVAL_RENEW_DAYS``)."""
    archival_weak_digests: tuple[str, ...] = ("md5", "sha1")
    """Digests whose timestamps are renewed at once (``ARCHIVAL_WEAK_DIGESTS``)."""
    archival_upgrade_b_lt: bool = False
    """Give issued B-LT documents a first document timestamp (``ARCHIVAL_UPGRADE_B_LT``)."""
    """Deliver a request's events right after its commit (``WEBHOOK_IMMEDIATE``); the
    ``webhooks`` job delivers what is due in any case."""
    login_source_max_failures: int = 30
    """Failed logins one source address may make in a window, whatever the usernames,
    before it waits for the window's end (``LOGIN_SOURCE_MAX_FAILURES``)."""
    login_source_window_seconds: int = 15 * 60
    """The window of :attr:`login_source_max_failures` (``LOGIN_SOURCE_WINDOW_SECONDS``)."""
    trusted_proxy_hops: int = 0
    """Reverse proxies in front of the server whose ``X-Forwarded-For`` entries are
    believed (``TRUSTED_PROXY_HOPS``); 0: the source is the connection's address."""
    mail_intake: tuple[MailboxConfig, ...] = ()
    """The office mailboxes the ``mail-intake`` job reads (``MAIL_INTAKE``)."""

    def blob_store(self) -> BlobStore:
        """:returns: the blob store of :attr:`blob_url` (staging under :attr:`blob_dir`)."""
        return open_blob_store(
            self.blob_url or self.blob_dir.resolve().as_uri(), tmp=self.blob_dir / "tmp", s3=self.s3
        )

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
            coverage=_coverage(config),
            ca_passphrase=_secret(config, "CA_PASSPHRASE"),
            seal_passphrase=_secret(config, "SEAL_PASSPHRASE"),
            **_mail(config),
            dispatch_link_days=positive("DISPATCH_LINK_DAYS"),
            max_json_bytes=positive("MAX_JSON_BYTES"),
            max_json_depth=positive("MAX_JSON_DEPTH"),
            pdf_limits=PdfLimits(
                max_pages=positive("PDF_MAX_PAGES"),
                max_objects=positive("PDF_MAX_OBJECTS"),
                max_depth=positive("PDF_MAX_DEPTH"),
                max_decompressed_bytes=positive("PDF_MAX_DECOMPRESSED_BYTES"),
                max_seconds=positive("PDF_MAX_SECONDS"),
            ),
            active_content_policy=_active_policy(config.get("ACTIVE_CONTENT_POLICY")),
            cleanup_grace_seconds=positive("CLEANUP_GRACE_SECONDS"),
            setup_link_hours=positive("SETUP_LINK_HOURS"),
            **_blobs(config, path("BLOB_DIR", "blobs")),
            webhook_timeout=positive("WEBHOOK_TIMEOUT"),
            webhook_max_attempts=positive("WEBHOOK_MAX_ATTEMPTS"),
            webhook_immediate=_flag(config.get("WEBHOOK_IMMEDIATE")),
            login_source_max_failures=positive("LOGIN_SOURCE_MAX_FAILURES"),
            login_source_window_seconds=positive("LOGIN_SOURCE_WINDOW_SECONDS"),
            trusted_proxy_hops=_hops(config.get("TRUSTED_PROXY_HOPS")),
            mail_intake=_mailboxes(config.get("MAIL_INTAKE")),
            archival_renew_days=positive("ARCHIVAL_RENEW_DAYS"),
            archival_weak_digests=_digests(config.get("ARCHIVAL_WEAK_DIGESTS")),
            archival_upgrade_b_lt=_flag(config.get("ARCHIVAL_UPGRADE_B_LT")),
        )


def _active_policy(value: Any) -> str:
    if value not in ("warn", "refuse"):
        raise SettingsError(f"ACTIVE_CONTENT_POLICY must be 'warn' or 'refuse', got {value!r}")
    return str(value)


LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def _level(value: Any, key: str) -> str:
    if value not in LEVELS:
        raise SettingsError(f"{key} must be one of {', '.join(LEVELS)}, got {value!r}")
    return str(value)


def _policy(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SettingsError(f"SIGNATURE_POLICY must be a JSON object, got {value!r}")
    return {str(k): _level(v, f"SIGNATURE_POLICY[{k}]") for k, v in value.items()}


def _coverage(config: Mapping[str, Any]) -> CoveragePolicy:
    try:
        return CoveragePolicy.from_config(
            config.get("COVERAGE_TARGETS"),
            config.get("T1_GRACE_WORKING_DAYS", DEFAULTS["T1_GRACE_WORKING_DAYS"]),
            config.get("HOLIDAYS"),
        )
    except PolicyError as exc:
        raise SettingsError(str(exc)) from exc


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


def _flag(value: Any) -> bool:
    # instance/config.py may spell a switch as text; the environment arrives as JSON.
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _mail(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``mail_*`` fields: one SMTP server for every e-mail the server sends."""
    server = str(config.get("MAIL_SERVER") or "").strip() or None
    sender = str(config.get("MAIL_FROM") or "").strip()
    if server is not None and not sender:
        raise SettingsError("MAIL_FROM is required when MAIL_SERVER is set")
    port = config.get("MAIL_PORT")
    if isinstance(port, str) and port.strip().isdigit():
        port = int(port)
    if port is None:
        port = DEFAULTS["MAIL_PORT"]
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise SettingsError(f"MAIL_PORT must be a port number (1-65535), got {port!r}")
    return {
        "mail_server": server,
        "mail_port": port,
        "mail_from": sender or DEFAULTS["MAIL_FROM"],
        "mail_username": _secret(config, "MAIL_USERNAME"),
        "mail_password": _secret(config, "MAIL_PASSWORD"),
        "mail_starttls": _flag(config.get("MAIL_STARTTLS")),
    }


def _blobs(config: Mapping[str, Any], blob_dir: Path) -> dict[str, Any]:
    """The ``blob_url`` and ``s3`` fields (``BLOB_URL``, ``S3_*``)."""
    url = str(config.get("BLOB_URL") or "").strip() or blob_dir.resolve().as_uri()
    if url.startswith("s3:"):
        try:
            S3Location.parse(url)
        except ValueError as exc:
            raise SettingsError(f"BLOB_URL: {exc}") from exc
        style = str(config.get("S3_ADDRESSING_STYLE") or "auto")
        if style not in ("auto", "path", "virtual"):
            raise SettingsError(f"S3_ADDRESSING_STYLE must be auto, path or virtual, got {style!r}")
        s3 = S3Config(
            endpoint_url=_secret(config, "S3_ENDPOINT_URL"),
            region=_secret(config, "S3_REGION"),
            access_key_id=_secret(config, "S3_ACCESS_KEY_ID"),
            secret_access_key=_secret(config, "S3_SECRET_ACCESS_KEY"),
            addressing_style=style,
        )
        return {"blob_url": url, "s3": s3, "blob_dir": blob_dir}
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path:
        raise SettingsError(f"BLOB_URL must be file:///folder or s3://bucket/prefix, got {url!r}")
    return {"blob_url": url, "blob_dir": Path(unquote(parts.path))}


def _digests(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"ARCHIVAL_WEAK_DIGESTS must be a list of names, got {value!r}")
    return tuple(v.strip().lower() for v in value)


def _seal_token(config: Mapping[str, Any]) -> Pkcs11Config | None:
    try:
        token = seal_config(config)
    except KeyLoadError as exc:
        raise SettingsError(str(exc)) from exc
    if token is not None and not Path(token.module).is_file():
        raise SettingsError(f"SEAL_PKCS11_MODULE: no such library {token.module!r}")
    return token


def instance_folder(test_config: Mapping[str, Any] | None, default: Path) -> Path:
    """:returns: the instance folder: ``INSTANCE_PATH`` of the test mapping, else the
    ``TRINHKY_INSTANCE_PATH`` environment variable, else ``default`` (read before the
    other layers, which live in it)."""
    chosen = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("TRINHKY_INSTANCE_PATH")
    return Path(chosen) if chosen else default


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


def _hops(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 5:
        raise SettingsError(f"TRUSTED_PROXY_HOPS must be an integer 0..5, got {value!r}")
    return value


@dataclass(frozen=True)
class MailboxConfig:
    """One office mailbox read over IMAP for incoming documents (an item of
    ``MAIL_INTAKE``)."""

    name: str
    """Short stable name (the queue, the audit log)."""
    host: str
    """IMAP server."""
    user: str
    """Login."""
    password: str = field(repr=False)
    """Password (never logged, never shown)."""
    unit: str
    """Code of the receiving unit: its clerks see the messages."""
    port: int = 993
    """IMAP port (993: TLS from the start)."""
    folder: str = "INBOX"
    """The folder read."""
    security: str = "tls"
    """``tls`` (IMAPS) or ``starttls``: never plain text."""
    cafile: str | None = None
    """A CA bundle to trust instead of the system's (a private mail server)."""
    flag: str = "$TrinhKy"
    """The IMAP keyword set on a message once its entry is committed."""


MAILBOX_FIELDS = ("name", "host", "user", "password", "unit")


def _mailboxes(value: Any) -> tuple[MailboxConfig, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, list):
        raise SettingsError("MAIL_INTAKE must be a JSON list of mailboxes")
    boxes: list[MailboxConfig] = []
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise SettingsError(f"MAIL_INTAKE[{n}] must be a JSON object")
        missing = [k for k in MAILBOX_FIELDS if not item.get(k)]
        if missing:
            raise SettingsError(f"MAIL_INTAKE[{n}]: missing {', '.join(missing)}")
        unknown = set(item) - {f for f in MailboxConfig.__dataclass_fields__}
        if unknown:
            raise SettingsError(f"MAIL_INTAKE[{n}]: unknown {', '.join(sorted(unknown))}")
        security = str(item.get("security") or "tls")
        if security not in ("tls", "starttls"):
            raise SettingsError(f"MAIL_INTAKE[{n}].security must be tls or starttls")
        port = item.get("port", 993)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise SettingsError(f"MAIL_INTAKE[{n}].port must be a port number")
        boxes.append(
            MailboxConfig(
                name=str(item["name"])[:64],
                host=str(item["host"]),
                user=str(item["user"]),
                password=str(item["password"]),
                unit=str(item["unit"]),
                port=port,
                folder=str(item.get("folder") or "INBOX"),
                security=security,
                cafile=str(item["cafile"]) if item.get("cafile") else None,
                flag=str(item.get("flag") or "$TrinhKy"),
            )
        )
    if len({b.name for b in boxes}) != len(boxes):
        raise SettingsError("MAIL_INTAKE: two mailboxes have the same name")
    return tuple(boxes)
