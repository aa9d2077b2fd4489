"""workflow: public trust-service endpoints under /pki (OCSP, CRL, RFC 3161 TSA; blueprint)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, jsonify, request

from signing.certutil import cert_pem
from signing.revocation import (
    unsuccessful_ocsp_response,
)
from signing.trust import TrustServices
from signing.tsa import answer_timestamp_request
from workflow.services import EXTENSION_KEY

bp = Blueprint("trust", __name__, url_prefix="/pki")

MAX_REQUEST_BYTES = 64 * 1024


def _services() -> TrustServices:
    """The app's trust services (built once per process, see ``Services.trust_services``)."""
    services: TrustServices = current_app.extensions[EXTENSION_KEY].trust_services
    return services


def _problem(status: int, title: str, detail: str, code: str) -> Response:
    response = jsonify(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    )
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _der(body: bytes, mimetype: str, cache: str = "no-store") -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = cache
    return response


def _ocsp_answer(request_der: bytes) -> Response:
    try:
        body = _services().ocsp.respond(request_der)
    except Exception:  # a database error must still give a well-formed OCSP answer
        current_app.logger.exception("OCSP status lookup failed")
        body = unsuccessful_ocsp_response("internal_error")
    return _der(body, "application/ocsp-response")


@bp.post("/ocsp")
def ocsp_post() -> Response:
    """OCSP request in the body (RFC 6960 POST)."""
    data = request.get_data(cache=False)
    if len(data) > MAX_REQUEST_BYTES:
        return _der(unsuccessful_ocsp_response("malformed_request"), "application/ocsp-response")
    return _ocsp_answer(data)


@bp.get("/ocsp/<path:encoded>")
def ocsp_get(encoded: str) -> Response:
    """OCSP request as URL-encoded base64 in the path (RFC 6960 GET)."""
    try:
        data = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        return _der(unsuccessful_ocsp_response("malformed_request"), "application/ocsp-response")
    return _ocsp_answer(data)


@bp.get("/crl")
def crl() -> Response:
    """The issuing CA's current CRL (DER)."""
    try:
        body = _services().crl()
    except Exception:
        current_app.logger.exception("CRL generation failed")
        return _problem(
            503, "Dịch vụ tạm thời gián đoạn", "Không tạo được CRL; hãy thử lại.", "crl_unavailable"
        )
    return _der(body, "application/pkix-crl", "public, max-age=300")


@bp.post("/tsa")
def tsa() -> Response:
    """RFC 3161 time-stamp query in, time-stamp reply out."""
    data = request.get_data(cache=False)
    if len(data) > MAX_REQUEST_BYTES:
        return _problem(413, "Yêu cầu quá lớn", "Yêu cầu dấu thời gian quá lớn.", "too_large")
    body = answer_timestamp_request(_services().timestamper, data)
    return _der(body, "application/timestamp-reply")


@bp.get("/issuing.pem")
def issuing_pem() -> Response:
    """The issuing CA certificate (PEM)."""
    return _der(
        cert_pem(_services().pki.issuing_cert), "application/x-pem-file", "public, max-age=3600"
    )
