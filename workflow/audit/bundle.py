"""workflow: the audit bundle: one ZIP with everything an outside auditor needs to check
a unit's figures for a period offline (``python -m trinhky_verify BUNDLE.zip``).

Contents (the JSON layout is a fixed contract, see ``trinhky_verify``):

- ``documents/<id>-<symbol>.pdf``: the issued PDFs (current revision) in scope;
- ``reports/<id>.json``: the server's validation report of each (``validate_pdf`` with
  the app's trust and revocation source);
- ``pki/``: root, issuing CA, TSA and OCSP responder certificates, the issuing CA's
  current CRL and the root's ARL;
- ``register.csv``: the outgoing / incoming register rows of the units in scope;
- ``ledger.jsonl``: the ledger entries in scope, every column;
- ``audit.jsonl`` and ``checkpoints.jsonl``: the audit chain from the last checkpoint
  before the period start (or the genesis) up to the newest entry, which is the
  ``bundle:exported`` entry of this export (it records the digest of the other files);
- ``log/tree-head.json`` and ``log/proofs.jsonl``: a signed tree head of the
  transparency log covering the export entry, and the RFC 9162 inclusion proof of every
  audit entry and ledger entry of the bundle against it;
- ``figures.json``: the coverage figures as the server states them, with the targets
  (``policy``: per target and year, the T1 grace period) and when the ledger was last
  refreshed in full (``as_of``);
- ``manifest.json``: every file with its SHA-256 and size, and the bundle's metadata.

Routes: ``POST /api/v1/bundles`` (on the API blueprint), the page ``/audit/bundle`` with
its button, and the ``flask export-bundle`` command.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import click
from flask import Blueprint, Flask, redirect, render_template, request, send_file, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from signing.validate import validate_pdf
from storage import audit
from storage.audit_models import AuditCheckpoint
from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Document, Unit, User
from workflow import http
from workflow.coverage import ledger as coverage
from workflow.errors import WorkflowError
from workflow.http import api_blueprint, current_actor
from workflow.registry import registers
from workflow.schemas import audit as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import File, operation
from workflow.services import EXTENSION_KEY, Services, get_services, get_session
from workflow.transparency import usecases as log_usecases
from workflow.uploads import csv_cell
from workflow.vocab import VN_TZ, vn_iso

api_bp = api_blueprint("bundle_api", __name__)

EXPORTED = "bundle:exported"
"""Audit action of an export."""
FORMAT = "trinhky-audit-bundle/1"
"""``manifest.json`` ``format``: bump when the layout changes."""
CHAIN_FILES = ("audit.jsonl", "checkpoints.jsonl", "log/tree-head.json", "log/proofs.jsonl")
"""Files written after the export entry (not covered by its ``content_sha256``)."""
REGISTER_COLUMNS = (
    "register",
    "unit",
    "document_id",
    "entry_id",
    "number",
    "symbol",
    "date",
    "doc_type",
    "subject",
    "signer",
    "recipients",
    "sender",
    "original_symbol",
    "classification",
    "state",
)

bp = Blueprint("bundle", __name__)


class BundleForm(FlaskForm):
    """Carries only the CSRF token (the export button)."""


@dataclass
class _Writer:
    """Adds files to the ZIP and remembers their SHA-256 and size."""

    zf: zipfile.ZipFile
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_bytes(self, name: str, data: bytes) -> None:
        self.zf.writestr(name, data)
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def add_json(self, name: str, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=_plain)
        self.add_bytes(name, (text + "\n").encode())

    def add_lines(self, name: str, rows: list[dict[str, Any]]) -> None:
        body = "".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True, default=_plain) + "\n" for r in rows
        )
        self.add_bytes(name, body.encode())

    def add_file(self, name: str, path: Path) -> None:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as src, self.zf.open(name, "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        self.files[name] = {"sha256": digest.hexdigest(), "size": size}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def safe_symbol(symbol: str | None) -> str:
    """:returns: an ASCII file-name part for a number and symbol (``01-NQ/ĐUK`` -> ``01-NQ-DUK``)."""
    text = (symbol or "").replace("Đ", "D").replace("đ", "d")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return text[:60] or "van-ban"


def content_digest(files: dict[str, dict[str, Any]]) -> str:
    """The SHA-256 the export's audit entry records over the files written before it:
    ``sha256("<sha256>  <name>\\n" for each name, sorted)`` (``sha256sum`` style).
    ``trinhky_verify.checks`` recomputes it."""
    lines = "".join(f"{files[n]['sha256']}  {n}\n" for n in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def server_version() -> str:
    """:returns: the version of TrinhKy (installed metadata, else ``pyproject.toml``)."""
    from importlib import metadata

    try:
        return metadata.version("trinhky")
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def _vn_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VN_TZ)


def _row(entry: Any) -> dict[str, Any]:
    """Every column of a model row, JSON-ready (dates and datetimes ISO 8601)."""
    out: dict[str, Any] = {}
    for column in entry.__table__.columns:
        value = getattr(entry, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime | date) else value
    return out


def _documents(
    session: Session, entries: list[LedgerEntry], unit_ids: set[int], period: coverage.Period
) -> list[Document]:
    """Documents with content in their final signed form: those the ledger entries name
    (T2 also counts a document signed at the end of a route without issuance: its PDF
    must be in the bundle for its entry), and those issued in the period by a unit in
    scope (also when the ledger is not refreshed yet)."""
    ids = {e.subject_id for e in entries if e.subject_kind == "document"}
    final = {e.subject_id for e in entries if e.target == "T2" and e.subject_kind == "document"}
    start, end = _vn_midnight(period.start), _vn_midnight(period.end + timedelta(days=1))
    ids |= set(
        session.scalars(
            select(Document.id).where(
                Document.issued_at >= start,
                Document.issued_at < end,
                Document.direction == "outgoing",
                Document.unit_id.in_(sorted(unit_ids)),
            )
        )
    )
    if not ids:
        return []
    docs = session.scalars(
        select(Document).where(Document.id.in_(sorted(ids))).order_by(Document.id)
    )
    return [d for d in docs if (d.issued_at is not None or d.id in final) and d.has_content]


def _register_rows(
    session: Session, unit_ids: set[int], docs: list[Document], period: coverage.Period
) -> list[dict[str, Any]]:
    filters = registers.Filters(year=period.year, date_from=period.start, date_to=period.end)
    units = {u.id: u for u in session.scalars(select(Unit))}
    doc_ids = {d.id for d in docs}
    issuers = sorted(unit_ids | {d.issuer_unit_id for d in docs if d.issuer_unit_id})
    rows: list[dict[str, Any]] = []
    for uid in issuers:
        for r in registers.outgoing(session, uid, filters):
            if uid in unit_ids or r["document_id"] in doc_ids:
                rows.append(
                    {
                        "register": "outgoing",
                        "unit": units[uid].code,
                        "document_id": r["document_id"],
                        "number": r["number"],
                        "symbol": r["symbol"],
                        "date": r["date"],
                        "doc_type": r["doc_type"],
                        "subject": r["subject"],
                        "signer": r["signer"],
                        "recipients": r["recipients_text"],
                        "classification": r["classification"],
                        "state": r["state"],
                    }
                )
    for uid in sorted(unit_ids):
        for r in registers.incoming(session, uid, filters):
            rows.append(
                {
                    "register": "incoming",
                    "unit": units[uid].code,
                    "entry_id": r["id"],
                    "number": r["number"],
                    "symbol": r["original_symbol"],
                    "date": r["received_date"],
                    "doc_type": r["doc_type"],
                    "subject": r["subject"],
                    "sender": r["sender"],
                    "original_symbol": r["original_symbol"],
                    "state": r["state"],
                }
            )
    return rows


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REGISTER_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: "" if r.get(k) is None else csv_cell(r.get(k)) for k in REGISTER_COLUMNS}
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _anchor(session: Session, before: datetime) -> AuditCheckpoint | None:
    """The newest checkpoint made before ``before`` (None: start at the genesis)."""
    return session.scalars(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.created_at < before)
        .order_by(AuditCheckpoint.created_at.desc(), AuditCheckpoint.id.desc())
        .limit(1)
    ).first()


_AUDIT_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
    "hash",
)


def _audit_rows(session: Session, start_seq: int, batch: int = 5000) -> list[dict[str, Any]]:
    """Entries with ``seq >= start_seq`` as stored (Core rows: no identity map)."""
    columns = [getattr(AuditEvent, name) for name in _AUDIT_FIELDS]
    rows: list[dict[str, Any]] = []
    last = start_seq - 1
    connection = session.connection()
    while True:
        chunk = connection.execute(
            select(*columns).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not chunk:
            return rows
        for r in chunk:
            row = dict(zip(_AUDIT_FIELDS, r, strict=True))
            row["at"] = r[1].isoformat()  # exactly what storage.audit hashes
            rows.append(row)
        last = chunk[-1][0]


@dataclass(frozen=True)
class BundleResult:
    """What an export wrote."""

    path: Path
    """The ZIP file."""
    filename: str
    """Suggested download name."""
    documents: int
    """Number of PDFs."""
    audit_seq: int
    """Sequence number of the export's audit entry."""


