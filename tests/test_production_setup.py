"""A real installation without demo data, as the README's "Running it for real" goes:
initialise, set the first administrator's password through the one-time link, import
an organisation of 20 units and 60 users from an XLSX workbook, and carry one document
from upload to an issued, dispatched and received PDF with the imported people."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from storage.account_models import PasswordSetupToken
from storage.models import AuditEvent, Certificate, Route, Unit, User
from tests.conftest import DEMO_PASSWORD, REPO, Api, app_config, closed
from tests.orgfile import UNIT_HEADER, USER_HEADER, csv_file, organisation, workbook
from tests.pdfs import simple_pdf
from tests.test_dispatch_registers import Inbox
from tests.test_dispatch_registers import smtp as smtp  # the SMTP fixture
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services
from workflow.setup import system
from workflow.setup.bootstrap import migrate

PASSWORD = "Mật-khẩu-thật-2026"
PASSPHRASE = "Khóa-ký-của-Bí-thư-2026"


def set_password(client: FlaskClient, url: str, password: str = PASSWORD) -> Any:
    """Follow a one-time link and choose a password, as a person would."""
    path = "/account/setup/" + url.rsplit("/account/setup/", 1)[1]
    page = closed(client.get(path))
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, page.get_data(as_text=True)
    return closed(
        client.post(path, data={"csrf_token": token[1], "password": password, "confirm": password})
    )


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Flask]:
    """An empty instance folder, TRINHKY_DEMO=false: nothing initialised yet."""
    app = create_app(app_config(tmp_path / "instance", DEMO=False))
    yield app
    app.extensions[EXTENSION_KEY].engine.dispose()


def test_from_a_fresh_instance_to_a_received_document(fresh: Flask, tmp_path: Path) -> None:
    cli = fresh.test_cli_runner()
    services: Services = fresh.extensions[EXTENSION_KEY]

    # 1. flask --app wsgi init: schema, PKI, system routes, the first administrator.
    done = cli.invoke(args=["init", "--port", "8123"])
    assert done.exit_code == 0, done.output
    (admin_link,) = re.findall(r"http://localhost:8123/account/setup/\S+", done.output)
    with services.session_factory() as session:
        routes = {r.code for r in session.scalars(select(Route))}
        assert routes == {
            "thuong-truc-ky",
            "thuong-truc-ban-hanh",
            "bao-cao-dinh-ky",
            "van-ban-den",
        }
        (admin,) = session.scalars(select(User)).all()
        assert admin.username == "admin" and admin.has_role("admin")
        stored = session.scalars(select(PasswordSetupToken)).one()
        assert stored.token_hash != admin_link.rsplit("/", 1)[1] and len(stored.token_hash) == 64
    again = cli.invoke(args=["init"])  # a second run creates nothing and prints no link
    assert again.exit_code == 0 and "/account/setup/" not in again.output
    second = cli.invoke(
        args=[
            "create-admin",
            "--username",
            "quantri",
            "--full-name",
            "Đỗ Văn Quản",
            "--email",
            "qt@example.vn",
        ]
    )
    assert second.exit_code == 0 and re.search(
        r"http://127.0.0.1:8000/account/setup/\S+", second.output
    )
    taken = cli.invoke(args=["create-admin", "--username", "quantri"])
    assert taken.exit_code == 1 and "đã có người dùng" in taken.output

    # 2. The administrator sets the password with the link, once.
    web = fresh.test_client()
    assert set_password(web, admin_link).status_code == 302
    assert closed(web.get(admin_link.split("8123", 1)[1])).status_code == 404  # spent
    api = Api(fresh)
    api.login("admin", PASSWORD)

    # 3. The organisation from an XLSX: a dry run first (a faulty file is refused whole).
    units, users = organisation()
    good = tmp_path / "to-chuc.xlsx"
    good.write_bytes(workbook(units, users))
    bad_users = [row[:] for row in users]
    bad_users[4][5] = "Thủ quỹ"  # no such role
    bad_users[7][4] = "KHONG-CO"  # no such unit
    bad = tmp_path / "to-chuc-loi.xlsx"
    bad.write_bytes(workbook([*units, ["BTC", "Trùng mã", "", "Ban", "DUK", ""]], bad_users))
    refused = cli.invoke(args=["import-organisation", str(bad)])
    assert refused.exit_code == 1
    assert "Bảng «Đơn vị», dòng 22, cột «Mã đơn vị»: Mã «BTC» trùng với dòng 5." in refused.output
    assert (
        "Bảng «Người dùng», dòng 6, cột «Vai trò»: Vai trò «Thủ quỹ» không hợp lệ" in refused.output
    )
    assert (
        "Bảng «Người dùng», dòng 9, cột «Mã đơn vị»: Không có đơn vị mã «KHONG-CO»"
        in refused.output
    )
    checked = cli.invoke(args=["import-organisation", str(good), "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert "units: 19 new, 1 existing; users: 60 new, 0 existing" in checked.output
    with services.session_factory() as session:
        assert len(session.scalars(select(Unit)).all()) == 1  # nothing written by either

    links_file = tmp_path / "links.csv"
    imported = cli.invoke(
        args=[
            "import-organisation",
            str(good),
            "--links-csv",
            str(links_file),
            "--base-url",
            "https://trinhky.example.vn",
        ]
    )
    assert imported.exit_code == 0, imported.output
    # The system routes now name the imported Standing Committee and office (new versions).
    assert "created route:thuong-truc-ky v2" in imported.output
    assert "created route:thuong-truc-ban-hanh v2" in imported.output
    assert links_file.stat().st_mode & 0o077 == 0
    with links_file.open(encoding="utf-8") as f:
        links = {row["ten_dang_nhap"]: row["duong_dan"] for row in csv.DictReader(f)}
    assert len(links) == 60 and all(
        u.startswith("https://trinhky.example.vn/account/setup/") for u in links.values()
    )
    with services.session_factory() as session:
        assert len(session.scalars(select(Unit)).all()) == 20
        assert len(session.scalars(select(User)).all()) == 62
        bithu_cs = session.scalars(select(User).where(User.username == "bithu.cs03")).one()
        assert sorted(r.role for r in bithu_cs.roles) == ["approver", "signer"]
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert (
        actions.count("organisation:imported") == 1
        and actions.count("organisation:import_checked") == 2
    )
    assert actions.count("user:created") == 62 and actions.count("user:setup_link_issued") == 62
    # The same file again: nothing new.
    twice = cli.invoke(args=["import-organisation", str(good)])
    assert "units: 0 new, 20 existing; users: 0 new, 60 existing; roles: 0 to grant" in twice.output

    # 4. The people of the journey set their passwords; the signer gets a certificate.
    cast = ("chuyenvien.btg", "truongban.btg", "vanthu", "bithu", "vanthu.cs05")
    for username in cast:
        assert set_password(fresh.test_client(), links[username]).status_code == 302
        api.login(username, PASSWORD)
    issued_cert = api.post(
        "bithu", "/users/bithu/certificates/personal", json={"passphrase": PASSPHRASE}
    )
    assert issued_cert.status_code == 201, issued_cert.get_json()

    # 5. Upload → approve → format check → sign → issue → dispatch → receive.
    created = api.post(
        "chuyenvien.btg",
        "/documents",
        data={
            "file": (BytesIO(simple_pdf()), "nghi-quyet.pdf"),
            "subject": "Nghị quyết về chuyển đổi số trong các cơ quan Đảng năm 2027",
            "doc_type": "NQ",
            "route": "thuong-truc-ban-hanh",
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    doc_id = created.get_json()["id"]
    assert api.post("chuyenvien.btg", f"/documents/{doc_id}/submit").status_code == 200
    for user, verb, body in (
        ("truongban.btg", "approve", {}),
        ("vanthu", "approve", {}),
        ("bithu", "sign", {"passphrase": PASSPHRASE}),
        ("vanthu", "issue", {}),
    ):
        task = api.task_for(user, doc_id)
        answer = api.post(user, f"/tasks/{task['id']}/{verb}", json=body)
        assert answer.status_code in (200, 201), (user, verb, answer.get_json())
    document = api.get("vanthu", f"/documents/{doc_id}").get_json()
    assert document["state"] == "issued" and document["symbol"] == "01-NQ/ĐUK"
    with services.session_factory() as session:
        cs05 = session.scalars(select(Unit).where(Unit.code == "CS-05")).one().id
    sent = api.post("vanthu", f"/documents/{doc_id}/dispatch", json={"recipients": [cs05]})
    assert sent.status_code == 201, sent.get_json()
    (entry,) = api.get("vanthu.cs05", "/incoming?state=pending").get_json()["incoming"]
    received = api.post("vanthu.cs05", f"/incoming/{entry['id']}/receive")
    assert received.status_code == 200, received.get_json()
    assert received.get_json()["validation"]["verdict"] == "valid"
    pdf = api.get("vanthu.cs05", f"/incoming/{entry['id']}/file")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    signatures = PdfFileReader(BytesIO(pdf.data)).embedded_signatures
    assert len(signatures) == 2  # the Bí thư's, then the committee's seal
    assert cli.invoke(args=["verify-audit"]).exit_code == 0


def test_the_commands_run_as_the_readme_writes_them(tmp_path: Path) -> None:
    """The README names the commands these tests run; the sample files of docs/ pass a
    dry run."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in (
        ".venv/bin/flask --app wsgi init",
        "flask --app wsgi create-admin --username",
        "flask --app wsgi setup-link USERNAME",
        "flask --app wsgi import-organisation to-chuc.xlsx --dry-run",
        "flask --app wsgi import-organisation to-chuc.xlsx --links-csv",
        "POST /api/v1/users/{username}/certificates/personal",
        "flask --app wsgi backup DEST",
        "flask --app wsgi restore /path/to/backup",
        "restore --verify-only SRC",
    ):
        assert command in readme, command
    instance = tmp_path / "instance"
    # The schema alone (what init migrates), so that the dry run has a database to read.
    app = create_app(app_config(instance, DEMO=False))
    migrate(app.extensions[EXTENSION_KEY].engine)
    for files in (["mau-nhap-to-chuc.xlsx"], ["mau-don-vi.csv", "mau-nguoi-dung.csv"]):
        paths = [str(REPO / "docs" / name) for name in files]
        checked = app.test_cli_runner().invoke(args=["import-organisation", "--dry-run", *paths])
        assert checked.exit_code == 0, checked.output
        assert "units: 7 new, 0 existing; users: 8 new, 0 existing" in checked.output
    app.extensions[EXTENSION_KEY].engine.dispose()


