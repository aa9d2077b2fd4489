"""workflow: the PDF viewer, the placed signature and the route preview (blueprint).

- ``GET /documents/<id>/pages/<n>.png?size=1600``: one page rendered (cached), for
  whoever may see the document; never for classified entries.
- ``GET /tasks/<id>/stamp-preview``: the signer's stamp as signing would draw it now
  (PNG data URL), its size and its default place, in view points.
- ``POST /tasks/<id>/sign-at``: sign with the stamp centred on a clicked point
  (``page``, ``x``, ``y`` in view points); without them, the default place.
- ``GET /documents/route-preview?type=CV&urgency=khan&route=code``: the stages a new
  document of the caller's drafting unit would go through.
"""

from __future__ import annotations

import base64
import math
from dataclasses import replace
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required
from sqlalchemy.orm import Session
from wtforms import FloatField, IntegerField
from wtforms.validators import NumberRange, Optional

from signing.errors import PageGeometryError
from signing.pages import Box, PageGeometry
from signing.stamps import PERSONAL_HEIGHT, PERSONAL_WIDTH, StampPlacement, default_box_for
from storage.models import Document, Role, Route, Unit, User
from workflow import http
from workflow.accounts import access
from workflow.documents import route_templates, routing
from workflow.documents.page import SignForm
from workflow.errors import ForbiddenError, InvalidInputError, NotFoundError, WorkflowError
from workflow.http import current_actor
from workflow.services import Services, get_services, get_session
from workflow.signatures import flow as signing_flow
from workflow.viewer import geometry
from workflow.viewer import render as pagerender
from workflow.vocab import DOC_TYPES, normalise_doc_type

bp = Blueprint("viewer", __name__)

ACTION_NAMES = {
    "review": lazy_gettext("Kiểm tra thể thức"),
    "approve": lazy_gettext("Duyệt"),
    "consult": lazy_gettext("Xin ý kiến"),
    "sign": lazy_gettext("Ký số"),
    "issue": lazy_gettext("Ban hành"),
}


class PlacedSignForm(SignForm):
    """Sign, optionally with the stamp centred on a point of a page (view points)."""

    page = IntegerField(validators=[Optional(), NumberRange(min=0)])
    x = FloatField(validators=[Optional()])
    y = FloatField(validators=[Optional()])


def _problem(exc: WorkflowError) -> Any:

    return http.problem(exc.status, http.HTTP_TITLES.get(exc.status, "Lỗi"), exc.message, exc.code)


@bp.route("/documents/<int:document_id>/pages/<int:page>.png")
@login_required
def page_image(document_id: int, page: int) -> Any:
    """One page of the document as a PNG (cached; authorised like the document)."""
    services = get_services()
    db = get_session()
    doc = access.get_visible_document(db, current_actor(), document_id)
    revision = request.args.get("rev", type=int)
    size = request.args.get("size", pagerender.DEFAULT_SIZE, type=int)
    if size not in pagerender.SIZES:
        raise InvalidInputError(_("Kích thước ảnh trang không hợp lệ."), code="bad_size")
    sha = geometry.content_key(services.blobs, doc, revision)
    db.rollback()  # rendering may take seconds: hold no transaction meanwhile
    try:
        count = len(geometry.stored_geometry(services.blobs, sha))
    except PageGeometryError:
        count = 0
    if not 0 <= page < count:
        raise NotFoundError(_("Văn bản không có trang này."), code="no_page")
    try:
        png = pagerender.render_stored_page(
            services.blobs, sha, page, size, services.settings.instance_path / "page-cache"
        )
    except pagerender.RenderError as exc:
        raise InvalidInputError(
            _("Không hiển thị được trang này; hãy tải tệp PDF xuống để xem."), code="render_failed"
        ) from exc
    response = send_file(png, mimetype="image/png", max_age=3600, etag=f"{sha}-{page}-{size}")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _placement(services: Services, doc: Document, form: PlacedSignForm) -> StampPlacement | None:
    """The stamp box centred on the clicked view point, or None (default place).

    :raises InvalidInputError: a page or point outside the document.
    """
    page, x, y = form.page.data, form.x.data, form.y.data
    if page is None and x is None and y is None:
        return None
    if page is None or x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInputError(_("Vị trí đặt chữ ký không hợp lệ."), code="bad_position")
    try:
        pages = geometry.stored_geometry(services.blobs, geometry.content_key(services.blobs, doc))
    except PageGeometryError:
        pages = []
    if page >= len(pages):
        raise InvalidInputError(_("Văn bản không có trang này."), code="bad_position")
    shown = pages[page]
    if not (0 <= x <= shown.width and 0 <= y <= shown.height):
        raise InvalidInputError(
            _("Vị trí đặt chữ ký nằm ngoài trang văn bản."), code="bad_position"
        )
    box = geometry.box_at(shown, x, y, PERSONAL_WIDTH, PERSONAL_HEIGHT)
    return StampPlacement(page=page, box=box)


