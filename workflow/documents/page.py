"""workflow: the document page: its forms and what it shows of a document to the actor
(also rendered by the viewer and the task pages after a refused action)."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from storage.audit import AuditAction
from storage.models import Document, Role, User
from storage.registry_models import HandSignature
from storage.types import utcnow
from workflow.documents import presenters as views
from workflow.documents import routing
from workflow.documents import usecases as service
from workflow.documents.states import StageAction
from workflow.registry import issuance
from workflow.services import get_services, get_session
from workflow.verification import service as verification


class ActionForm(FlaskForm):
    """Approve a step, with an optional comment."""

    comment = TextAreaField("Ý kiến", validators=[Optional(), Length(max=4000)])


class SignForm(FlaskForm):
    """Sign with the key's passphrase."""

    passphrase = PasswordField("Mật khẩu khóa ký số", validators=[DataRequired(), Length(max=256)])


class EmptyForm(FlaskForm):
    """A form that carries only the CSRF token."""


def render_detail(doc: Document, actor: User, status: int = 200, **forms: Any) -> Any:
    """Render the document page (also with an error status after a refused action)."""
    services = get_services()
    db = get_session()
    entries = views.history(db, doc)
    report = (
        service.validate_document(
            services.blobs, services.trust, doc, services.trust_services.revocation_source()
        )
        if doc.has_content
        else None
    )
    my_tasks = [t for t in doc.tasks if t.assignee_id == actor.id and t.state == "open"]
    stages = routing.stages_of(doc)
    return (
        render_template(
            "documents/detail.html",
            doc=doc,
            actor=actor,
            timeline=views.stage_timeline(doc),
            events=[e for e in entries if e.action != AuditAction.VIEWED],
            views=[e for e in entries if e.action == AuditAction.VIEWED],
            report=report,
            my_tasks=my_tasks,
            number_preview=(
                issuance.preview_number(db, doc)
                if any(t.action == StageAction.ISSUE for t in my_tasks)
                else None
            ),
            stages=stages,
            planned=views.planned_json(doc),
            now=utcnow(),
            verification_code=verification.code_of(db, doc),
            hand=db.scalars(
                select(HandSignature).where(HandSignature.document_id == doc.id)
            ).first()
            if doc.form == "paper"
            else None,
            comments=views.comments_json(db, doc),
            people=db.scalars(
                select(User)
                .where(User.active.is_(True), User.id != actor.id)
                .order_by(User.full_name)
            ).all(),
            can_recall=doc.state == "issued"
            and (actor.has_role(Role.CLERK) or actor.has_role(Role.SIGNER)),
            approve_form=forms.get("approve_form") or ActionForm(),
            sign_form=forms.get("sign_form") or SignForm(),
            empty_form=EmptyForm(),
        ),
        status,
    )