# --- the one-time links ---------------------------------------------------------------


def link_for(app: Flask, username: str) -> str:
    result = app.test_cli_runner().invoke(args=["setup-link", username, "--base-url", "http://x"])
    assert result.exit_code == 0, result.output
    (url,) = re.findall(r"http://x(/account/setup/\S+)", result.output)
    return url


def test_setup_links_are_single_use_expire_and_never_logged(app: Flask, clock: Any) -> None:
    first = link_for(app, "kiemtra")
    second = link_for(app, "kiemtra")
    client = app.test_client()
    assert closed(client.get(first)).status_code == 404  # replaced by the second
    page = closed(client.get(second))
    assert page.status_code == 200 and "Võ Minh Tuấn" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]  # type: ignore[index]
    short = closed(
        client.post(second, data={"csrf_token": token, "password": "ngan", "confirm": "ngan"})
    )
    assert short.status_code == 422 and "ít nhất 10 ký tự" in short.get_data(as_text=True)
    differ = closed(
        client.post(
            second, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD + "x"}
        )
    )
    assert differ.status_code == 422 and "không khớp" in differ.get_data(as_text=True)
    no_csrf = closed(client.post(second, data={"password": PASSWORD, "confirm": PASSWORD}))
    assert no_csrf.status_code == 400
    assert set_password(client, "http://x" + second).status_code == 302
    assert closed(client.get(second)).status_code == 404
    Api(app).login("kiemtra", PASSWORD)

    late = link_for(app, "vanthu")
    clock.shift(timedelta(hours=73))
    assert closed(app.test_client().get(late)).status_code == 404
    services: Services = app.extensions[EXTENSION_KEY]
    with services.session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    dump = repr([(e.action, e.details) for e in events])
    assert "user:password_set" in dump and "user:setup_link_issued" in dump
    for secret in (first, second, late, PASSWORD):
        assert secret.rsplit("/", 1)[-1] not in dump


