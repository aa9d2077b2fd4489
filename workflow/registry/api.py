"""workflow: JSON API for dispatch, receipt and the registers (on the /api/v1 blueprint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from sqlalchemy.orm import Session

from storage.models import Unit, User
from storage.registry_models import Dispatch, IncomingEntry
from storage.types import utcnow
from workflow import http
from workflow.coverage import ledger as coverage
from workflow.errors import InvalidInputError, NotFoundError
from workflow.http import api_blueprint
from workflow.registry import dispatch as dispatching
from workflow.registry import incoming, registers
from workflow.registry import incoming_queries as incoming_views
from workflow.schemas import registry as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import File, operation
from workflow.services import get_services, get_session
from workflow.uploads import send_blob, stage_upload
from workflow.vocab import VN_TZ

bp = api_blueprint("registry_api", __name__)

INCOMING_FLOW = (
    "Incoming documents after receipt (route `van-ban-den`): `POST /incoming/{entry_id}/receive` "
    "(clerk: signature validation, incoming number) puts a valid entry on the incoming "
    "route and gives the receiving unit's leaders an `assign` task (in `GET /tasks`); "
    "`POST /incoming/{entry_id}/assign` closes it and gives `handle` tasks to the lead "
    "person, else to the assigned unit's staff, with the deadline; "
    "`POST /incoming/{entry_id}/complete` marks the entry handled. The tasks' `document_id` "
    "is the entry's handling document; `/tasks/{task_id}/approve` refuses these tasks "
    "(409), `/tasks/{task_id}/delegate` accepts them."
)

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def link_days() -> int:
    """:returns: the lifetime in days of an outside recipient's link (``DISPATCH_LINK_DAYS``)."""
    return int(current_app.config.get("DISPATCH_LINK_DAYS") or dispatching.LINK_DAYS)


def link_builder() -> Callable[[str], str]:
    """:returns: a function giving the public URL of a download token."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return lambda token: f"{str(base).rstrip('/')}/public/d/{token}"


def dispatch_and_deliver(
    db: Session, actor: User, document_id: int, body: dict[str, Any]
) -> dispatching.Dispatched:
    """Dispatch, commit, then e-mail the outside recipients and commit their outcome
    (no e-mail ever names a link that was rolled back).

    :param body: ``recipients`` (unit ids) and ``external`` (``{"name", "email"}``).
    """
    dispatched = dispatching.dispatch(
        db, actor, document_id, body.get("recipients"), body.get("external")
    )
    services = get_services()
    coverage.record_document(
        db, services.blobs, services.trust, dispatched.document, now=utcnow(), actor_id=actor.id
    )
    mail = dispatching.MailSettings.from_config(current_app.config)
    if mail.host is None:
        dispatching.deliver_links(db, mail, dispatched, link_builder(), link_days())
    db.commit()
    if mail.host is not None and dispatched.links:
        dispatching.deliver_links(db, mail, dispatched, link_builder(), link_days())
        db.commit()
    return dispatched


def dispatch_answer(row: Dispatch, link: str | None = None) -> schemas.Dispatch:
    """:returns: the API form of one recipient of a document."""
    return schemas.Dispatch.of(row, dispatching.mail_status(row), link)


def entry_answer(entry: IncomingEntry) -> schemas.IncomingEntry:
    """:returns: the API form of an incoming entry, with its handling."""
    return schemas.IncomingEntry.of(entry, incoming_views.handling(get_session(), entry))


def _unit_arg() -> int | None:
    raw = request.args.get("unit") or request.form.get("unit") or ""
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInputError("'unit' phải là mã số (id) của đơn vị.")
    return int(raw)


@bp.post("/documents/<int:document_id>/dispatch")
@operation(body=schemas.DispatchRequest, responses={201: schemas.DispatchList})
def dispatch(document_id: int) -> Any:
    """Phát hành: send an issued document to units and outside recipients."""
    body = parse(schemas.DispatchRequest, http.json_body())
    db = get_session()
    dispatched = dispatch_and_deliver(db, http.actor(), document_id, body.model_dump())
    build = link_builder()
    tokens = {link.dispatch.id: link.token for link in dispatched.links}
    items = [
        dispatch_answer(
            row,
            build(tokens[row.id]) if row.id in tokens and row.state == "not_sent" else None,
        )
        for row in dispatched.dispatches
    ]
    return schemas.DispatchList(document_id=document_id, dispatches=items).dump(), 201


@bp.get("/documents/<int:document_id>/dispatches")
@operation(responses={200: schemas.DispatchList})
def list_dispatches(document_id: int) -> Any:
    """The recipients of a document and who received it when."""
    rows = dispatching.dispatches_of(get_session(), http.actor(), document_id)
    items = [dispatch_answer(r) for r in rows]
    return schemas.DispatchList(document_id=document_id, dispatches=items).dump()


@bp.get("/incoming")
@operation(query=schemas.IncomingQuery, responses={200: schemas.IncomingList})
def list_incoming() -> Any:
    """A unit's incoming entries (?unit=, ?state=pending|received|returned)."""
    db = get_session()
    entries = dispatching.list_incoming(db, http.actor(), _unit_arg(), request.args.get("state"))
    return schemas.IncomingList(incoming=[entry_answer(e) for e in entries]).dump()


@bp.post("/incoming")
@operation(form=schemas.IncomingForm, responses={201: schemas.IncomingEntry})
def register_incoming() -> Any:
    """Register a PDF received from outside (multipart)."""
    form = parse_form(schemas.IncomingForm, request.form)
    staged, _filename = stage_upload()
    db = get_session()
    entry = dispatching.register_external(
        db,
        get_services().blobs,
        http.actor(),
        staged,
        unit_id=_unit_arg(),
        sender=form.sender,
        original_symbol=form.original_symbol,
        original_date=form.original_date,
        subject=form.subject,
        doc_type=form.doc_type,
    )
    db.commit()
    return entry_answer(entry).dump(), 201