def _sign_placed(
    db: Session,
    services: Services,
    actor: User,
    task_id: int,
    passphrase: str,
    placement: StampPlacement | None,
) -> None:
    """:func:`signing_flow.run` with the placement chosen on the page."""
    settings = services.settings
    signing_flow.run(
        db,
        services.blobs,
        services.trust,
        actor,
        task_id,
        passphrase,
        key_max_failures=settings.key_max_failures,
        key_lock_seconds=settings.key_lock_seconds,
        level=settings.level_for,
        services=services.trust_services,
        placement=placement,
    )


@bp.route("/tasks/<int:task_id>/sign-at", methods=["POST"])
@login_required
def sign_at(task_id: int) -> Any:
    """Sign with the passphrase, the stamp where the signer clicked (or the default)."""
    form = PlacedSignForm()
    db = get_session()
    actor = current_actor()
    task = access.get_own_task(db, actor, task_id)
    document_id = task.document_id
    kept: dict[str, Any] = {
        k: request.form.get(k, "")
        for k in ("page", "x", "y")
        if request.form.get(k, "").replace(".", "", 1).isdigit()
    }
    # Post/Redirect/Get: a refused attempt goes back to the document page with the
    # stamp where the signer put it (the passphrase is never sent back).
    again = url_for("documents.detail", document_id=document_id, _anchor="sign", **kept)
    if not form.validate_on_submit():
        message = (
            _("Vui lòng nhập mật khẩu khóa ký số.")
            if form.passphrase.errors or not form.errors
            else _("Vị trí đặt chữ ký không hợp lệ.")
        )
        flash(message, "error")
        return redirect(again, 303)
    services = get_services()
    try:
        placement = _placement(services, task.document, form)
        _sign_placed(db, services, actor, task_id, form.passphrase.data or "", placement)
    except WorkflowError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(again, 303)
    flash(_("Đã ký số văn bản. Chữ ký đã được kiểm tra hợp lệ."), "ok")
    return redirect(url_for("documents.detail", document_id=document_id, _anchor="signatures"), 303)


