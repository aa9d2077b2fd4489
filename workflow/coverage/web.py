"""workflow: the coverage figures (targets T1-T4): JSON API on /api/v1, the dashboard
page with its exports (CSV, XLSX, a PDF report sealed by the organisation), and the
``flask revalidate`` CLI."""

from __future__ import annotations

import csv
import io
from typing import Any

import click
from flask import (
    Blueprint,
    Flask,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as WerkzeugResponse

from storage.ledger import TARGETS
from storage.models import User
from workflow import http
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.coverage import report
from workflow.errors import InvalidInputError
from workflow.http import api_blueprint, current_actor
from workflow.schemas import coverage as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import EXTENSION_KEY, Services, get_services, get_session
from workflow.uploads import append_text_row, csv_row, send_blob
from workflow.vocab import VN_TZ, vn_iso

api_bp = api_blueprint("coverage_api", __name__)

bp = Blueprint("coverage", __name__)
PAGE = 50


class CoverageForm(FlaskForm):
    """Carries only the CSRF token (the re-validation button)."""


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name) or ""
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInputError(
            _(
                "'%(name)s' phải là số nguyên trong khoảng %(low)s..%(high)s.",
                name=name,
                low=low,
                high=high,
            )
        )
    return int(raw)


def _policy() -> coverage.CoveragePolicy:
    return get_services().settings.coverage


def _scope_and_period() -> tuple[coverage.Scope, coverage.Period]:
    db = get_session()
    today = coverage.utc_now().astimezone(VN_TZ).date()
    period = coverage.parse_period(request.args.get("period"), today)
    return coverage.resolve_scope(db, request.args.get("unit")), period


def _drill_down_scope(actor: User) -> tuple[coverage.Scope, coverage.Period]:
    """The scope of a drill-down (document subjects): only units ``actor`` oversees."""
    db = get_session()
    today = coverage.utc_now().astimezone(VN_TZ).date()
    period = coverage.parse_period(request.args.get("period"), today)
    unit = request.args.get("unit") or access.drill_down_default(db, actor)
    scope = coverage.resolve_scope(db, unit)
    access.check_drill_down(db, actor, scope.unit_ids)
    return scope, period


def _by() -> bool:
    by = request.args.get("by") or ""
    if by not in ("", "doc_type"):
        raise InvalidInputError(_("'by' chỉ nhận giá trị 'doc_type'."))
    return by == "doc_type"


# --- JSON API ---------------------------------------------------------------------------