# --- the administration page ------------------------------------------------------------


def web_login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = closed(client.get("/login")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]  # type: ignore[index]
    data = {"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    assert closed(client.post("/login", data=data)).status_code == 302
    return client


def admin_client(app: Flask) -> tuple[FlaskClient, str]:
    client = web_login(app, "admin")
    page = closed(client.get("/admin/organisation/import"))
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]  # type: ignore[index]
    return client, token


def test_import_page_checks_then_imports(app: Flask, api: Api) -> None:
    client, token = admin_client(app)
    units = [
        ["BDV", "Ban Dân vận Đảng ủy Khối", "", "Ban", "DUK", ""],
        ["DU-SYT", "Đảng ủy Sở Y tế", "ĐU", "Đảng ủy", "DUK", ""],
        ["X", "", "", "Phòng", "NHIEU", "a@"],
    ]
    users = [
        ["chuyenvien.bdv", "Bùi Thị Lan", "Chuyên viên", "lan@example.vn", "BDV", "Chuyên viên"],
        [
            "truongban",
            "Trần Văn Phương",
            "",
            "",
            "BDV",
            "Lãnh đạo duyệt",
        ],  # existing user: a new role
    ]

    def post(files: list[tuple[bytes, str]], mode: str, csrf: str | None = token) -> Any:
        data: dict[str, Any] = {"mode": mode, "files": [(BytesIO(b), n) for b, n in files]}
        if csrf:
            data["csrf_token"] = csrf
        return closed(
            client.post("/admin/organisation/import", data=data, content_type="multipart/form-data")
        )

    faulty = post(
        [
            (csv_file(UNIT_HEADER, units), "don-vi.csv"),
            (csv_file(USER_HEADER, users), "nguoi-dung.csv"),
        ],
        "import",
    )
    assert faulty.status_code == 422
    html = faulty.get_data(as_text=True)
    for expected in (
        "Thiếu tên đơn vị.",
        "Loại «Phòng» không hợp lệ",
        "«a@» không phải địa chỉ thư điện tử",
        "Không có đơn vị mã «NHIEU» trong tệp hay trong hệ thống.",
    ):
        assert expected in html
    assert post([(b"not a workbook", "to-chuc.xlsx")], "check").status_code == 422
    assert post([(workbook(units[:1], users), "x.xlsx")], "import", csrf=None).status_code == 400
    checked = post([(workbook(units[:2], users), "to-chuc.xlsx")], "check")
    assert checked.status_code == 200 and "Tệp hợp lệ" in checked.get_data(as_text=True)
    done = post([(workbook(units[:2], users), "to-chuc.xlsx")], "import")
    assert done.status_code == 201 and done.headers["Cache-Control"] == "no-store"
    html = done.get_data(as_text=True)
    assert "chuyenvien.bdv" in html and html.count("/account/setup/") == 1
    services: Services = app.extensions[EXTENSION_KEY]
    with services.session_factory() as session:
        person = session.scalars(select(User).where(User.username == "truongban")).one()
        assert sorted((r.role, r.unit.code) for r in person.roles) == [
            ("approver", "BDV"),
            ("approver", "BTG"),
        ]
        imported = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "organisation:imported")
            .order_by(AuditEvent.seq)
        ).one()
        assert imported.actor_id is not None and imported.details["units_created"] == 2
        # The new committee got its seal certificate (initialisation's system-data step).
        seal = session.scalars(
            select(Certificate).where(
                Certificate.purpose == "seal", Certificate.subject.contains("Sở Y tế")
            )
        ).one()
        assert seal.status == "active"
    # Anyone else: 403 (audited by the administration blueprint).
    clerk = web_login(app, "vanthu")
    assert closed(clerk.get("/admin/organisation/import")).status_code == 403
    template = closed(client.get("/admin/organisation/template.xlsx"))
    assert template.status_code == 200 and template.data.startswith(b"PK")


