"""workflow: web login and logout (blueprint)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from storage import audit
from storage.audit import AuditAction
from workflow.accounts import service as accounts
from workflow.services import get_services, get_session

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Tên đăng nhập", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Mật khẩu", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Log in with username and password."""
    if current_user.is_authenticated:
        return redirect(url_for("documents.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        services = get_services()
        db = get_session()
        result = accounts.authenticate(
            db,
            services.hasher,
            form.username.data or "",
            form.password.data or "",
            max_failures=services.settings.login_max_failures,
            lock_seconds=services.settings.login_lock_seconds,
            via="web",
        )
        db.commit()
        if result.user is not None:
            session.clear()
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("documents.home"))
        flash(result.error or _(accounts.BAD_CREDENTIALS), "error")
        status = 429 if result.locked else 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Log out (POST with CSRF token)."""
    db = get_session()
    audit.append(
        db,
        AuditAction.LOGOUT,
        actor_id=int(current_user.get_id()),
        object_type="user",
        object_id=current_user.get_id(),
    )
    db.commit()
    logout_user()
    session.clear()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))
