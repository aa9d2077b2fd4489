"""workflow: web pages for the registers, incoming documents and dispatch (blueprint), and
the public one-time download link of outside recipients."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from storage.models import Document, Unit
from storage.registry_models import IncomingEntry
from workflow.accounts import access
from workflow.documents import recipients
from workflow.documents.states import DocState
from workflow.errors import InvalidInputError, WorkflowError
from workflow.http import current_actor
from workflow.i18n import translate
from workflow.registry import dispatch as dispatching
from workflow.registry import incoming, paper_forms
from workflow.registry import incoming_queries as incoming_views
from workflow.registry.api import dispatch_and_deliver, register_response
from workflow.services import get_services, get_session
from workflow.uploads import send_blob, stage_upload
from workflow.vocab import DOC_TYPES

bp = Blueprint("registry", __name__)


class CsrfForm(FlaskForm):
    """A form that carries only the CSRF token (receive buttons)."""


class IncomingForm(FlaskForm):
    """Register a document received from outside."""

    sender = StringField("Cơ quan gửi (tác giả)", validators=[DataRequired(), Length(max=255)])
    original_symbol = StringField("Số, ký hiệu", validators=[Optional(), Length(max=64)])
    original_date = StringField("Ngày văn bản (dd/mm/yyyy)", validators=[Optional()])
    subject = StringField("Trích yếu nội dung", validators=[DataRequired(), Length(max=1000)])
    doc_type = SelectField(
        "Loại văn bản",
        choices=[SelectChoice(k, f"{v} ({k})") for k, v in DOC_TYPES.items()],
        default="CV",
    )


class DispatchForm(FlaskForm):
    """Tick the recipient units; outside recipients one per line: ``Tên; email``."""

    external = TextAreaField("Nơi nhận bên ngoài", validators=[Optional(), Length(max=4000)])


def _unit_arg() -> int | None:
    raw = request.values.get("unit") or ""
    return int(raw) if raw.isdigit() else None


@bp.route("/registers/<kind>")
@login_required
def register_page(kind: str) -> Any:
    """Sổ đăng ký văn bản đi/đến with filters and export links."""
    actor = current_actor()
    if request.args.get("format"):
        unit_id = _unit_arg() or incoming_views.default_register_unit(get_session(), actor)
        result = register_response(actor, kind, unit_id, request.args)
        if isinstance(result, Response):
            return result
        abort(404)
    return render_register(kind)


def render_register(kind: str, status: int = 200, **paper: Any) -> Any:
    """Render a register page (the unit and filters from the query string), with the
    clerk's paper form (``outgoing=``/``incoming=``: a refused one, filled in)."""
    actor = current_actor()
    unit_arg = int(request.args["unit"]) if request.args.get("unit", "").isdigit() else None
    # An auditor or an administrator keeps no register: open on the bloc committee's,
    # with the unit picker of the filters to choose another.
    unit_arg = unit_arg or incoming_views.default_register_unit(get_session(), actor)
    try:
        data = register_response(actor, kind, unit_arg, request.args)
    except InvalidInputError as exc:
        flash(translate(exc.message), "error")
        args = {k: v for k, v in request.args.items() if k == "unit"}
        data = register_response(actor, kind, unit_arg, args)
        status = exc.status
    assert isinstance(data, dict)  # noqa: S101 - no format: JSON data
    db = get_session()
    units = db.scalars(select(Unit).order_by(Unit.id)).all()
    export = {k: v for k, v in request.args.items() if k != "format"}
    export["unit"] = str(data["unit"]["id"])
    return render_template(
        "registers/register.html",
        kind=kind,
        data=data,
        units=units,
        args=request.args,
        export=export,
        doc_types=DOC_TYPES,
        **paper_forms.register_forms(db, actor, kind, data["unit"]["id"], **paper),
    ), status


@bp.route("/incoming")
@login_required
def incoming_page() -> Any:
    """Văn bản đến: pending entries with their receive buttons, and the validation result."""
    actor = current_actor()
    db = get_session()
    # Open on the unit where something waits (an office clerk also receives for the
    # committee the office serves), with a switcher between the clerk's units.
    chosen = _unit_arg() or incoming_views.default_incoming_unit(db, actor)
    entries = dispatching.list_incoming(db, actor, chosen, request.args.get("state"))
    unit_id = dispatching.check_register_access(db, actor, chosen)
    upload_form = IncomingForm()
    upload_form.doc_type.choices = [
        SelectChoice(k, f"{translate(v)} ({k})") for k, v in DOC_TYPES.items()
    ]
    return render_template(
        "incoming/list.html",
        entries=entries,
        handling={e.id: incoming_views.handling(db, e) for e in entries},
        unit=db.get(Unit, unit_id),
        can_receive=unit_id in dispatching.clerk_units(db, actor),
        receivable={e.id for e in entries if e.state == "pending"}
        if unit_id in dispatching.clerk_units(db, actor)
        else set(),
        form=CsrfForm(),
        upload_form=upload_form,
        switcher=incoming_views.waiting_units(db, actor),
        state=request.args.get("state") or "",
    )


