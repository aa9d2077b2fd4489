"""workflow: the clerk's forms for paper documents on the register and dispatch pages,
and what those pages offer (which units, whether the caller may use them)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from storage.models import Document, Role, Unit, User
from storage.registry_models import Dispatch
from workflow.i18n import translate
from workflow.registry import dispatch as dispatching
from workflow.registry.issuance import CLASSIFICATIONS
from workflow.registry.issuers import issuer_of
from workflow.vocab import DOC_TYPES


class HandSignedForm(FlaskForm):
    """Vào sổ a document signed by hand (validated by the use-case, like the API)."""

    doc_type = SelectField("Loại văn bản", choices=[], default="CV", validate_choice=False)
    subject = StringField("Trích yếu nội dung", validators=[Length(max=1000)])
    unit = SelectField("Đơn vị ban hành (ký)", choices=[], validate_choice=False)
    signer = StringField("Người ký (họ tên, hoặc tên đăng nhập)", validators=[Length(max=255)])
    signed_on = DateField("Ngày ký", validators=[Optional()])
    copies = IntegerField("Số lượng bản", validators=[Optional(), NumberRange(min=1)])
    file = FileField("Bản quét (PDF, không bắt buộc)")


class PaperIncomingForm(FlaskForm):
    """Vào sổ a document that arrived on paper."""

    sender_unit = SelectField(
        "Đơn vị gửi trong Khối", choices=[], default="", validate_choice=False
    )
    sender = StringField("Hoặc cơ quan, tổ chức bên ngoài", validators=[Length(max=255)])
    original_symbol = StringField("Số, ký hiệu", validators=[Length(max=64)])
    original_date = DateField("Ngày văn bản", validators=[Optional()])
    subject = StringField("Trích yếu nội dung", validators=[Length(max=1000)])
    doc_type = SelectField("Loại văn bản", choices=[], default="CV", validate_choice=False)
    classification = SelectField("Độ mật", choices=[], default="", validate_choice=False)
    file = FileField("Bản quét (PDF, không bắt buộc; không tải lên với văn bản mật)")


class PaperDispatchForm(FlaskForm):
    """Record that an issued document was sent on paper."""

    external = TextAreaField(
        "Cơ quan, tổ chức bên ngoài (mỗi dòng một nơi)", validators=[Length(max=4000)]
    )
    sent_on = DateField("Ngày gửi", validators=[Optional()])


def _doc_types() -> list[tuple[str, str]]:
    return [(k, f"{translate(v)} ({k})") for k, v in DOC_TYPES.items()]


def register_forms(
    session: Session,
    actor: User,
    kind: str,
    unit_id: int,
    outgoing: HandSignedForm | None = None,
    incoming: PaperIncomingForm | None = None,
) -> dict[str, Any]:
    """:returns: the paper form of a register page (``paper_form``) when the caller keeps
    that register, with its choices, else ``paper_form=None``."""
    if unit_id not in dispatching.clerk_units(session, actor):
        return {"paper_form": None}
    units = session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)).all()
    if kind == "outgoing":
        form = outgoing or HandSignedForm()
        form.doc_type.choices = _doc_types()
        # The units whose documents this register numbers: the issuer and its organs.
        form.unit.choices = [
            (u.code, u.name)
            for u in units
            if u.id == unit_id or issuer_of(session, u).id == unit_id
        ]
        if outgoing is None:
            form.unit.data = _code(units, unit_id)
        return {"paper_form": form, "signers": _signers(session)}
    incoming_form = incoming or PaperIncomingForm()
    incoming_form.doc_type.choices = _doc_types()
    incoming_form.sender_unit.choices = [("", "—")] + [
        (u.code, u.name) for u in units if u.id != unit_id
    ]
    incoming_form.classification.choices = [("", "—")] + [
        (k, translate(v)) for k, v in CLASSIFICATIONS.items()
    ]
    return {"paper_form": incoming_form}


def _code(units: Any, unit_id: int) -> str | None:
    return next((u.code for u in units if u.id == unit_id), None)


def _signers(session: Session) -> list[User]:
    """The people who sign (a suggestion list: a paper signer may be anyone)."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name))
    return [u for u in users if u.has_role(Role.SIGNER)]


def dispatch_forms(
    session: Session, actor: User, doc: Document, form: PaperDispatchForm | None = None
) -> dict[str, Any]:
    """:returns: what the dispatch page shows of the paper side: the form (for the
    issuer's clerks, on an issued document not recalled) and the units it offers."""
    allowed = (
        doc.issuer_unit_id in dispatching.clerk_units(session, actor)
        and doc.state == "issued"
        and doc.recalled_at is None
    )
    sent = set(
        session.scalars(
            select(Dispatch.recipient_unit_id).where(
                Dispatch.document_id == doc.id, Dispatch.form == "paper"
            )
        )
    )
    units = [
        u
        for u in session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id))
        if u.id != doc.issuer_unit_id and u.id not in sent
    ]
    return {
        "paper_form": (form or PaperDispatchForm()) if allowed else None,
        "paper_units": units,
        "electronic": doc.form != "paper" or bool(doc.classification),
        # A refused form shows again with the units that were ticked.
        "paper_ticked": set(request.form.getlist("recipients")) if form is not None else set(),
    }
