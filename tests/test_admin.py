"""Administration pages (/admin): units, users and roles, the visual route editor,
settings; administrators only, CSRF on every form, every change audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from storage.models import ApiToken, AuditEvent, Document, Role, Route, Unit, User
from tests.conftest import DEMO_PASSWORD, Api, app_config, closed
from tests.test_web import csrf_token, login
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services

GET_PAGES = [
    "/admin/",
    "/admin/units",
    "/admin/units/1",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/1",
    "/admin/routes",
    "/admin/routes/edit",
    "/admin/routes/edit?code=thuong-truc-ky",
    "/admin/settings",
]
POST_PAGES = [
    "/admin/units",
    "/admin/units/2",
    "/admin/users/new",
    "/admin/users/1",
    "/admin/routes/edit",
]


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = closed(client.get(path))
    assert response.status_code == status, (path, response.status_code)
    return str(response.get_data(as_text=True))


def post(
    client: FlaskClient, path: str, data: dict[str, Any], token_from: str | None = None
) -> Any:
    form = {"csrf_token": csrf_token(client, token_from or path), **data}
    return closed(client.post(path, data=form))


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def audit_entries(services: Services, action: str) -> list[AuditEvent]:
    with services.session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def one(services: Services, model: Any, **where: Any) -> Any:
    with services.session_factory() as session:
        return session.scalars(select(model).filter_by(**where)).one()


def flashed(html: str) -> str:
    return " ".join(re.findall(r'class="flash flash-\w+"[^>]*>([^<]*)<', html))


# --- authorisation and CSRF ----------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client: FlaskClient) -> None:
    for path in GET_PAGES:
        response = closed(client.get(path))
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


@pytest.mark.parametrize("username", ["chuyenvien", "bithu", "kiemtra"])
def test_everyone_but_administrators_gets_403_on_every_page_and_form(
    app: Flask, services: Services, username: str
) -> None:
    client = signed_in(app, username)
    for path in GET_PAGES:
        html = page(client, path, 403)
        assert "chỉ dành cho quản trị hệ thống" in html
    token = csrf_token(client, "/")
    for path in POST_PAGES:
        response = closed(
            client.post(
                path,
                data={
                    "csrf_token": token,
                    "op": "lock",
                    "code": "HACK",
                    "name": "x",
                    "username": "hacker",
                    "full_name": "x",
                    "role": "admin",
                    "unit_id": "1",
                },
            )
        )
        assert response.status_code == 403, path
    denied = audit_entries(services, "admin:access_denied")
    assert len(denied) == len(GET_PAGES) + len(POST_PAGES)
    assert {e.details["method"] for e in denied} == {"GET", "POST"}
    with services.session_factory() as session:
        assert session.scalars(select(Unit).where(Unit.code == "HACK")).first() is None
        assert session.scalars(select(User).where(User.username == "hacker")).first() is None
        assert all(u.active for u in session.scalars(select(User)))


def test_administrator_sees_every_page(app: Flask) -> None:
    admin = signed_in(app, "admin")
    for path in GET_PAGES:
        if path == "/admin/":
            assert closed(admin.get(path)).status_code == 302
            continue
        html = page(admin, path)
        assert 'aria-label="Quản trị hệ thống"' in html, path


def test_every_admin_form_needs_the_csrf_token(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    for path in POST_PAGES:
        response = closed(admin.post(path, data={"op": "lock", "code": "NOCSRF", "name": "x"}))
        assert response.status_code == 400, path
        assert "Phiên làm việc của biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    assert not audit_entries(services, "unit:created")


# --- units ---------------------------------------------------------------------------


def test_units_tree_create_rename_move_and_deactivate(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    org, btg = one(services, Unit, code="DUK"), one(services, Unit, code="BTG")
    tree = page(admin, "/admin/units")
    assert tree.index("Đảng ủy Khối Cơ quan") < tree.index("Ban Tuyên giáo Đảng ủy Khối")
    created = post(
        admin,
        "/admin/units",
        {"code": "BDV", "name": "Ban Dân vận", "symbol": "", "kind": "board", "parent_id": org.id},
    )
    assert created.status_code == 302
    bdv = one(services, Unit, code="BDV")
    assert bdv.parent_id == org.id and bdv.active and bdv.symbol == "ĐUK"
    duplicate = post(
        admin,
        "/admin/units",
        {"code": "BDV", "name": "x", "kind": "board", "parent_id": org.id},
    )
    assert duplicate.status_code == 409 and "Đã có đơn vị mã «BDV»" in duplicate.get_data(True)

    path = f"/admin/units/{bdv.id}"
    assert (
        post(
            admin, path, {"op": "rename", "name": "Ban Dân vận Đảng ủy Khối", "symbol": "ĐUK"}
        ).status_code
        == 302
    )
    assert one(services, Unit, code="BDV").name == "Ban Dân vận Đảng ủy Khối"
    assert post(admin, path, {"op": "move", "parent_id": btg.id}).status_code == 302
    assert one(services, Unit, code="BDV").parent_id == btg.id
    cycle = post(admin, f"/admin/units/{btg.id}", {"op": "move", "parent_id": bdv.id})
    assert cycle.status_code == 409 and "cấp dưới" in flashed(cycle.get_data(True))

    # BTG has people and now a child: refused, with the reason.
    refused = post(admin, f"/admin/units/{btg.id}", {"op": "deactivate"})
    assert refused.status_code == 409
    assert "đơn vị cấp dưới" in flashed(refused.get_data(True))
    assert one(services, Unit, code="BTG").active
    assert post(admin, path, {"op": "deactivate"}).status_code == 302
    assert not one(services, Unit, code="BDV").active
    assert "Ngừng hoạt động" in page(admin, "/admin/units")
    # An inactive unit is no longer offered for roles; it can be reactivated.
    assert post(admin, path, {"op": "reactivate"}).status_code == 302
    assert one(services, Unit, code="BDV").active

    actions = [e.action for e in audit_entries(services, "unit:created")]
    assert actions == ["unit:created"]
    for action in ("unit:renamed", "unit:moved", "unit:deactivated", "unit:reactivated"):
        entries = audit_entries(services, action)
        assert len(entries) == 1 and entries[0].object_id == str(bdv.id), action


def test_deactivating_a_unit_refuses_to_orphan_people_or_break_routes(
    app: Flask, services: Services, api: Api
) -> None:
    admin = signed_in(app, "admin")
    vp = one(services, Unit, code="VP")
    people = post(admin, f"/admin/units/{vp.id}", {"op": "deactivate"})
    assert people.status_code == 409
    message = flashed(people.get_data(True))
    assert re.search(r"\d+ người dùng đang có vai trò tại đơn vị \([^)]*Phạm Thị Thu", message)
    # A unit without people but named by an active route.
    org = one(services, Unit, code="DUK")
    post(
        admin,
        "/admin/units",
        {"code": "PC", "name": "Ban Pháp chế", "kind": "board", "parent_id": org.id},
    )
    route = {
        "code": "qua-phap-che",
        "name": "Qua Ban Pháp chế",
        "stages": [
            {
                "name": "Pháp chế",
                "action": "review",
                "assignee_role": "approver",
                "assignee_unit": "PC",
            }
        ],
    }
    assert api.post("admin", "/routes", json=route).status_code == 201
    pc = one(services, Unit, code="PC")
    broken = post(admin, f"/admin/units/{pc.id}", {"op": "deactivate"})
    assert broken.status_code == 409
    assert "tuyến trình đang dùng đơn vị này (Qua Ban Pháp chế (qua-phap-che))" in flashed(
        broken.get_data(True)
    )
    assert one(services, Unit, code="PC").active
    assert not audit_entries(services, "unit:deactivated")


# --- users and roles -----------------------------------------------------------------


def new_user_form(unit_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "username": "phamvan.a",
        "full_name": "Phạm Văn An",
        "title": "Chuyên viên Ban Tổ chức",
        "email": "an@dangbo.example.vn",
        "role": "drafter",
        "unit_id": unit_id,
        **extra,
    }


# The user search lower()s Vietnamese text in SQL.
@pytest.mark.both_databases
def test_create_user_with_a_generated_password_shown_once(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    btc = one(services, Unit, code="BTC")
    response = post(admin, "/admin/users/new", new_user_form(btc.id, password=""))
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    password = re.search(r'<code id="generated-password">([^<]+)</code>', html)
    assert password, html
    user = one(services, User, username="phamvan.a")
    assert user.password_hash.startswith("$argon2")
    assert user.has_role(Role.DRAFTER, btc.id)
    # Shown once: the user's page shows neither the password nor the hash.
    profile = page(admin, f"/admin/users/{user.id}")
    assert password.group(1) not in profile and user.password_hash not in profile
    assert "$argon2" not in profile and "$argon2" not in page(admin, "/admin/users")
    fresh = app.test_client()
    assert login(fresh, "phamvan.a", password.group(1)).status_code == 302
    created = audit_entries(services, "user:created")[-1]
    assert created.actor_id == one(services, User, username="admin").id
    assert created.details == {"username": "phamvan.a", "roles": [["drafter", "BTC"]]}
    # Search finds the person by a Vietnamese name, and by unit.
    assert "Phạm Văn An" in page(admin, "/admin/users?q=ph%E1%BA%A1m+v%C4%83n")
    assert "Phạm Văn An" in page(admin, f"/admin/users?unit={btc.id}")
    assert "Phạm Văn An" not in page(admin, "/admin/users?q=kh%C3%B4ng-c%C3%B3")


def test_create_user_with_a_typed_password_and_refusals(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    btc = one(services, Unit, code="BTC")
    short = post(admin, "/admin/users/new", new_user_form(btc.id, password="ngan"))
    assert short.status_code == 422 and "ít nhất 10 ký tự" in flashed(short.get_data(True))
    taken = post(admin, "/admin/users/new", new_user_form(btc.id, username="admin"))
    assert taken.status_code == 409
    bad = post(admin, "/admin/users/new", new_user_form(btc.id, username="Tên Có Dấu"))
    assert bad.status_code == 422
    typed = "Tạm-thời-2026-an"
    response = post(admin, "/admin/users/new", new_user_form(btc.id, password=typed))
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    assert typed not in html and "generated-password" not in html
    assert login(app.test_client(), "phamvan.a", typed).status_code == 302


def test_edit_roles_lock_unlock_and_reset(app: Flask, services: Services, api: Api) -> None:
    admin = signed_in(app, "admin")
    user = one(services, User, username="chuyenvien")
    btg, btc = one(services, Unit, code="BTG"), one(services, Unit, code="BTC")
    path = f"/admin/users/{user.id}"
    edited = post(
        admin,
        path,
        {
            "op": "update",
            "full_name": "Nguyễn Thị Hồng Nhung",
            "title": "Phó trưởng phòng",
            "email": "nhung@dangbo.example.vn",
            "move_from": btg.id,
            "move_to": btc.id,
        },
    )
    assert edited.status_code == 302
    user = one(services, User, username="chuyenvien")
    assert user.title == "Phó trưởng phòng" and user.has_role(Role.DRAFTER, btc.id)
    assert not user.has_role(Role.DRAFTER, btg.id)
    updated = audit_entries(services, "user:updated")[-1].details
    assert updated["changed"] == ["email", "title"] and updated["moved"] == {
        "from": "BTG",
        "to": "BTC",
    }

    assert (
        post(admin, path, {"op": "grant", "role": "approver", "unit_id": btc.id}).status_code == 302
    )
    again = post(admin, path, {"op": "grant", "role": "approver", "unit_id": btc.id})
    assert again.status_code == 409
    user = one(services, User, username="chuyenvien")
    assert user.has_role(Role.APPROVER, btc.id)
    assignment = next(r for r in user.roles if r.role == Role.APPROVER)
    assert post(admin, path, {"op": "revoke", "assignment_id": assignment.id}).status_code == 302
    assert not one(services, User, username="chuyenvien").has_role(Role.APPROVER)

    api.login("chuyenvien")
    assert post(admin, path, {"op": "lock"}).status_code == 302
    assert login(app.test_client(), "chuyenvien").status_code == 401
    assert api.get("chuyenvien", "/tasks").status_code == 401  # the API token is revoked
    assert post(admin, path, {"op": "unlock"}).status_code == 302
    assert login(app.test_client(), "chuyenvien").status_code == 302

    reset = post(admin, path, {"op": "reset", "password": ""})
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    new = re.search(r'<code id="generated-password">([^<]+)</code>', reset.get_data(as_text=True))
    assert new
    assert login(app.test_client(), "chuyenvien").status_code == 401
    assert login(app.test_client(), "chuyenvien", new.group(1)).status_code == 302
    for action in ("user:role_granted", "user:role_revoked", "user:locked", "user:unlocked"):
        assert len(audit_entries(services, action)) == 1, action
    (entry,) = audit_entries(services, "user:password_reset")
    assert entry.details == {"username": "chuyenvien", "generated": True, "tokens_revoked": 0}
    with services.session_factory() as session:
        tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
        assert tokens and all(t.revoked_at is not None for t in tokens)


def test_an_administrator_cannot_lock_themselves_out(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    me = one(services, User, username="admin")
    own = next(r for r in me.roles if r.role == Role.ADMIN)
    path = f"/admin/users/{me.id}"
    assert "Không tự thu hồi được" in page(admin, path)
    refused = post(admin, path, {"op": "revoke", "assignment_id": own.id})
    assert refused.status_code == 409
    assert "không thể tự thu hồi vai trò quản trị" in flashed(refused.get_data(True))
    assert post(admin, path, {"op": "lock"}).status_code == 409
    me = one(services, User, username="admin")
    assert me.active and me.has_role(Role.ADMIN)
    # A second administrator may take the role away, and the first one can then do nothing.
    kiemtra = one(services, User, username="kiemtra")
    org = one(services, Unit, code="DUK")
    kpath = f"/admin/users/{kiemtra.id}"
    assert (
        post(admin, kpath, {"op": "grant", "role": "admin", "unit_id": org.id}).status_code == 302
    )
    other = signed_in(app, "kiemtra")
    assert post(other, path, {"op": "revoke", "assignment_id": own.id}).status_code == 302
    assert page(admin, "/admin/users", 403)


# --- the route editor ----------------------------------------------------------------


def editor_form(locked: str | None, stages: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": header.pop("name", "Văn bản trình Thường trực ký"),
        "kind": "outgoing",
        "description": "",
        "stage_count": len(stages),
        "op": "save",
        **header,
    }
    if locked:
        form["code_locked"] = locked
        form["code"] = locked
    for i, stage in enumerate(stages):
        for key, value in stage.items():
            form[f"stage-{i}-{key}"] = value
    return form


APPROVE = {
    "name": "Lãnh đạo ban duyệt",
    "action": "approve",
    "role": "approver",
    "mode": "any",
    "deadline": "2",
}
CHECK = {
    "name": "Văn phòng kiểm tra thể thức",
    "action": "review",
    "role": "clerk",
    "unit": "VP",
    "mode": "any",
}
SIGN = {"name": "Thường trực ký", "action": "sign", "role": "signer", "unit": "TT", "mode": "any"}
ISSUE = {
    "name": "Văn thư ban hành",
    "action": "issue",
    "role": "clerk",
    "unit": "VP",
    "mode": "any",
}


def test_editor_saves_a_new_version_and_running_documents_keep_theirs(
    app: Flask, services: Services, api: Api, submitted_document: Callable[..., int]
) -> None:
    running = submitted_document()
    assert api.get("kiemtra", f"/documents/{running}").get_json()["route"]["version"] == 1
    admin = signed_in(app, "admin")
    editor = "/admin/routes/edit?code=thuong-truc-ky"
    html = page(admin, editor)
    assert 'value="Lãnh đạo ban duyệt"' in html and 'id="stage-template"' in html
    saved = post(
        admin,
        editor,
        editor_form("thuong-truc-ky", [APPROVE, dict(CHECK, types=["NQ"]), SIGN], is_default="1"),
    )
    assert saved.status_code == 302, flashed(saved.get_data(True))
    assert "phiên bản 2" in page(admin, "/admin/routes")
    listed = {r["code"]: r for r in api.get("chuyenvien", "/routes").get_json()["routes"]}
    route = listed["thuong-truc-ky"]
    assert route["version"] == 2 and route["is_default"]
    assert [s["action"] for s in route["stages"]] == ["approve", "review", "sign"]
    assert route["stages"][1]["when"] == {"doc_types": ["NQ"], "urgencies": None, "units": None}
    assert route["stages"][0]["deadline_days"] == 2
    # The running document keeps version 1 and still moves on it.
    assert api.get("kiemtra", f"/documents/{running}").get_json()["route"]["version"] == 1
    task = api.task_for("truongban", running)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    assert api.get("kiemtra", f"/documents/{running}").get_json()["state"] == "awaiting_signature"
    newer = submitted_document()
    assert api.get("kiemtra", f"/documents/{newer}").get_json()["route"]["version"] == 2
    versions = page(admin, "/admin/routes")
    assert "<td>thuong-truc-ky</td><td>1</td><td>2</td><td>1</td>" in versions
    assert "<td>thuong-truc-ky</td><td>2</td><td>3</td><td>1</td>" in versions
    (entry,) = audit_entries(services, "route:saved")
    assert entry.details == {"code": "thuong-truc-ky", "version": 2, "stages": 3}
    with services.session_factory() as session:
        doc = session.get(Document, running)
        assert doc is not None and doc.route is not None and doc.route.version == 1


def test_editor_buttons_work_without_javascript(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    path = "/admin/routes/edit?code=thuong-truc-ky"
    added = post(admin, path, editor_form("thuong-truc-ky", [APPROVE, SIGN], op="add"))
    assert added.status_code == 200
    assert added.get_data(as_text=True).count(" data-stage ") == 3 + 1  # + the template card
    moved = post(admin, path, editor_form("thuong-truc-ky", [APPROVE, SIGN], op="up-1"))
    html = moved.get_data(as_text=True)
    assert html.index('value="Thường trực ký"') < html.index('value="Lãnh đạo ban duyệt"')
    removed = post(admin, path, editor_form("thuong-truc-ky", [APPROVE, SIGN], op="remove-0"))
    assert 'value="Lãnh đạo ban duyệt"' not in removed.get_data(as_text=True)
    with services.session_factory() as session:
        versions = session.scalars(select(Route).where(Route.code == "thuong-truc-ky")).all()
        assert len(versions) == 1  # nothing saved by the buttons
    new = post(
        admin,
        "/admin/routes/edit",
        editor_form(None, [APPROVE, CHECK, SIGN, ISSUE], code="ban-hanh-moi", name="Ban hành mới"),
    )
    assert new.status_code == 302
    assert one(services, Route, code="ban-hanh-moi").version == 1


def test_editor_reports_every_problem_next_to_its_stage(app: Flask, services: Services) -> None:
    admin = signed_in(app, "admin")
    consult = {"name": "Lấy ý kiến", "action": "consult", "role": "", "user": "", "mode": "all"}
    bad_deadline = dict(APPROVE, deadline="ba ngày")
    wrong_signer = dict(SIGN, role="clerk")
    response = post(
        admin,
        "/admin/routes/edit",
        editor_form(
            None,
            [bad_deadline, consult, ISSUE, wrong_signer],
            code="thu-loi",
            name="Tuyến có lỗi",
        ),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = dict(re.findall(r'id="stage-(\d+)-errors">(.*?)</ul>', html, re.S))
    assert "thời hạn là số ngày làm việc" in errors["0"]
    assert "cần người xử lý" in errors["1"]
    assert "ban hành cần một bước ký số trước đó" in errors["2"]
    assert "phải là bước cuối cùng" in errors["3"] and "vai trò người ký" in errors["3"]
    assert 'role="alert" id="error-summary"' in html and 'href="#stage-2"' in html
    # What was typed is kept.
    assert 'value="ba ngày"' in html
    with services.session_factory() as session:
        assert session.scalars(select(Route).where(Route.code == "thu-loi")).first() is None
    assert not audit_entries(services, "route:saved")
    # A fixed unit where nobody holds the role, and a missing name.
    nobody = dict(CHECK, role="signer", name="")
    response = post(admin, "/admin/routes/edit", editor_form(None, [nobody], code="x", name=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Thiếu tên tuyến trình" in html
    assert "thiếu tên bước" in html
    named = dict(CHECK, role="signer", name="Ký thay")
    html = post(
        admin, "/admin/routes/edit", editor_form(None, [named], code="x", name="x")
    ).get_data(as_text=True)
    assert "chưa có ai giữ vai trò này tại «Văn phòng Đảng ủy Khối»" in html


def test_the_json_route_api_keeps_its_contract(api: Api) -> None:
    # The editor's rules of practice do not apply to the API (issue without sign is allowed).
    route = {
        "code": "api-ban-hanh",
        "name": "API",
        "stages": [
            {"name": "Ban hành", "action": "issue", "assignee_role": "clerk", "assignee_unit": "VP"}
        ],
    }
    created = api.post("admin", "/routes", json=route)
    assert created.status_code == 201 and created.get_json()["version"] == 1
    assert api.post("chuyenvien", "/routes", json=route).status_code == 403


# --- settings ------------------------------------------------------------------------


@pytest.fixture
def app_with_mail(instance: Path, database_url: str) -> Any:
    application = create_app(
        app_config(
            instance,
            DATABASE_URL=database_url,
            MAIL_SERVER="smtp.dangbo.example.vn",
            MAIL_USERNAME="trinhky",
            MAIL_PASSWORD="mat-khau-smtp-bi-mat",  # noqa: S106 - a test value
            SIGNATURE_LEVEL="B-LT",
            SIGNATURE_POLICY={"NQ": "B-LTA"},
        )
    )
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


# The page names the database in use.
@pytest.mark.both_databases
def test_settings_are_shown_with_secrets_masked(app_with_mail: Flask, database_url: str) -> None:
    admin = signed_in(app_with_mail, "admin")
    html = page(admin, "/admin/settings")
    assert "smtp.dangbo.example.vn" in html and "mat-khau-smtp-bi-mat" not in html
    assert "(đã đặt, ẩn)" in html
    assert ("PostgreSQL" if database_url.startswith("postgres") else "SQLite") in html
    if "@" in database_url and ":" in database_url.split("@")[0].split("//")[1]:
        password = database_url.split("@")[0].rsplit(":", 1)[1]
        assert password not in html
    assert "<code>NQ</code> → B-LTA" in html
    assert re.search(r"<td>NQ · Nghị quyết</td><td>B-LTA</td>", html)
    assert re.search(r"<td>CV · Công văn</td><td>B-LT</td>", html)
    assert "/pki/ocsp" not in html  # no public address configured: in process only
    assert "28800" in html  # token_ttl_seconds is not a secret
    assert DEMO_PASSWORD not in html and "secret_key" not in html.lower()


def test_every_administration_audit_action_has_a_label() -> None:
    from tests.conftest import REPO
    from workflow.admin.blueprint import AUDIT_LABELS

    written: set[str] = set()
    for path in (REPO / "workflow" / "admin").glob("*.py"):
        written |= set(re.findall(r'"((?:admin|unit|user):[a-z_]+)"', path.read_text("utf-8")))
    assert written and written - {"user:created"} == set(AUDIT_LABELS)
