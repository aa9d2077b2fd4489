"""workflow: administration pages (on the /admin blueprint): units, users and roles,
effective settings. Thin views: parse, call one use-case, commit, redirect."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import make_url, select
from werkzeug.wrappers import Response

from storage.models import Role, Unit
from workflow.admin import units as admin_units
from workflow.admin import users as admin_users
from workflow.admin.blueprint import bp
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.services import get_services, get_session
from workflow.settings import LEVELS
from workflow.vocab import DOC_TYPES, UNIT_KIND_LABELS, vn_sort_key

SECRET_WORDS = ("PASSWORD", "PASSPHRASE", "SECRET", "PRIVATE")


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _attempt(action: Callable[[], Any], done: str, target: str) -> tuple[Response | None, int]:
    """Run one use-case and commit: a redirect to ``target``, or the refusal flashed."""
    db = get_session()
    try:
        action()
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(exc.message, "error")
        return None, exc.status
    flash(done, "ok")
    return redirect(target), 302


def _attempt_op(
    actions: dict[str, tuple[Callable[[], Any], str]], op: str, target: str
) -> tuple[Response | None, int]:
    """:func:`_attempt` the form's operation ``op`` among ``actions``; an unknown one is
    flashed and answered 400."""
    if op not in actions:
        flash(_("Thao tác không hợp lệ."), "error")
        return None, 400
    action, done = actions[op]
    return _attempt(action, done, target)


def _no_store(html: str, status: int) -> Response:
    """A page showing a password once: never cached."""
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def index() -> Response:
    """The administration starts at the units."""
    return redirect(url_for("admin.units"))


# --- units -------------------------------------------------------------------------


@bp.route("/units", methods=["GET", "POST"])
def units() -> Any:
    """The unit tree, and a form to add a unit."""
    db, actor = get_session(), current_actor()
    status = 200
    if request.method == "POST":
        form = request.form
        response, status = _attempt(
            lambda: admin_units.create_unit(
                db,
                actor,
                code=form.get("code", ""),
                name=form.get("name", ""),
                symbol=form.get("symbol", ""),
                kind=form.get("kind", ""),
                parent_id=_int(form.get("parent_id")),
            ),
            _("Đã thêm đơn vị."),
            url_for("admin.units"),
        )
        if response is not None:
            return response
    return render_template(
        "admin/units.html",
        tree=admin_units.unit_tree(db),
        # The bloc committee (the root) first, and chosen: most new units are its own.
        parents=sorted(
            admin_units.active_units(db),
            key=lambda u: (u.parent_id is not None, vn_sort_key(u.name)),
        ),
        kinds=UNIT_KIND_LABELS,
    ), status


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
def unit(unit_id: int) -> Any:
    """One unit: rename, move under another parent, deactivate or reactivate."""
    db, actor = get_session(), current_actor()
    target = admin_units.get_unit(db, unit_id)
    status = 200
    if request.method == "POST":
        op, form = request.form.get("op", ""), request.form
        actions: dict[str, tuple[Callable[[], Any], str]] = {
            "rename": (
                lambda: admin_units.rename_unit(
                    db, actor, unit_id, form.get("name", ""), form.get("symbol", "")
                ),
                _("Đã đổi tên đơn vị."),
            ),
            "move": (
                lambda: admin_units.move_unit(db, actor, unit_id, _int(form.get("parent_id"))),
                _("Đã chuyển đơn vị."),
            ),
            "deactivate": (
                lambda: admin_units.deactivate_unit(db, actor, unit_id),
                _("Đã ngừng hoạt động đơn vị."),
            ),
            "reactivate": (
                lambda: admin_units.reactivate_unit(db, actor, unit_id),
                _("Đã cho đơn vị hoạt động trở lại."),
            ),
        }
        response, status = _attempt_op(actions, op, url_for("admin.unit", unit_id=unit_id))
        if response is not None:
            return response
        target = admin_units.get_unit(db, unit_id)
    members = admin_users.search_users(db, unit_id=unit_id, limit=500)
    parents = [u for u in admin_units.active_units(db) if u.id != unit_id]
    return render_template(
        "admin/unit.html",
        unit=target,
        members=members,
        parents=parents,
        kinds=UNIT_KIND_LABELS,
        routes=admin_units.routes_using(db, target.code),
    ), status


# --- users and roles ---------------------------------------------------------------


@bp.get("/users")
def users() -> Any:
    """Users, searchable by name, username, title or e-mail, and by unit."""
    db = get_session()
    q = request.args.get("q", "")
    unit_id = _int(request.args.get("unit"))
    return render_template(
        "admin/users.html",
        users=admin_users.search_users(db, q, unit_id),
        q=q,
        unit_id=unit_id,
        units=db.scalars(select(Unit).order_by(Unit.code)).all(),
        limit=admin_users.PAGE_SIZE,
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new() -> Any:
    """Create a user: one role in one unit, a temporary password typed or generated."""
    db, actor = get_session(), current_actor()
    status = 200
    form = request.form
    if request.method == "POST":
        try:
            created = admin_users.create_user(
                db,
                get_services().hasher,
                actor,
                username=form.get("username", ""),
                full_name=form.get("full_name", ""),
                title=form.get("title", ""),
                email=form.get("email"),
                role=form.get("role", ""),
                unit_id=_int(form.get("unit_id")),
                password=form.get("password") or None,
            )
            db.commit()
        except WorkflowError as exc:
            db.rollback()
            flash(exc.message, "error")
            status = exc.status
        else:
            return _no_store(
                render_template(
                    "admin/password_once.html", user=created.user, password=created.password
                ),
                201,
            )
    return render_template(
        "admin/user_new.html", form=form, units=admin_units.active_units(db)
    ), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int) -> Any:
    """One user: profile and unit, roles per unit, lock or unlock, password reset."""
    db, actor = get_session(), current_actor()
    person = admin_users.get_user(db, user_id)
    status = 200
    if request.method == "POST":
        op, form = request.form.get("op", ""), request.form
        if op == "reset":
            try:
                reset = admin_users.reset_password(
                    db, get_services().hasher, actor, user_id, form.get("password") or None
                )
                db.commit()
            except WorkflowError as exc:
                db.rollback()
                flash(exc.message, "error")
                status = exc.status
            else:
                return _no_store(
                    render_template(
                        "admin/password_once.html",
                        user=reset.user,
                        password=reset.password,
                        reset=True,
                    ),
                    200,
                )
        else:
            actions: dict[str, tuple[Callable[[], Any], str]] = {
                "update": (
                    lambda: admin_users.update_user(
                        db,
                        actor,
                        user_id,
                        full_name=form.get("full_name", ""),
                        title=form.get("title", ""),
                        email=form.get("email"),
                        move_from=_int(form.get("move_from")),
                        move_to=_int(form.get("move_to")),
                    ),
                    _("Đã lưu thông tin người dùng."),
                ),
                "grant": (
                    lambda: admin_users.grant_role(
                        db, actor, user_id, form.get("role", ""), _int(form.get("unit_id"))
                    ),
                    _("Đã cấp vai trò."),
                ),
                "revoke": (
                    lambda: admin_users.revoke_role(
                        db, actor, user_id, _int(form.get("assignment_id")) or 0
                    ),
                    _("Đã thu hồi vai trò."),
                ),
                "lock": (
                    lambda: admin_users.set_locked(db, actor, user_id, True),
                    _("Đã khóa tài khoản."),
                ),
                "unlock": (
                    lambda: admin_users.set_locked(db, actor, user_id, False),
                    _("Đã mở khóa tài khoản."),
                ),
            }
            response, status = _attempt_op(actions, op, url_for("admin.user", user_id=user_id))
            if response is not None:
                return response
        person = admin_users.get_user(db, user_id)
    unit_ids = sorted({r.unit_id for r in person.roles})
    admin_roles = [r.id for r in person.roles if r.role == Role.ADMIN]
    return render_template(
        "admin/user.html",
        person=person,
        is_self=person.id == actor.id,
        # An administrator cannot take away their own last administrator role.
        irrevocable=set(admin_roles) if person.id == actor.id and len(admin_roles) == 1 else set(),
        units=admin_units.active_units(db),
        home_unit=unit_ids[0] if unit_ids else None,
        roles=list(Role),
    ), status


# --- settings ----------------------------------------------------------------------


def masked(name: str, value: Any) -> str:
    """:returns: ``value`` for a page, with secrets replaced by whether they are set."""
    if any(word in name.upper() for word in SECRET_WORDS):
        return _("(đã đặt, ẩn)") if value else _("(chưa đặt)")
    if value is None or value == "":
        return _("(chưa đặt)")
    return str(value)


def _database(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    kind = "PostgreSQL" if parsed.get_backend_name().startswith("postgres") else "SQLite"
    return kind, parsed.render_as_string(hide_password=True)


@bp.get("/settings")
def settings() -> Any:
    """The effective settings, read-only, secrets masked."""
    settings = get_services().settings
    kind, url = _database(settings.database_url)
    public = (settings.public_url or "").rstrip("/")
    trust = {
        "TSA": f"{public}/pki/tsa" if public else None,
        "OCSP": f"{public}/pki/ocsp" if public else None,
        "CRL": f"{public}/pki/crl" if public else None,
    }
    mail = [
        ("MAIL_SERVER", settings.mail_server),
        ("MAIL_PORT", settings.mail_port),
        ("MAIL_FROM", settings.mail_from),
        ("MAIL_USERNAME", settings.mail_username),
        ("MAIL_PASSWORD", settings.mail_password),
        ("MAIL_STARTTLS", settings.mail_starttls),
    ]
    seal_env = settings.seal_passphrase is not None
    org = get_session().scalars(select(Unit).where(Unit.parent_id.is_(None))).first()
    org_code = org.code if org else ""
    levels = [
        (code, label, settings.level_for(org_code, code)) for code, label in DOC_TYPES.items()
    ]
    every = [
        (f.name, masked(f.name, getattr(settings, f.name)))
        for f in dataclasses.fields(settings)
        if f.name != "signature_policy" and not f.name.startswith("mail_")
    ]
    return render_template(
        "admin/settings.html",
        db_kind=kind,
        db_url=url,
        settings=settings,
        trust=trust,
        mail=[(k, masked(k, v)) for k, v in mail],
        seal_env=seal_env,
        levels=levels,
        level_names=LEVELS,
        policy=sorted(settings.signature_policy.items()),
        every=every,
    )
