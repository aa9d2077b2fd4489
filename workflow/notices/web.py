"""workflow: the page where a person chooses how they get e-mail notices (blueprint)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from storage.models import User
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.i18n import translate
from workflow.notices import service
from workflow.services import get_session

bp = Blueprint("notices", __name__)

MODE_LABELS = {
    "each": "Mỗi sự kiện một thư",
    "digest": "Một thư tổng hợp mỗi ngày",
    "none": "Không nhận thư",
}
LANGUAGE_LABELS = {"vi": "Tiếng Việt", "en": "English"}


class CsrfForm(FlaskForm):
    """Carries the CSRF token of the preferences form."""


@bp.route("/account/notices", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    """Choose how e-mail notices arrive, and in which language."""
    db = get_session()
    user = db.get_one(User, current_actor().id)
    form = CsrfForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(
                _("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "error"
            )
            return redirect(url_for("notices.preferences"))
        try:
            service.set_preferences(
                db, user, request.form.get("mode"), request.form.get("language")
            )
            db.commit()
        except WorkflowError as exc:
            db.rollback()
            flash(translate(exc.message), "error")
        else:
            flash(_("Đã lưu cách nhận thư thông báo."), "ok")
        return redirect(url_for("notices.preferences"))
    return render_template(
        "notices/preferences.html",
        form=form,
        user=user,
        modes=MODE_LABELS,
        languages=LANGUAGE_LABELS,
    )
