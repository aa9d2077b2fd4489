"""workflow: the organisation import page (on the /admin blueprint): upload the XLSX
workbook or CSV files, check them (dry run) or import them; the new users' one-time
password links are shown once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, make_response, render_template, request, send_file
from werkzeug.datastructures import FileStorage

from workflow.admin import organisation
from workflow.admin.blueprint import bp
from workflow.admin.org_files import RowError
from workflow.http import current_actor
from workflow.services import get_services, get_session

MAX_FILE_BYTES = 10 * 1024 * 1024
TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "mau-nhap-to-chuc.xlsx"
"""The sample workbook an office fills in (also in the repository's docs/)."""


def _uploaded() -> tuple[list[tuple[str, bytes]], list[RowError]]:
    files: list[tuple[str, bytes]] = []
    errors: list[RowError] = []
    chosen: list[FileStorage] = [f for f in request.files.getlist("files") if f.filename]
    if not chosen:
        errors.append(RowError("tệp", 0, "", "Hãy chọn tệp Excel (.xlsx) hoặc tệp CSV."))
    for storage in chosen[:4]:
        data = storage.stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            errors.append(RowError(storage.filename or "tệp", 0, "", "Tệp lớn quá 10 MB."))
            continue
        files.append((storage.filename or "", data))
    return files, errors


@bp.route("/organisation/import", methods=["GET", "POST"])
def organisation_import() -> Any:
    """Check (dry run) or import an organisation file."""
    if request.method == "GET":
        return render_template("admin/organisation_import.html", plan=None, result=None)
    db, actor = get_session(), current_actor()
    files, upload_errors = _uploaded()
    tables, read_errors = organisation.read_files(files) if files else ({}, [])
    plan = organisation.plan_import(db, tables)
    plan.errors[:0] = upload_errors + read_errors
    source = ", ".join(name for name, _data in files)
    dry_run = request.form.get("mode") != "import"
    if dry_run or not plan.ok:
        organisation.record_check(db, plan, actor_id=actor.id, via="web", source=source)
        db.commit()
        status = 200 if plan.ok else 422
        return render_template(
            "admin/organisation_import.html", plan=plan, result=None, dry_run=dry_run
        ), status
    services = get_services()
    result = organisation.apply_import(
        db,
        services.hasher,
        plan,
        actor_id=actor.id,
        via="web",
        source=source,
        base_url=services.settings.public_url or request.host_url,
        hours=services.settings.setup_link_hours,
    )
    # Seal certificates of new committees; system routes pointed at the imported units
    # (workflow.setup registers the step: initialisation's own).
    current_app.extensions[organisation.SYSTEM_DATA_HOOK](db)
    db.commit()
    html = render_template(
        "admin/organisation_import.html",
        plan=plan,
        result=result,
        dry_run=False,
        hours=services.settings.setup_link_hours,
    )
    response = make_response(html, 201)
    response.headers["Cache-Control"] = "no-store"  # the links are shown once
    return response


@bp.get("/organisation/template.xlsx")
def organisation_template() -> Any:
    """The sample workbook (units and users sheets, with the accepted values)."""
    return send_file(TEMPLATE, as_attachment=True, download_name="mau-nhap-to-chuc.xlsx")
