"""workflow: public endpoints: the root certificate and the health check (blueprint)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from storage.db import probe_write
from workflow.services import get_services

bp = Blueprint("public", __name__)
log = logging.getLogger("trinhky")


@bp.get("/pki/root.pem")
def root_pem() -> Response:
    """The embedded root CA certificate, to trust in validators."""
    data = get_services().root_pem_path().read_bytes()
    return Response(
        data,
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="trinhky-root.pem"'},
    )


@bp.get("/healthz")
def health() -> Any:
    """Whether this server can serve and write now: the database takes its write lock
    within two seconds (nothing is written) and the blob store takes a small file."""
    services = get_services()
    checks: dict[str, str] = {}
    try:
        probe_write(services.engine, timeout_seconds=2.0)
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        log.warning("health check: the database refuses writes: %s", exc)
        checks["database"] = "unavailable"
    try:
        probe = services.blobs.new_temp_path(".healthz")
        try:
            probe.write_bytes(b"ok")
        finally:
            probe.unlink(missing_ok=True)
        checks["blobs"] = "ok"
    except OSError as exc:
        log.warning("health check: the blob store refuses writes: %s", exc)
        checks["blobs"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", **checks}), 200 if ok else 503