@bp.post("/incoming/<int:entry_id>/receive")
@operation(responses={200: schemas.IncomingEntry})
def receive(entry_id: int) -> Any:
    """Receive after automatic signature validation (valid: số đến; invalid: returned)."""
    db = get_session()
    services = get_services()
    entry = incoming.receive(db, services.blobs, services.trust, http.actor(), entry_id)
    db.commit()
    return entry_answer(entry).dump()


@bp.get("/incoming/<int:entry_id>")
@operation(responses={200: schemas.IncomingEntry})
def get_incoming(entry_id: int) -> Any:
    """An incoming entry and its handling (its unit's clerks and leaders, its handlers)."""
    entry = incoming_views.get_entry(get_session(), http.actor(), entry_id)
    return entry_answer(entry).dump()


@bp.post("/incoming/<int:entry_id>/assign")
@operation(
    body=schemas.AssignRequest,
    responses={200: schemas.IncomingEntry},
    description=INCOMING_FLOW,
)
def assign_incoming(entry_id: int) -> Any:
    """A leader of the receiving unit assigns a received entry to a unit (phân công)."""
    body = parse(schemas.AssignRequest, http.json_body())
    db = get_session()
    choice = incoming.Assignment(
        unit_id=body.unit,
        assignee_id=body.assignee,
        deadline_days=body.deadline_days,
        note=body.note,
    )
    entry = incoming.assign(db, get_services().blobs, http.actor(), entry_id, choice)
    db.commit()
    return entry_answer(entry).dump()


@bp.post("/incoming/<int:entry_id>/complete")
@operation(
    body=schemas.CompleteRequest,
    responses={200: schemas.IncomingEntry},
    description=INCOMING_FLOW,
)
def complete_incoming(entry_id: int) -> Any:
    """The assigned unit marks a received entry handled (đã xử lý)."""
    body = parse(schemas.CompleteRequest, http.json_body())
    db = get_session()
    entry = incoming.complete(
        db,
        http.actor(),
        entry_id,
        comment=body.comment,
        reply_document_id=body.reply_document,
        workfile_id=body.work_file,
    )
    db.commit()
    return entry_answer(entry).dump()


@bp.get("/incoming/<int:entry_id>/file")
@operation(responses={200: File(("application/pdf",), "the PDF of the entry")})
def incoming_file(entry_id: int) -> Any:
    """The PDF of an incoming entry (its unit's clerks)."""
    entry, key = dispatching.entry_file(get_session(), get_services().blobs, http.actor(), entry_id)
    return send_blob(key, f"van-ban-den-{entry.id}.pdf")


def register_response(
    actor: User, kind: str, unit_arg: int | None, args: Any
) -> Response | dict[str, Any]:
    """:returns: the register as JSON data, or an export file for ``?format=``."""
    if kind not in registers.TITLES:
        raise NotFoundError("Chỉ có sổ văn bản đi (outgoing) và sổ văn bản đến (incoming).")
    db = get_session()
    unit_id = dispatching.check_register_access(db, actor, unit_arg)
    unit = db.get(Unit, unit_id)
    assert unit is not None  # noqa: S101 - checked above
    filters = registers.parse_filters(args, utcnow().astimezone(VN_TZ).year)
    build = registers.outgoing if kind == "outgoing" else registers.incoming
    rows = build(db, unit_id, filters)
    if kind == "incoming":
        _with_handling(db, rows)
    fmt = args.get("format") or "json"
    if fmt == "json":
        return {
            "kind": kind,
            "title": registers.TITLES[kind],
            "unit": {"id": unit.id, "code": unit.code, "name": unit.name},
            "year": filters.year,
            "columns": [{"key": k, "title": t} for k, t, _w in registers.COLUMNS[kind]],
            "entries": rows,
        }
    if fmt not in EXPORT_TYPES:
        raise InvalidInputError("'format' phải là csv, xlsx hoặc pdf.")
    if fmt == "csv":
        data = registers.to_csv(kind, rows)
    elif fmt == "xlsx":
        data = registers.to_xlsx(kind, rows, unit.name, filters.year)
    else:
        org = str(current_app.config.get("ORG_NAME") or "")
        data = registers.to_pdf(kind, rows, unit.name, filters.year, org)
    name = f"so-van-ban-{'di' if kind == 'outgoing' else 'den'}-{unit.code}-{filters.year}.{fmt}"
    response = Response(data, mimetype=EXPORT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _with_handling(db: Session, rows: list[dict[str, Any]]) -> None:
    """Fill the incoming register's "who handles it" column and note from the handling."""
    for row in rows:
        entry = db.get(IncomingEntry, row["id"])
        if entry is None:
            continue
        info = incoming_views.handling(db, entry)
        who, note = incoming_views.register_text(info)
        row["handling"] = info
        if who:
            row["assigned_unit"] = who
        if note:
            row["state_label"] = f"{row['state_label']}; {note}"


@bp.get("/registers/<kind>")
@operation(
    query=schemas.RegisterQuery,
    responses={
        200: (
            schemas.Register,
            File(
                tuple(t.split(";")[0] for t in EXPORT_TYPES.values()),
                "with ?format=csv|xlsx|pdf: the export",
            ),
        )
    },
)
def register(kind: str) -> Any:
    """Sổ đăng ký văn bản đi/đến (?unit=&year=&q=&doc_type=&from=&to=&format=)."""
    result = register_response(http.actor(), kind, _unit_arg(), request.args)
    return result if isinstance(result, Response) else schemas.Register(**result).dump()