def export_bundle(
    session: Session,
    services: Services,
    actor: User | None,
    unit: str | None,
    period_text: str | None,
    out: Path,
    *,
    now: datetime | None = None,
) -> BundleResult:
    """Write the audit bundle of ``unit`` (code or id; empty: the whole organisation) and
    ``period_text`` (``2026``, ``2026-Q3``, ``2026-09``) to ``out`` and audit the export in
    the caller's transaction (the caller commits).

    :param actor: the auditor or administrator (None: the command line).
    :raises ForbiddenError: ``actor`` is neither an auditor nor an administrator.
    :raises InvalidInputError: a bad period. :raises NotFoundError: no such unit.
    """
    if actor is not None:
        coverage.require_auditor(actor)
    now = now or coverage.utc_now()
    period = coverage.parse_period(period_text, now.astimezone(VN_TZ).date())
    scope = coverage.resolve_scope(session, unit)
    unit_ids = set(scope.unit_ids if scope.unit_ids is not None else scope.units)
    trust = services.trust
    trust_services = services.trust_services
    revocation = trust_services.revocation_source()

    query = select(LedgerEntry).where(
        LedgerEntry.period_date >= period.start, LedgerEntry.period_date <= period.end
    )
    if scope.unit_ids is not None:
        query = query.where(LedgerEntry.unit_id.in_(sorted(scope.unit_ids)))
    entries = list(session.scalars(query.order_by(LedgerEntry.id)))
    docs = _documents(session, entries, unit_ids, period)

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        w = _Writer(zf)
        listed: list[dict[str, Any]] = []
        for doc in docs:
            revision = doc.current_revision
            name = f"documents/{doc.id}-{safe_symbol(doc.symbol)}.pdf"
            with services.blobs.local_copy(revision.blob_sha256) as path:
                w.add_file(name, path)
                report = validate_pdf(path, trust, revocation)
            w.add_json(
                f"reports/{doc.id}.json",
                {
                    "document_id": doc.id,
                    "symbol": doc.symbol,
                    "file": name,
                    "sha256": w.files[name]["sha256"],
                    "recorded_sha256": revision.blob_sha256,
                    "validated_at": now.isoformat(),
                    **report.to_dict(),
                },
            )
            listed.append(
                {
                    "id": doc.id,
                    "file": name,
                    "symbol": doc.symbol,
                    "unit_id": doc.unit_id,
                    "doc_type": doc.doc_type,
                    "issued_at": doc.issued_at.isoformat() if doc.issued_at else None,
                    "revision": revision.number,
                    "recorded_sha256": revision.blob_sha256,
                }
            )

        from cryptography.hazmat.primitives.serialization import Encoding

        pki = trust_services.pki
        w.add_bytes("pki/root.pem", pki.root_cert.public_bytes(Encoding.PEM))
        w.add_bytes("pki/issuing.pem", pki.issuing_cert.public_bytes(Encoding.PEM))
        w.add_bytes("pki/tsa.pem", pki.tsa.cert.public_bytes(Encoding.PEM))
        w.add_bytes("pki/ocsp.pem", pki.ocsp_responder.cert.public_bytes(Encoding.PEM))
        if trust_services.has_crl:
            w.add_bytes("pki/issuing.crl", trust_services.crl(now))
        if pki.authority_crl is not None:
            w.add_bytes("pki/root.crl", pki.authority_crl)

        w.add_bytes("register.csv", _csv(_register_rows(session, unit_ids, docs, period)))
        w.add_lines("ledger.jsonl", [_row(e) for e in entries])
        w.add_json(
            "figures.json",
            {
                "unit": scope.unit.code if scope.unit else None,
                "period": {
                    "code": period.code,
                    "start": period.start.isoformat(),
                    "end": period.end.isoformat(),
                },
                "figures": coverage.coverage_figures(
                    session, scope, period, policy=services.settings.coverage
                ),
                "as_of": vn_iso(coverage.as_of(session)),
                "policy": services.settings.coverage.as_json(),
            },
        )

        digest = content_digest(w.files)
        event = audit.append(
            session,
            EXPORTED,
            actor_id=actor.id if actor is not None else None,
            object_type="bundle",
            object_id=f"{scope.unit.code if scope.unit else '*'}/{period.code}",
            details={
                "unit": scope.unit.code if scope.unit else None,
                "period": period.code,
                "documents": len(docs),
                "ledger_entries": len(entries),
                "files": len(w.files),
                "content_sha256": digest,
            },
            at=now,
        )
        anchor = _anchor(session, _vn_midnight(period.start))
        start_seq = max(anchor.seq, 1) if anchor is not None else 1
        cp_query = select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
        if anchor is not None:
            cp_query = cp_query.where(AuditCheckpoint.seq >= anchor.seq)
        checkpoints = [
            {
                "id": cp.id,
                "created_at": cp.created_at.isoformat(),
                "seq": cp.seq,
                "head_hash": cp.head_hash,
                "tsa_name": cp.tsa_name,
                "timestamp_token": base64.b64encode(cp.timestamp_token).decode()
                if cp.timestamp_token
                else None,
                "anchor": anchor is not None and cp.id == anchor.id,
            }
            for cp in session.scalars(cp_query)
        ]
        w.add_lines("checkpoints.jsonl", checkpoints)
        w.add_lines("audit.jsonl", _audit_rows(session, start_seq))
        # The transparency log: a signed tree head covering the export entry, and the
        # inclusion proof of every audit entry and ledger entry of the bundle.
        head, proofs = log_usecases.bundle_log(
            session,
            services,
            services.checkpoint_timestamper,
            now,
            range(start_seq, event.seq + 1),
            [e.id for e in entries],
        )
        if head is not None:
            w.add_json("log/tree-head.json", head)
            w.add_lines("log/proofs.jsonl", proofs)

        manifest = {
            "format": FORMAT,
            "server": "TrinhKy",
            "server_version": server_version(),
            "created_at": now.isoformat(),
            "created_by": actor.username if actor is not None else None,
            "unit": scope.unit.code if scope.unit else None,
            "period": {
                "code": period.code,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
            },
            "scope": {
                "unit_ids": sorted(unit_ids),
                "units": {
                    str(u.id): {
                        "code": u.code,
                        "name": u.name,
                        "kind": u.kind,
                        "level": coverage.unit_level(u.kind),
                    }
                    for u in sorted(scope.units.values(), key=lambda u: u.id)
                    if u.id in unit_ids
                },
            },
            "documents": listed,
            "audit": {
                "start_seq": start_seq,
                "anchor_checkpoint": anchor.id if anchor is not None else None,
                "export_seq": event.seq,
                "export_hash": event.hash,
                "content_sha256": digest,
            },
            "files": [{"name": n, **w.files[n]} for n in sorted(w.files)],
        }
        zf.writestr(
            "manifest.json",
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
        )
    code = safe_symbol(scope.unit.code if scope.unit else "toan-dang-bo")
    return BundleResult(
        path=out,
        filename=f"bundle-{code}-{period.code}.zip",
        documents=len(docs),
        audit_seq=event.seq,
    )


