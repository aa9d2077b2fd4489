"""workflow: serves the OpenAPI 3.1 document of the JSON API (assembled from the schemas
and the app's url_map by :mod:`workflow.schemas.openapi`)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from workflow.http import api_blueprint, public
from workflow.schemas.openapi import File, openapi_document, operation

bp = api_blueprint("openapi", __name__)


@bp.get("/openapi.json")
@public
@operation(responses={200: File(("application/json",), "this document")})
def openapi() -> Any:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(current_app))
