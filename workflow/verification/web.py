"""workflow: verification views: ``POST /api/v1/validate`` (on the API blueprint), the
``/verify`` page for auditors and clerks, and the public ``/v/<code>`` page and JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from workflow import http
from workflow.errors import InvalidInputError
from workflow.http import api_blueprint, current_actor
from workflow.schemas import verification as schemas
from workflow.schemas.openapi import File, operation
from workflow.services import get_services, get_session
from workflow.transparency import usecases as log_usecases
from workflow.uploads import stage_upload
from workflow.verification import service as verification

bp = api_blueprint("verification_api", __name__)

pages_bp = Blueprint("verify", __name__)
"""The HTML pages and the public JSON of a verification code (no bearer token)."""

FORMATS = ("json", "html", "pdf")


def _checker() -> verification.Checker:
    services = get_services()
    return verification.Checker(
        trust=services.trust,
        revocation=services.trust_services.revocation_source(),
        cert_status=services.certificate_status,
    )


def _format() -> str:
    fmt = (request.args.get("format") or request.form.get("format") or "json").lower()
    if fmt not in FORMATS:
        raise InvalidInputError(_("Định dạng báo cáo không hợp lệ: json, html hoặc pdf."))
    return fmt


def _answer(report: dict[str, Any], fmt: str, actor: Any) -> Any:
    """The report in the requested format (the PDF is signed with the seal)."""
    if fmt == "html":
        return render_template("verify/report.html", report=report)
    if fmt == "pdf":
        services = get_services()
        data = verification.signed_report_pdf(
            get_session(),
            services.blobs,
            _checker(),
            report,
            actor,
            services.seal_passphrase,
            services.trust_services.timestamper,
        )
        return Response(
            data,
            mimetype="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="bao-cao-kiem-tra-chu-ky.pdf"'},
        )
    return schemas.FileReport.model_validate(report).dump()


def _check_uploaded(fmt: str, actor: Any) -> Any:
    staged, filename = stage_upload()
    services = get_services()
    report = verification.check_upload(services.blobs, staged, filename, _checker())
    return _answer(report, fmt, actor)


@bp.post("/validate")
@operation(
    query=schemas.ValidateQuery,
    form=schemas.ValidateForm,
    responses={
        200: (
            schemas.FileReport,
            File(("text/html", "application/pdf"), "with ?format=html|pdf: the report"),
        )
    },
)
def validate_file() -> Any:
    """Validation report of an uploaded PDF (multipart ``file``); ``?format=json|html|pdf``."""
    actor = http.actor()
    verification.require_checker(actor)
    return _check_uploaded(_format(), actor)


@pages_bp.route("/verify", methods=["GET", "POST"])
@login_required
def verify_page() -> Any:
    """Drop a PDF to see (or download, signed) its validation report."""
    actor = current_actor()
    verification.require_checker(actor)
    if request.method == "GET":
        return render_template("verify/upload.html")
    fmt = _format()
    return _check_uploaded("html" if fmt == "json" else fmt, actor)


def _public(code: str) -> dict[str, Any]:
    services = get_services()
    return verification.public_record(get_session(), services.blobs, _checker(), code)


@pages_bp.get("/v")
def lookup() -> Any:
    """Public: type the verification code printed on a paper copy (``?code=`` goes to its
    page; a code of no issued document says so, with the form to try again)."""
    code = " ".join((request.args.get("code") or "").split())
    if not code:
        return render_template("verify/lookup.html", code="", error=None)
    if verification.normalise_code(code) is None:
        error = _("Mã xác thực không đúng dạng. Hãy gõ lại mã in dưới mã QR của văn bản.")
        return render_template("verify/lookup.html", code=code, error=error), 422
    return redirect(url_for("verify.public_page", code=verification.normalise_code(code)), 303)


@pages_bp.get("/v/<code>")
def public_page(code: str) -> Any:
    """Public: validity and register entry of an issued document (no login), and where
    its issuance is recorded in the transparency log (the page checks the proof)."""
    record = _public(code)
    _row, doc = verification.find_code(get_session(), code)
    position = log_usecases.issuance_position(get_session(), doc.id)
    return render_template(
        "verify/public.html", record=record, log=position, log_labels=_log_labels()
    )


def _log_labels() -> dict[str, str]:
    """What the page's script says while it checks the proof ({name}: filled in by it)."""
    return {
        "checking": _("Đang kiểm tra bằng chứng trong trình duyệt…"),
        "ok": _(
            "Đã kiểm tra trong trình duyệt: bằng chứng khớp với đầu cây đã ký "
            "(cỡ {size}, gốc {root})."
        ),
        "bad": _("Bằng chứng KHÔNG khớp với đầu cây đã công bố."),
        "error": _("Không kiểm tra được bằng chứng: {reason}"),
        "nocrypto": _(
            "Trình duyệt không hỗ trợ SHA-256 (WebCrypto); hãy kiểm tra bằng công cụ ngoại tuyến."
        ),
    }


@pages_bp.get("/v/<code>/qr.svg")
def public_qr(code: str) -> Any:
    """Public: the QR code of the verification page."""
    row, _doc = verification.find_code(get_session(), code)
    url = verification.verification_url(_base_url(), row.code)
    return Response(verification.qr_svg(url), mimetype="image/svg+xml")


@pages_bp.get("/api/v1/verify/<code>")
@http.public
@operation(responses={200: schemas.PublicRecord})
def public_json(code: str) -> Any:
    """Public: the JSON form of ``/v/<code>``."""
    return schemas.PublicRecord.model_validate(_public(code)).dump()


def _base_url() -> str:
    return get_services().settings.public_url or request.host_url
