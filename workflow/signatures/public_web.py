"""workflow: public endpoints: the root certificate and the health check (blueprint)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from workflow.services import get_services, get_session

bp = Blueprint("public", __name__)


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
    """Liveness and database reachability."""
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