def _temp_zip(services: Services) -> Path:
    tmp_dir = services.settings.instance_path / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="bundle-", suffix=".zip", dir=tmp_dir)
    os.close(fd)
    return Path(name)


def _send(result: BundleResult) -> Response:
    """Stream the ZIP from its temp file; the file is unlinked once opened (POSIX), so it
    disappears when the response closes the handle."""
    handle: IO[bytes] = result.path.open("rb")
    result.path.unlink(missing_ok=True)
    return send_file(
        handle,
        mimetype="application/zip",
        as_attachment=True,
        download_name=result.filename,
        max_age=0,
    )


def _export_request(unit: str | int | None, period: str | None, actor: User) -> Response:
    coverage.require_auditor(actor)
    services = get_services()
    db = get_session()
    out = _temp_zip(services)
    try:
        result = export_bundle(
            db, services, actor, None if unit is None else str(unit), period, out
        )
        db.commit()
    except BaseException:
        db.rollback()
        out.unlink(missing_ok=True)
        raise
    return _send(result)


@api_bp.post("/bundles")
@operation(
    body=schemas.BundleRequest,
    responses={200: File(("application/zip",), "the audit bundle, to verify offline")},
)
def bundle_api() -> Any:
    """Export the audit bundle (ZIP) of a unit and period (auditors, administrators)."""
    body = parse(schemas.BundleRequest, http.json_body())
    return _export_request(body.unit, body.period, http.actor())


