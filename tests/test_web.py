"""The web pages: login, CSRF, upload, approve, sign, download, errors in Vietnamese."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from typing import Any

from flask.testing import FlaskClient

from storage.models import Document, Signature
from tests.conftest import DEMO_PASSWORD, closed
from tests.pdfs import encrypted_pdf, simple_pdf


def csrf_token(client: FlaskClient, path: str) -> str:
    html = closed(client.get(path)).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, html
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> Any:
    token = csrf_token(client, "/login")
    return closed(
        client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
    )


def upload(client: FlaskClient, data: bytes, submit_now: bool = True) -> Any:
    token = csrf_token(client, "/documents/new")
    form: dict[str, Any] = {
        "csrf_token": token,
        "subject": "Về việc tổ chức Hội nghị quán triệt Nghị quyết",
        "doc_type": "CV",
        "file": (BytesIO(data), "hoi-nghi.pdf"),
    }
    if submit_now:
        form["submit_now"] = "1"
    return closed(client.post("/documents/new", data=form, content_type="multipart/form-data"))


def test_pages_need_login(client: FlaskClient) -> None:
    response = closed(client.get("/"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = closed(client.get("/login")).get_data(as_text=True)
    assert 'lang="vi"' in page and "Đăng nhập" in page


def test_login_rejects_bad_password_in_vietnamese(client: FlaskClient) -> None:
    response = login(client, "chuyenvien", "sai-mat-khau")
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.get_data(as_text=True)


def test_forms_need_the_csrf_token(client: FlaskClient) -> None:
    response = closed(client.post("/login", data={"username": "chuyenvien", "password": "x"}))
    assert response.status_code == 400
    assert "Hãy tải lại trang" in response.get_data(as_text=True)


def test_session_cookie_is_hardened(client: FlaskClient) -> None:
    response = login(client, "chuyenvien")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["X-Frame-Options"] == "DENY"


def test_open_redirect_is_ignored(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    response = closed(
        client.post(
            "/login?next=https://evil.example/",
            data={"username": "chuyenvien", "password": DEMO_PASSWORD, "csrf_token": token},
        )
    )
    assert response.headers["Location"] == "/"


def test_whole_journey_in_the_browser_pages(app: Any, count_rows: Callable[[Any], int]) -> None:
    drafter, head, signer = app.test_client(), app.test_client(), app.test_client()
    login(drafter, "chuyenvien")
    created = upload(drafter, simple_pdf())
    assert created.status_code == 302
    doc_path = created.headers["Location"]
    doc_id = int(doc_path.rsplit("/", 1)[1])
    page = closed(drafter.get(doc_path)).get_data(as_text=True)
    assert "Đang xin ý kiến duyệt" in page and "Lãnh đạo ban duyệt" in page

    login(head, "truongban")
    inbox = closed(head.get("/")).get_data(as_text=True)
    assert "Về việc tổ chức Hội nghị" in inbox
    token = csrf_token(head, doc_path)
    task_id = re.search(r"/tasks/(\d+)/approve", closed(head.get(doc_path)).get_data(as_text=True))
    assert task_id
    approved = closed(
        head.post(
            f"/tasks/{task_id.group(1)}/approve", data={"csrf_token": token, "comment": "Đồng ý"}
        )
    )
    assert approved.status_code == 302

    login(signer, "bithu")
    page = closed(signer.get(doc_path)).get_data(as_text=True)
    sign_task = re.search(r"/tasks/(\d+)/sign", page)
    assert sign_task
    token = csrf_token(signer, doc_path)
    wrong = closed(
        signer.post(
            f"/tasks/{sign_task.group(1)}/sign", data={"csrf_token": token, "passphrase": "x"}
        )
    )
    assert wrong.status_code == 403
    assert "Mật khẩu khóa ký số không đúng" in wrong.get_data(as_text=True)
    assert count_rows(Signature) == 0
    signed = closed(
        signer.post(
            f"/tasks/{sign_task.group(1)}/sign",
            data={"csrf_token": token, "passphrase": DEMO_PASSWORD},
        )
    )
    assert signed.status_code == 302
    page = closed(signer.get(doc_path)).get_data(as_text=True)
    assert "Đã ký số" in page and "Tất cả chữ ký hợp lệ" in page and "Lê Văn Đức" in page
    assert "+07:00" in page  # machine-readable times in Vietnam time

    download = closed(drafter.get(f"/documents/{doc_id}/file"))
    assert download.status_code == 200
    assert download.data.startswith(b"%PDF-")
    assert "hoi-nghi-signed.pdf" in download.headers["Content-Disposition"]
    assert count_rows(Document) == 1 and count_rows(Signature) == 1


def test_upload_errors_are_shown_on_the_form(
    client: FlaskClient, count_rows: Callable[[Any], int]
) -> None:
    login(client, "chuyenvien")
    response = upload(client, encrypted_pdf())
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Tệp PDF được mã hóa" in page and "<form" in page
    response = upload(client, b"not a pdf")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "không phải PDF" in page
    assert "Lưu thành (Save As)" in page  # what to do, next to the file field
    assert count_rows(Document) == 0


def test_other_units_cannot_open_a_document(app: Any) -> None:
    drafter, clerk = app.test_client(), app.test_client()
    login(drafter, "chuyenvien")
    doc_path = upload(drafter, simple_pdf()).headers["Location"]
    login(clerk, "vanthu")
    response = closed(clerk.get(doc_path))
    assert response.status_code == 404
    assert "không có quyền" in response.get_data(as_text=True)
    assert closed(clerk.get(doc_path + "/file")).status_code == 404


def test_logout_is_a_post(client: FlaskClient) -> None:
    login(client, "chuyenvien")
    assert closed(client.get("/logout")).status_code == 405
    token = csrf_token(client, "/")
    assert closed(client.post("/logout", data={"csrf_token": token})).status_code == 302
    assert closed(client.get("/")).status_code == 302