def _to_view(page: PageGeometry, box: Box) -> dict[str, float]:
    """A user-space box as the displayed page shows it (top-left origin, points)."""
    corners = [geometry.pdf_to_view(page, x, y) for x in box[::2] for y in box[1::2]]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return {"x": min(xs), "y": min(ys), "width": max(xs) - min(xs), "height": max(ys) - min(ys)}


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@bp.route("/tasks/<int:task_id>/stamp-preview")
@login_required
def stamp_preview(task_id: int) -> Any:
    """The signer's stamp as it would be drawn now, with its size and default place."""
    services = get_services()
    db = get_session()
    actor = current_actor()
    try:
        plan = signing_flow.prepare(db, actor, task_id, services.settings.level_for, services.blobs)
        doc = access.get_visible_document(db, actor, plan.document_id)
        pages = geometry.stored_geometry(services.blobs, geometry.content_key(services.blobs, doc))
    except PageGeometryError:
        db.rollback()
        return _problem(InvalidInputError(_("Văn bản không có trang này."), code="no_page"))
    except WorkflowError as exc:
        db.rollback()
        return _problem(exc)
    db.rollback()  # prepare only read (and locked the row): release at once
    stamp, placement = plan.profile.stamp, plan.profile.placement
    assert stamp is not None  # noqa: S101 - personal signing always has a stamp
    index = placement.page + len(pages) if placement.page < 0 else placement.page
    page = pages[index]
    box = placement.box or default_box_for(stamp, page.box)
    # A stamp placed by the signer prints the title; at the default place under the
    # printed title it does not (see signing_flow.prepare): one image for each.
    shown = replace(stamp, title=stamp.title or actor.title)
    image: str | None
    image_default: str | None
    try:
        image = _data_url(pagerender.stamp_preview_png(shown, PERSONAL_WIDTH, PERSONAL_HEIGHT))
        image_default = (
            image
            if shown == stamp
            else _data_url(pagerender.stamp_preview_png(stamp, PERSONAL_WIDTH, PERSONAL_HEIGHT))
        )
    except pagerender.RenderError:
        image = image_default = None
    return jsonify(
        {
            "width": PERSONAL_WIDTH,
            "height": PERSONAL_HEIGHT,
            "default": {"page": index, **_to_view(page, box)},
            "image": image,
            "image_default": image_default,
            "lines": [shown.title, shown.signer_name, *shown.extra_lines],
        }
    )


def _pick_route(db: Session, code: str | None) -> Route:
    routes = [r for r in route_templates.list_routes(db) if r.kind != "incoming"]
    route = next((r for r in routes if (r.code == code if code else r.is_default)), None)
    if route is None:
        raise NotFoundError(_("Không có tuyến trình này."), code="no_route")
    return route


@bp.route("/documents/route-preview")
@login_required
def route_preview() -> Any:
    """The stages a new document would go through (JSON), for the upload page."""
    db = get_session()
    actor = current_actor()
    try:
        units = actor.units_with(Role.DRAFTER)
        if not units:
            raise ForbiddenError(_("Tài khoản của bạn không có quyền soạn thảo, trình văn bản."))
        doc_type = normalise_doc_type(request.args.get("type") or "CV")
        if doc_type is None:
            raise InvalidInputError(_("Loại văn bản không hợp lệ."), code="bad_type")
        urgency = request.args.get("urgency") or None
        if urgency is not None and urgency not in route_templates.URGENCY_CODES:
            raise InvalidInputError(_("Độ khẩn không hợp lệ."), code="bad_urgency")
        route = _pick_route(db, request.args.get("route") or None)
        unit = db.get(Unit, min(units))
        assert unit is not None  # noqa: S101 - the actor's own unit
        # A transient document (never added to the session) to reuse the route's rules.
        probe = Document(
            doc_type=doc_type, urgency=urgency, unit=unit, unit_id=unit.id, route=route
        )
        stages = routing.stages_of(probe)
        body = {
            "route": {"code": route.code, "name": route.name, "version": route.version},
            "doc_type": {"code": doc_type, "name": _(DOC_TYPES[doc_type])},
            "stages": [
                {
                    "position": s.position,
                    "name": s.name,
                    "action": s.action,
                    "action_label": str(ACTION_NAMES.get(s.action, s.action)),
                    "mode": s.mode,
                    "deadline_days": s.deadline_days,
                    "assignees": [
                        {"name": u.full_name, "title": u.title}
                        for u in routing.stage_assignees(db, probe, s)
                    ],
                }
                for s in stages
            ],
        }
    except WorkflowError as exc:
        db.rollback()
        return _problem(exc)
    db.rollback()
    return jsonify(body)