# --- the page ------------------------------------------------------------------------


@bp.get("/audit/bundle")
@login_required
def page() -> Any:
    """The export form (auditors, administrators)."""
    coverage.require_auditor(current_actor())
    db = get_session()
    units = list(db.scalars(select(Unit).order_by(Unit.code)))
    today = coverage.utc_now().astimezone(VN_TZ).date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return render_template(
        "bundle/index.html",
        units=units,
        period=request.args.get("period") or quarter,
        unit=request.args.get("unit") or "",
        form=BundleForm(),
    )


@bp.post("/audit/bundle")
@login_required
def export_page() -> Any:
    """Export and download the bundle (the button of the page)."""
    actor = coverage.require_auditor(current_actor())
    if not BundleForm().validate_on_submit():
        return redirect(url_for("bundle.page"))
    return _export_request(request.form.get("unit") or None, request.form.get("period"), actor)


# --- CLI -------------------------------------------------------------------------------


def register_bundle_cli(app: Flask) -> None:
    """Attach ``flask export-bundle`` to ``app.cli``."""

    @app.cli.command("export-bundle")
    @click.option("--unit", default="", help="Unit code or id (empty: the whole organisation).")
    @click.option("--period", required=True, help="2026, 2026-Q3 or 2026-09.")
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help="The ZIP file to write.",
    )
    def export_bundle_command(unit: str, period: str, out: Path) -> None:
        """Export the audit bundle of a unit and period; check it with
        ``python -m trinhky_verify FILE.zip``."""
        services: Services = app.extensions[EXTENSION_KEY]
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        with services.session_factory() as session:
            try:
                result = export_bundle(session, services, None, unit or None, period, partial)
                session.commit()
            except WorkflowError as exc:
                partial.unlink(missing_ok=True)
                raise click.ClickException(exc.message) from exc
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        partial.replace(out)
        click.echo(
            f"bundle {out}: {result.documents} documents, export recorded as audit entry "
            f"{result.audit_seq}"
        )
