"""workflow: the visual route editor (on the /admin blueprint): stages as cards, reordered,
added and removed in the browser (static/js/route-editor.js) or, without JavaScript, by
the same buttons posting to the server; saving makes a new version.

The form names a stage's fields ``stage-<i>-<field>`` in card order; ``stage_count`` says
how many cards were sent. Nothing is stored until "save" passes :func:`check_route`.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from storage.models import Document, Route, User
from workflow.admin import units as admin_units
from workflow.admin.blueprint import bp
from workflow.documents import route_templates
from workflow.documents.route_templates import URGENCY_CODES, RouteProblems
from workflow.errors import NotFoundError, WorkflowError
from workflow.http import current_actor
from workflow.services import get_session

MAX_STAGES = 30
FIELDS = ("name", "action", "role", "unit", "user", "mode", "deadline")
URGENCY_LABELS: dict[str, str] = {
    "thuong": "Thường",
    "khan": "Khẩn",
    "thuong_khan": "Thượng khẩn",
    "hoa_toc": "Hỏa tốc",
}
STAGE_ACTIONS: dict[str, str] = {
    "review": "Kiểm tra",
    "approve": "Duyệt",
    "consult": "Lấy ý kiến",
    "sign": "Ký số",
    "issue": "Ban hành",
}
KINDS: dict[str, str] = {"outgoing": "Văn bản đi", "report": "Báo cáo", "incoming": "Văn bản đến"}

Draft = dict[str, Any]


def blank_stage() -> Draft:
    """:returns: an empty card."""
    return {
        "name": "",
        "action": "approve",
        "role": "approver",
        "unit": "",
        "user": "",
        "mode": "any",
        "deadline": "",
        "doc_types": [],
        "urgencies": [],
        "units": [],
    }


def draft_of(route: Route, users: dict[int, str]) -> tuple[Draft, list[Draft]]:
    """:returns: the editor's header and cards for an existing route version."""
    header = {
        "code": route.code,
        "name": route.name,
        "kind": route.kind,
        "description": route.description,
        "is_default": route.is_default,
    }
    stages = [
        {
            "name": s.name,
            "action": s.action,
            "role": "" if s.assignee_user_id else s.assignee_role,
            "unit": s.assignee_unit_code or "",
            "user": users.get(s.assignee_user_id or 0, ""),
            "mode": s.mode,
            "deadline": str(s.deadline_days or ""),
            "doc_types": list(s.when_doc_types or []),
            "urgencies": list(s.when_urgencies or []),
            "units": list(s.when_units or []),
        }
        for s in route.stages
    ]
    return header, stages


def parse_form(form: MultiDict[str, str]) -> tuple[Draft, list[Draft]]:
    """:returns: the header and the cards as posted, in card order."""
    header = {
        "code": form.get("code", "").strip(),
        "name": form.get("name", ""),
        "kind": form.get("kind", "outgoing"),
        "description": form.get("description", ""),
        "is_default": bool(form.get("is_default")),
    }
    try:
        count = min(int(form.get("stage_count", "0")), MAX_STAGES)
    except ValueError:
        count = 0
    stages = []
    for i in range(count):
        stage: Draft = {f: form.get(f"stage-{i}-{f}", "").strip() for f in FIELDS}
        stage["doc_types"] = form.getlist(f"stage-{i}-types")
        stage["urgencies"] = form.getlist(f"stage-{i}-urgencies")
        stage["units"] = form.getlist(f"stage-{i}-units")
        stages.append(stage)
    return header, stages


def apply_op(op: str, stages: list[Draft]) -> list[Draft]:
    """:returns: the cards after "add", "up-<i>", "down-<i>" or "remove-<i>" (no JavaScript)."""
    stages = list(stages)
    if op == "add" and len(stages) < MAX_STAGES:
        stages.append(blank_stage())
        return stages
    verb, _sep, index = op.partition("-")
    if not index.isdigit() or int(index) >= len(stages):
        return stages
    i = int(index)
    if verb == "up" and i > 0:
        stages[i - 1], stages[i] = stages[i], stages[i - 1]
    elif verb == "down" and i + 1 < len(stages):
        stages[i + 1], stages[i] = stages[i], stages[i + 1]
    elif verb == "remove":
        del stages[i]
    return stages


def body_of(header: Draft, stages: list[Draft]) -> dict[str, Any]:
    """:returns: the cards in the JSON API's form (what :func:`save_route` takes)."""
    out = []
    for s in stages:
        deadline: Any = s["deadline"] or None
        if isinstance(deadline, str) and deadline.isdigit():
            deadline = int(deadline)
        out.append(
            {
                "name": s["name"],
                "action": s["action"],
                "assignee_role": s["role"] or None,
                "assignee_unit": s["unit"] or None,
                "assignee_user": s["user"] or None,
                "mode": s["mode"] or "any",
                "deadline_days": deadline,
                "when": {
                    "doc_types": s["doc_types"] or None,
                    "urgencies": s["urgencies"] or None,
                    "units": s["units"] or None,
                },
            }
        )
    return {**header, "stages": out}


@bp.get("/routes")
def routes() -> Any:
    """Route templates: the newest version of each, and older versions still in use."""
    db = get_session()
    rows = db.execute(select(Document.route_id, func.count()).group_by(Document.route_id))
    return render_template(
        "admin/routes.html",
        documents={route_id: count for route_id, count in rows},
        routes=route_templates.list_routes(db),
        versions=route_templates.list_routes(db, include_inactive=True),
        kinds=KINDS,
        actions=STAGE_ACTIONS,
    )


@bp.route("/routes/edit", methods=["GET", "POST"])
def route_editor() -> Any:
    """The visual editor: a new route, or a new version of ``?code=``."""
    db, actor = get_session(), current_actor()
    users = db.scalars(select(User).order_by(User.full_name)).all()
    editing = request.values.get("code_locked") or request.args.get("code") or ""
    status = 200
    problems = RouteProblems([], {})
    if request.method == "GET":
        if editing:
            current = next((r for r in route_templates.list_routes(db) if r.code == editing), None)
            if current is None:
                raise NotFoundError("Không tìm thấy tuyến trình.")
            header, stages = draft_of(current, {u.id: u.username for u in users})
        else:
            header = {"code": "", "name": "", "kind": "outgoing", "description": ""}
            header["is_default"] = False
            stages = [blank_stage()]
    else:
        header, stages = parse_form(request.form)
        if editing:
            header["code"] = editing
        op = request.form.get("op", "save")
        if op != "save":
            stages = apply_op(op, stages)
        else:
            body = body_of(header, stages)
            problems = route_templates.check_route(db, body)
            if problems.ok:
                try:
                    route = route_templates.save_route(db, actor, body)
                    db.commit()
                except WorkflowError as exc:
                    db.rollback()
                    problems = RouteProblems([exc.message], {})
                else:
                    flash(
                        _(
                            "Đã lưu tuyến trình %(code)s, phiên bản %(version)s.",
                            code=route.code,
                            version=route.version,
                        ),
                        "ok",
                    )
                    return redirect(url_for("admin.routes"))
            status = 422
    return render_template(
        "admin/route_editor.html",
        header=header,
        stages=stages,
        editing=editing,
        problems=problems,
        units=admin_units.active_units(db),
        users=[u for u in users if u.active],
        actions=STAGE_ACTIONS,
        kinds=KINDS,
        urgencies=URGENCY_LABELS,
        urgency_codes=URGENCY_CODES,
        max_stages=MAX_STAGES,
        blank=blank_stage(),
    ), status
