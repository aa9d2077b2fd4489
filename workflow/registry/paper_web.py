"""workflow: the clerk's web forms for paper documents (blueprint): a document signed by
hand and a document received on paper (on the register pages), a document sent on
paper (on the dispatch page), and the scan of a document signed by hand."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from storage.blobs import StagedBlob
from storage.types import utcnow
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.i18n import translate
from workflow.registry import paper
from workflow.registry.paper_forms import HandSignedForm, PaperDispatchForm, PaperIncomingForm
from workflow.registry.web import render_dispatch, render_register
from workflow.services import get_services, get_session
from workflow.uploads import send_blob, stage_upload

bp = Blueprint("paper", __name__)

EXPIRED = "Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."


def _scan() -> StagedBlob | None:
    upload = request.files.get("file")
    return stage_upload()[0] if upload is not None and upload.filename else None


def _register_unit() -> int | None:
    raw = request.args.get("unit", "")
    return int(raw) if raw.isdigit() else None


def _form_problem(form: FlaskForm) -> str:
    """:returns: why a form was refused before its use-case ran (Vietnamese or English)."""
    if "csrf_token" in form.errors:
        return _(EXPIRED)
    fields = ", ".join(translate(form[name].label.text) for name in form.errors)
    return _("Hãy kiểm tra lại: %(fields)s.", fields=fields)


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@bp.route("/registers/outgoing/paper", methods=["POST"])
@login_required
def hand_signed() -> Any:
    """Vào sổ văn bản đi ký tay (bản giấy), from the outgoing register page."""
    form = HandSignedForm()
    if not form.validate_on_submit():
        flash(_form_problem(form), "error")
        return render_register("outgoing", 400, outgoing=form)
    db = get_session()
    services = get_services()
    try:
        doc = paper.register_hand_signed(
            db,
            services.blobs,
            services.trust,
            current_actor(),
            paper.HandSigned(
                doc_type=form.doc_type.data,
                subject=form.subject.data,
                signer=form.signer.data,
                signed_on=_day(form.signed_on.data),
                unit=form.unit.data,
                copies=form.copies.data,
            ),
            _scan(),
            now=utcnow(),
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return render_register("outgoing", exc.status, outgoing=form)
    flash(_("Đã vào sổ văn bản ký tay, số %(symbol)s.", symbol=doc.symbol), "ok")
    return redirect(url_for("registry.register_page", kind="outgoing", unit=doc.issuer_unit_id))


@bp.route("/registers/incoming/paper", methods=["POST"])
@login_required
def paper_incoming() -> Any:
    """Vào sổ văn bản đến bằng bản giấy, from the incoming register page."""
    form = PaperIncomingForm()
    if not form.validate_on_submit():
        flash(_form_problem(form), "error")
        return render_register("incoming", 400, incoming=form)
    db = get_session()
    try:
        entry = paper.register_paper_incoming(
            db,
            get_services().blobs,
            current_actor(),
            _register_unit(),
            paper.PaperIncoming(
                sender=form.sender.data,
                sender_unit=form.sender_unit.data,
                original_symbol=form.original_symbol.data,
                original_date=_day(form.original_date.data),
                subject=form.subject.data,
                doc_type=form.doc_type.data,
                classification=form.classification.data,
            ),
            _scan(),
            now=utcnow(),
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return render_register("incoming", exc.status, incoming=form)
    flash(_("Đã vào sổ văn bản đến bằng bản giấy, số đến %(number)s.", number=entry.number), "ok")
    return redirect(url_for("registry.register_page", kind="incoming", unit=entry.unit_id))


@bp.route("/documents/<int:document_id>/paper-dispatches", methods=["POST"])
@login_required
def paper_dispatch(document_id: int) -> Any:
    """Ghi nhận gửi bản giấy, from the dispatch page."""
    form = PaperDispatchForm()
    if not form.validate_on_submit():
        flash(_form_problem(form), "error")
        return render_dispatch(document_id, 400, form)
    db = get_session()
    try:
        paper.record_paper_dispatch(
            db,
            current_actor(),
            document_id,
            recipients=[int(v) for v in request.form.getlist("recipients") if v.isdigit()],
            external=[line for line in (form.external.data or "").splitlines() if line.strip()],
            sent_on=_day(form.sent_on.data),
            now=utcnow(),
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        if exc.status == 404:
            raise
        flash(translate(exc.message), "error")
        return render_dispatch(document_id, exc.status, form)
    flash(_("Đã ghi nhận gửi bản giấy."), "ok")
    return redirect(url_for("registry.dispatch_page", document_id=document_id))


@bp.route("/documents/<int:document_id>/scan")
@login_required
def scan(document_id: int) -> Any:
    """The scan of a document signed by hand."""
    db = get_session()
    key, name = paper.scan_file(db, get_services().blobs, current_actor(), document_id)
    db.commit()
    return send_blob(key, name)
