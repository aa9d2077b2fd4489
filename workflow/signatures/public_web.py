"""workflow: public endpoints: the root certificate and the health check (blueprint)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from storage.db import probe_write
from storage.errors import StorageError
from workflow.services import get_services

bp = Blueprint("public", __name__)
log = logging.getLogger("trinhky")
HEALTH_PROBE = b"TrinhKy health check\n"
"""The one blob /healthz writes (always the same bytes, so always the same key)."""


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
    within two seconds (nothing is written) and the blob store takes a small blob."""
    services = get_services()
    checks: dict[str, str] = {}
    try:
        probe_write(services.engine, timeout_seconds=2.0)
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        log.warning("health check: the database refuses writes: %s", exc)
        checks["database"] = "unavailable"
    try:
        # Staged (a write in the store's temporary area), then published: the first check
        # writes the object, later ones find it there (the filesystem's disk, or the
        # object store's answer).
        services.blobs.put_bytes(HEALTH_PROBE)
        checks["blobs"] = "ok"
    except (OSError, StorageError) as exc:
        log.warning("health check: the blob store refuses writes: %s", exc)
        checks["blobs"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", **checks}), 200 if ok else 503
