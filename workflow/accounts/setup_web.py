"""workflow: the page behind a one-time link to choose a password (``/account/setup/<token>``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import logout_user

from workflow.accounts import setup_links
from workflow.errors import InvalidInputError
from workflow.services import get_services, get_session

bp = Blueprint("password_setup", __name__)


def _page(html: str, status: int) -> Any:
    response = make_response(html, status)
    # The token is in the address: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route(setup_links.PATH + "<token>", methods=["GET", "POST"])
def setup_password(token: str) -> Any:
    """Choose a password with a one-time link (CSRF-protected form)."""
    db = get_session()
    _row, user = setup_links.find_link(db, token)  # 404 page when unknown, used or expired
    status = 200
    if request.method == "POST":
        try:
            setup_links.set_password(
                db,
                get_services().hasher,
                token,
                request.form.get("password", ""),
                request.form.get("confirm", ""),
            )
            db.commit()
        except InvalidInputError as exc:
            db.rollback()
            flash(exc.message, "error")
            status = exc.status
        else:
            logout_user()  # whoever was logged in on this browser is not this user
            flash(_("Đã đặt mật khẩu. Hãy đăng nhập bằng mật khẩu mới."), "ok")
            return redirect(url_for("auth.login"))
    html = render_template(
        "auth/setup_password.html", person=user, min_length=setup_links.MIN_PASSWORD
    )
    return _page(html, status)