def test_system_routes_follow_the_imported_standing_committee_and_office(tmp_path: Path) -> None:
    app = create_app(app_config(tmp_path / "instance", DEMO=False))
    services: Services = app.extensions[EXTENSION_KEY]
    migrate(services.engine)
    try:
        with services.session_factory() as session:
            first = system.ensure_system_routes(session)  # no unit yet: TT and VP
            assert [r.code for r in first] == list(system.SYSTEM_ROUTES)
            root = Unit(code="DUKCQ", name="Đảng ủy Khối", symbol="ĐUK", kind="committee")
            session.add(root)
            session.add(
                Unit(code="TTDU", name="Thường trực", symbol="ĐUK", kind="standing", parent=root)
            )
            session.add(
                Unit(code="VPDU", name="Văn phòng", symbol="ĐUK", kind="office", parent=root)
            )
            session.flush()
            again = system.ensure_system_routes(session)
            assert {(r.code, r.version) for r in again} == {
                ("thuong-truc-ky", 2),
                ("thuong-truc-ban-hanh", 2),
            }
            full = next(r for r in again if r.code == "thuong-truc-ban-hanh")
            assert [s.assignee_unit_code for s in full.stages] == [None, "VPDU", "TTDU", "VPDU"]
            default = next(r for r in again if r.code == "thuong-truc-ky")
            assert default.is_default and default.active
            assert system.ensure_system_routes(session) == []  # settled
            saved = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "route:saved")
                .order_by(AuditEvent.seq)
            ).all()
            assert {e.details["code"] for e in saved} == {"thuong-truc-ky", "thuong-truc-ban-hanh"}
    finally:
        services.engine.dispose()