@api_bp.get("/coverage")
@operation(query=schemas.CoverageQuery, responses={200: schemas.Coverage})
def coverage_api() -> Any:
    """The four figures of a unit (and descendants) over a period (``?by=doc_type``),
    with the targets of the period's year, the gaps, and when they were last computed."""
    coverage.require_reader(http.actor())
    scope, period = _scope_and_period()
    db = get_session()
    figures = coverage.coverage_figures(db, scope, period, by_doc_type=_by(), policy=_policy())
    body = {
        **figures,
        "period": {
            "code": period.code,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        "year": period.year,
        "unit": scope.unit.code if scope.unit else None,
        "as_of": coverage.as_of(db),
    }
    return schemas.Coverage.model_validate(body).dump()


@api_bp.get("/coverage/misses")
@operation(query=schemas.MissesQuery, responses={200: schemas.Misses})
def misses_api() -> Any:
    """The items that miss a target (``?target=T2&unit=&period=&limit=&offset=``)."""
    scope, period = _drill_down_scope(coverage.require_reader(http.actor()))
    misses = coverage.misses(
        get_session(),
        scope,
        period,
        (request.args.get("target") or "").upper(),
        limit=_int_arg("limit", PAGE, 1, 500),
        offset=_int_arg("offset", 0, 0, 10**9),
    )
    return schemas.Misses.model_validate(misses).dump()


@api_bp.post("/coverage/exemptions")
@operation(body=schemas.ExemptionRequest, responses={201: schemas.Exemption})
def exemption_api() -> Any:
    """Record a T2 special-rule exemption (auditors, administrators)."""
    body = parse(schemas.ExemptionRequest, http.json_body())
    db = get_session()
    services = get_services()
    entry = coverage.record_exemption(
        db,
        services.blobs,
        services.trust,
        http.actor(),
        body.document_id,
        body.reason,
        body.decision,
        now=coverage.utc_now(),
    )
    db.commit()
    return schemas.Exemption(
        document_id=entry.subject_id,
        target=entry.target,
        state=entry.state,
        exempt_reason=entry.exempt_reason,
        exempt_decision=entry.exempt_decision,
        exempt_approved_by=entry.exempt_approved_by_id,
        checked_at=entry.checked_at,
    ).dump(), 201


@api_bp.post("/coverage/revalidate")
@operation(responses={200: schemas.Revalidated})
def revalidate_api() -> Any:
    """Refresh the ledger and re-check every T2 signature (auditors, administrators)."""
    actor = coverage.require_auditor(http.actor())
    result = _refresh_and_revalidate(actor.id)
    return schemas.Revalidated(
        created=result.created,
        validated=result.validated,
        changes=[schemas.Change.model_validate(c.__dict__) for c in result.changes],
    ).dump()


def _refresh_and_revalidate(actor_id: int | None) -> coverage.RefreshResult:
    db = get_session()
    services = get_services()
    now = coverage.utc_now()
    first = coverage.refresh_ledger(
        db, services.blobs, services.trust, now=now, actor_id=actor_id, policy=_policy()
    )
    second = coverage.revalidate(db, services.blobs, services.trust, now, actor_id)
    db.commit()
    first.validated += second.validated
    first.changes += second.changes
    return first


# --- the dashboard -----------------------------------------------------------------------


def _dashboard_data() -> dict[str, Any]:
    scope, period = _scope_and_period()
    return coverage.dashboard(get_session(), scope, period, _policy())


def _query() -> dict[str, Any]:
    return {k: v for k in ("period", "unit") if (v := request.args.get(k) or "")}


@bp.get("/coverage")
@login_required
def dashboard() -> Any:
    """The four figures vs their targets, per unit, per month, exemptions."""
    actor = coverage.require_reader(current_actor())
    data = _dashboard_data()
    return render_template(
        "coverage/dashboard.html",
        **data,
        targets=TARGETS,
        labels=coverage.TARGET_LABELS,
        all_units=sorted(data["scope"].units.values(), key=lambda u: u.id),
        query=_query(),
        form=CoverageForm(),
        can_revalidate=coverage.is_auditor(actor),
        measures=[
            ("deliveries", "T1", _("Theo lượt gửi (số liệu chính)")),
            ("documents", "T1D", _("Theo văn bản")),
        ],
    )


@bp.get("/coverage/misses")
@login_required
def misses_page() -> Any:
    """The drill-down: items that miss one target."""
    scope, period = _drill_down_scope(coverage.require_reader(current_actor()))
    offset = _int_arg("offset", 0, 0, 10**9)
    target = (request.args.get("target") or "").upper()
    data = coverage.misses(get_session(), scope, period, target, limit=PAGE, offset=offset)
    return render_template(
        "coverage/misses.html",
        data=data,
        scope=scope,
        period=period,
        label=coverage.TARGET_LABELS.get(target, ""),
        query=_query(),
        offset=offset,
        page=PAGE,
    )


@bp.post("/coverage/revalidate")
@login_required
def revalidate_page() -> WerkzeugResponse:
    """Refresh the ledger and re-check every T2 signature now."""
    actor = coverage.require_auditor(current_actor())
    if CoverageForm().validate_on_submit():
        result = _refresh_and_revalidate(actor.id)
        flash(
            _(
                "Đã kiểm tra lại %(n)s văn bản; %(changes)s thay đổi trạng thái được ghi vào nhật ký.",
                n=result.validated,
                changes=len(result.changes),
            ),
            "info",
        )
    return redirect(url_for("coverage.dashboard", **_query()))


# --- exports -------------------------------------------------------------------------------

HEADER = [
    "Đơn vị",
    "Mã đơn vị",
    "Chỉ tiêu",
    "Nội dung",
    "Đạt",
    "Tổng (trừ miễn trừ)",
    "Tỷ lệ",
    "Mục tiêu",
    "Đạt mục tiêu",
    "Miễn trừ",
    "Còn thiếu so với mục tiêu",
    "Chờ phát hành / chưa đến hạn",
    "Số liệu tính đến",
]


def export_rows(data: dict[str, Any]) -> list[list[Any]]:
    """:returns: the summary table: the whole scope, then each unit, per target."""
    scope = data["scope"]
    name = scope.unit.name if scope.unit else "Toàn Đảng bộ Khối"
    code = scope.unit.code if scope.unit else ""
    blocks = [(name, code, data["figures"])] + [
        (u["unit"].name, u["unit"].code, u["figures"]) for u in data["units"]
    ]
    met = {True: "Đạt", False: "Chưa đạt", None: ""}
    as_of = vn_iso(data.get("as_of")) or ""
    rows: list[list[Any]] = []
    for unit_name, unit_code, figures in blocks:
        measures = [(t, coverage.TARGET_LABELS[t], figures[t]) for t in TARGETS]
        measures.insert(1, ("T1D", coverage.TARGET_LABELS["T1D"], figures["T1"]["documents"]))
        for t, label, f in measures:
            rows.append(
                [
                    unit_name,
                    unit_code,
                    t,
                    label,
                    f["numerator"],
                    f["denominator"],
                    None if f["figure"] is None else round(f["figure"], 4),
                    f["target"],
                    met[f["met"]],
                    f["exempt"],
                    None if f["gap"] is None else round(f["gap"], 4),
                    f["pending"],
                    as_of,
                ]
            )
    return rows


def _filename(data: dict[str, Any], ext: str) -> str:
    scope = data["scope"]
    return f"chi-tieu-cds-{scope.unit.code if scope.unit else 'DUK'}-{data['period'].code}.{ext}"


@bp.get("/coverage/export.csv")
@login_required
def export_csv() -> Any:
    """The summary as CSV (UTF-8 with BOM, for Excel)."""
    coverage.require_reader(current_actor())
    data = _dashboard_data()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(csv_row(row) for row in export_rows(data))
    body = ("\ufeff" + out.getvalue()).encode("utf-8")
    return send_file(
        io.BytesIO(body),
        mimetype="text/csv; charset=utf-8",
        as_attachment=True,
        download_name=_filename(data, "csv"),
    )


@bp.get("/coverage/export.xlsx")
@login_required
def export_xlsx() -> Any:
    """The summary and the monthly trend as an Excel workbook."""
    import openpyxl  # lazy: only the export needs it

    coverage.require_reader(current_actor())
    data = _dashboard_data()
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = "Tong hop"
    sheet.append(HEADER)
    for row in export_rows(data):
        append_text_row(sheet, row)
    months = book.create_sheet("Theo thang")
    months.append(["Chỉ tiêu", *[f"Tháng {m}" for m in range(1, 13)]])
    for t in TARGETS:
        append_text_row(months, [t, *[m["figure"] for m in data["trend"][t]]])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return send_file(
        buffer,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=_filename(data, "xlsx"),
    )


@bp.get("/coverage/report.pdf")
@login_required
def report_pdf() -> Any:
    """The report on the targets, as a PDF sealed with the organisation's signature."""
    actor = coverage.require_reader(current_actor())
    data = _dashboard_data()
    db = get_session()
    services = get_services()
    sha = report.build_signed_report(
        db,
        services.blobs,
        services.trust,
        services.seal_passphrase,
        actor,
        data,
        now=coverage.utc_now(),
    )
    db.commit()
    return send_blob(sha, _filename(data, "pdf"))


# --- CLI -------------------------------------------------------------------------------------


def register_coverage_cli(app: Flask) -> None:
    """Attach ``flask revalidate`` to ``app.cli``."""

    @app.cli.command("revalidate")
    def revalidate_command() -> None:
        """Refresh the coverage ledger and re-check every T2 signature (run nightly).

        Every change of state is logged in the audit log; exit 1 if a signature that
        was valid no longer is.
        """
        services: Services = app.extensions[EXTENSION_KEY]
        now = coverage.utc_now()
        with services.session_factory() as session:
            first = coverage.refresh_ledger(
                session, services.blobs, services.trust, now=now, policy=services.settings.coverage
            )
            second = coverage.revalidate(session, services.blobs, services.trust, now)
            session.commit()
        changes = first.changes + second.changes
        click.echo(
            f"ledger: {first.created} new entries, {first.validated + second.validated} "
            f"documents validated, {len(changes)} state changes"
        )
        for c in changes:
            click.echo(f"  {c.target} {c.subject_kind} #{c.subject_id}: {c.before} -> {c.after}")
        if any(c.before == "signed_valid" for c in changes):
            raise SystemExit(1)