@bp.route("/incoming/<int:entry_id>/receive", methods=["POST"])
@login_required
def receive(entry_id: int) -> Any:
    """Receive an incoming entry after automatic signature validation."""
    if not CsrfForm().validate_on_submit():
        flash(_("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "error")
        return redirect(url_for("registry.incoming_page"))
    db = get_session()
    services = get_services()
    actor = current_actor()
    try:
        entry = incoming.receive(db, services.blobs, services.trust, actor, entry_id)
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        if isinstance(exc, dispatching.RecalledDocumentError):
            dispatching.refuse_receipt(db, actor, exc)
            db.commit()
        flash(translate(exc.message), "error")
        return redirect(url_for("registry.incoming_page"))
    if entry.state == "received":
        flash(
            _("Đã tiếp nhận văn bản, số đến %(number)s. Chữ ký số hợp lệ.", number=entry.number),
            "ok",
        )
    else:
        flash(entry.return_reason or _("Văn bản đã bị trả lại."), "error")
    return redirect(url_for("registry.incoming_page", unit=entry.unit_id))


@bp.route("/incoming/<int:entry_id>")
@login_required
def incoming_entry(entry_id: int) -> Any:
    """One incoming entry: its handling, and the assign or handle form of the caller's task."""
    return _render_entry(entry_id)


def _render_entry(entry_id: int, status: int = 200) -> Any:
    db = get_session()
    actor = current_actor()
    entry = incoming_views.get_entry(db, actor, entry_id)
    info = incoming_views.handling(db, entry)
    doc = db.get(Document, entry.handling_document_id) if entry.handling_document_id else None
    mine: set[str] = set()
    if doc is not None:
        mine = {t.action for t in doc.tasks if t.assignee_id == actor.id and t.state == "open"}
    elif entry.state == "received":
        leaders = incoming_views.leaders_of(db, entry.unit)
        mine = {"assign"} if actor.id in {u.id for u in leaders} else set()
    return render_template(
        "incoming/detail.html",
        entry=entry,
        info=info,
        doc=doc,
        party=doc is not None and incoming_views.is_party(db, actor, doc.id),
        is_clerk=entry.unit_id in dispatching.clerk_units(db, actor),
        can_assign="assign" in mine,
        can_handle="handle" in mine,
        form=CsrfForm(),
        **(incoming_views.choices(db, actor) if mine else {}),
    ), status


def _entry_action(entry_id: int, run: Any, done: str) -> Any:
    """Run one use-case on an entry, commit, redirect; on a refusal show the page again."""
    db = get_session()
    if not CsrfForm().validate_on_submit():
        flash(_("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "error")
        return _render_entry(entry_id, 400)
    try:
        run(db, current_actor())
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        if exc.status == 404:
            raise
        flash(translate(exc.message), "error")
        return _render_entry(entry_id, exc.status)
    flash(done, "ok")
    return redirect(url_for("registry.incoming_entry", entry_id=entry_id))


@bp.route("/incoming/<int:entry_id>/assign", methods=["POST"])
@login_required
def incoming_assign(entry_id: int) -> Any:
    """A leader of the receiving unit assigns the entry (phân công xử lý)."""
    form = request.form
    choice = incoming.Assignment(
        unit_id=form.get("unit") or None,
        assignee_id=form.get("assignee") or None,
        deadline_days=form.get("deadline_days") or None,
        note=form.get("note"),
    )
    return _entry_action(
        entry_id,
        lambda db, actor: incoming.assign(db, get_services().blobs, actor, entry_id, choice),
        _("Đã phân công xử lý văn bản đến."),
    )


@bp.route("/incoming/<int:entry_id>/complete", methods=["POST"])
@login_required
def incoming_complete(entry_id: int) -> Any:
    """The assigned unit marks the entry handled (đã xử lý)."""
    form = request.form
    return _entry_action(
        entry_id,
        lambda db, actor: incoming.complete(
            db,
            actor,
            entry_id,
            comment=form.get("comment"),
            reply_document_id=form.get("reply_document") or None,
            workfile_id=form.get("work_file") or None,
        ),
        _("Đã ghi nhận: văn bản đến đã được xử lý."),
    )


@bp.route("/incoming/handling/<int:document_id>")
@login_required
def incoming_handling(document_id: int) -> Any:
    """From a handling document (its tasks in the inbox) to its incoming entry."""
    db = get_session()
    access.get_visible_document(db, current_actor(), document_id)  # 404 if not party to it
    entry = db.scalars(
        select(IncomingEntry).where(IncomingEntry.handling_document_id == document_id)
    ).first()
    if entry is None:
        abort(404)
    return redirect(url_for("registry.incoming_entry", entry_id=entry.id))


@bp.route("/incoming/new", methods=["POST"])
@login_required
def incoming_new() -> Any:
    """Register a PDF received from outside as a pending incoming entry."""
    form = IncomingForm()
    if not form.validate_on_submit():
        flash(_("Hãy nhập đủ cơ quan gửi, trích yếu và chọn tệp PDF."), "error")
        return redirect(url_for("registry.incoming_page"))
    db = get_session()
    try:
        staged, _name = stage_upload()
        entry = dispatching.register_external(
            db,
            get_services().blobs,
            current_actor(),
            staged,
            unit_id=_unit_arg(),
            sender=form.sender.data,
            original_symbol=form.original_symbol.data,
            original_date=form.original_date.data,
            subject=form.subject.data,
            doc_type=form.doc_type.data,
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return redirect(url_for("registry.incoming_page"))
    flash(_("Đã vào sổ văn bản đến (chờ tiếp nhận sau khi kiểm tra chữ ký số)."), "ok")
    return redirect(url_for("registry.incoming_page", unit=entry.unit_id))


@bp.route("/incoming/<int:entry_id>/file")
@login_required
def incoming_file(entry_id: int) -> Any:
    """The PDF of an incoming entry."""
    entry, key = dispatching.entry_file(
        get_session(), get_services().blobs, current_actor(), entry_id
    )
    return send_blob(key, f"van-ban-den-{entry.id}.pdf")


def _external_lines(text: str | None) -> list[dict[str, str]]:
    out = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, sep, email = line.rpartition(";")
        if not sep:
            raise InvalidInputError(
                _("Dòng «%(line)s»: hãy ghi «Tên; địa chỉ thư điện tử».", line=line.strip())
            )
        out.append({"name": name.strip(), "email": email.strip()})
    return out


@bp.route("/documents/<int:document_id>/dispatch", methods=["GET", "POST"])
@login_required
def dispatch_page(document_id: int) -> Any:
    """Phát hành: tick the recipient units of an issued document."""
    return render_dispatch(document_id)


def render_dispatch(
    document_id: int, status: int = 200, paper: paper_forms.PaperDispatchForm | None = None
) -> Any:
    """The dispatch page (and the electronic dispatch when posted to it), with the paper
    recipients and form (``paper``: a refused one, filled in)."""
    db = get_session()
    actor = current_actor()
    doc = db.get(Document, document_id)
    rows = dispatching.dispatches_of(db, actor, document_id)  # 404 if not party to it
    assert doc is not None  # noqa: S101 - dispatches_of checked it
    form = DispatchForm()
    if request.method == "POST" and paper is None:
        if not form.validate_on_submit():
            flash(
                _("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "error"
            )
            status = 400
        else:
            try:
                picked = [int(v) for v in request.form.getlist("recipients") if v.isdigit()]
                body = {"recipients": picked, "external": _external_lines(form.external.data)}
                dispatch_and_deliver(db, actor, document_id, body)
            except WorkflowError as exc:
                db.rollback()
                flash(translate(exc.message), "error")
                status = exc.status
            else:
                flash(_("Đã phát hành văn bản đến các nơi nhận đã chọn."), "ok")
                return redirect(url_for("registry.dispatch_page", document_id=document_id))
    sent = {r.recipient_unit_id for r in rows}
    units = [
        u
        for u in db.scalars(select(Unit).order_by(Unit.id))
        if u.id != doc.issuer_unit_id and u.id not in sent
    ]
    planned = recipients.prefill(doc, rows)  # the drafter's nơi nhận dự kiến, to confirm
    if request.method == "GET":
        form.external.data = planned.external_text
    if request.method == "POST" and request.endpoint == "registry.dispatch_page":
        ticked = set(request.form.getlist("recipients"))  # a refused dispatch, shown again
    else:
        ticked = {str(u) for u in planned.units or ()}
    paper_side = paper_forms.dispatch_forms(db, actor, doc, paper)
    return render_template(
        "registers/dispatch.html",
        doc=doc,
        rows=rows,
        units=units,
        planned=planned.units,
        ticked=ticked,
        form=form,
        # Electronic dispatch: the issuer's clerk, an issued document not recalled, signed
        # digitally (a hand-signed one goes out on paper only).
        can_dispatch=doc.issuer_unit_id in dispatching.clerk_units(db, actor)
        and doc.state == DocState.ISSUED
        and doc.recalled_at is None
        and paper_side["electronic"],
        **paper_side,
    ), status


@bp.route("/public/d/<token>")
def public_download(token: str) -> Any:
    """An outside recipient's one-time download link (no login)."""
    db = get_session()
    row, key = dispatching.download(
        db, get_services().blobs, token, get_services().settings.dispatch_link_days
    )
    db.commit()
    name = f"{(row.document.symbol or 'van-ban').replace('/', '-')}.pdf"
    response = send_blob(key, name)
    response.headers["Cache-Control"] = "no-store"
    return response