def test_import_can_email_the_links(
    instance: Path, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    app = create_app(app_config(instance, MAIL_SERVER="127.0.0.1", MAIL_PORT=port))
    try:
        users = [
            ["chuyenvien.x", "Bùi Thị Lan", "", "lan@example.vn", "BTG", "Chuyên viên"],
            ["chuyenvien.y", "Lý Văn Nam", "", "", "BTG", "Chuyên viên"],
        ]
        people = tmp_path / "nguoi-dung.csv"
        people.write_bytes(csv_file(USER_HEADER, users))
        done = app.test_cli_runner().invoke(
            args=["import-organisation", str(people), "--email-links"]
        )
        assert done.exit_code == 0, done.output
        assert (
            "e-mailed 1 link(s); refused by the mail server: none; no address: chuyenvien.y"
            in done.output
        )
        (message,) = inbox.messages
        assert message["To"] == "lan@example.vn"
        body = message.get_payload(decode=True).decode()
        (url,) = re.findall(r"http://127.0.0.1:8000(/account/setup/\S+)", body)
        assert url in done.output and "Bùi Thị Lan" in body
        assert set_password(app.test_client(), "http://127.0.0.1:8000" + url).status_code == 302
    finally:
        app.extensions[EXTENSION_KEY].engine.dispose()
