"""workflow: web login and logout (blueprint)."""

from __future__ import annotations

import secrets
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
from workflow.http import client_address, current_actor, throttle_policy
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
            source=client_address(),
            policy=throttle_policy(),
            via="web",
        )
        db.commit()
        if result.user is not None:
            # A new session: nothing of the anonymous one survives (its CSRF token
            # included), and the cookie carries the generation that logout ends.
            session.clear()
            session[accounts.SESSION_GENERATION] = result.user.session_generation
            session["_nonce"] = secrets.token_urlsafe(16)
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("documents.home"))
        flash(result.error or _(accounts.BAD_CREDENTIALS), "error")
        status = 429 if result.locked else 401
        headers = {"Retry-After": str(result.retry_after)} if result.locked else {}
        return render_template("auth/login.html", form=form), status, headers
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Log out (POST with CSRF token)."""
    db = get_session()
    user = current_actor()
    tokens = accounts.end_sessions(db, user)  # this cookie, its copies, and the API tokens
    audit.append(
        db,
        AuditAction.LOGOUT,
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"tokens_revoked": tokens},
    )
    db.commit()
    logout_user()
    session.clear()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))


class TokenForm(FlaskForm):
    """Carries only the CSRF token (revoke buttons)."""


@bp.get("/account/tokens")
@login_required
def tokens() -> Any:
    """Mã truy cập API: the user's live tokens, each with a revoke button."""
    rows = accounts.live_tokens(get_session(), current_actor())
    return render_template("auth/tokens.html", tokens=rows, form=TokenForm())


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of the user's own API tokens (POST with CSRF token)."""
    if not TokenForm().validate_on_submit():
        flash(_("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "error")
        return redirect(url_for("auth.tokens"))
    db = get_session()
    accounts.revoke_own_token(db, current_actor(), token_id, via="web")
    db.commit()
    flash(_("Đã thu hồi mã truy cập."), "ok")
    return redirect(url_for("auth.tokens"))
