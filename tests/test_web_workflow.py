"""Issue 3 in the web pages: return, revision, resubmit, issue, classified, routes."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import DEMO_PASSWORD, closed
from tests.pdfs import simple_pdf
from tests.test_web import csrf_token, login


def page(client: FlaskClient, path: str) -> str:
    return closed(client.get(path)).get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any], origin: str = "/") -> Any:
    data = {"csrf_token": csrf_token(client, origin), **data}
    return closed(client.post(path, data=data, content_type="multipart/form-data"))


def task_id(html: str, verb: str) -> str:
    match = re.search(rf"/tasks/(\d+)/{verb}", html)
    assert match, html
    return match.group(1)


def test_full_route_in_the_pages(app: Any) -> None:
    drafter, head, clerk, signer = (app.test_client() for _ in range(4))
    for client, user in (
        (drafter, "chuyenvien"),
        (head, "truongban"),
        (clerk, "vanthu"),
        (signer, "bithu"),
    ):
        assert login(client, user).status_code == 302
    new_page = page(drafter, "/documents/new")
    assert "thuong-truc-ban-hanh" in new_page and "Hỏa tốc" in new_page
    created = post(
        drafter,
        "/documents/new",
        {
            "subject": "Kế hoạch tổ chức Hội nghị chuyển đổi số",
            "doc_type": "KH",
            "route": "thuong-truc-ban-hanh",
            "urgency": "khan",
            "submit_now": "1",
            "file": (BytesIO(simple_pdf()), "ke-hoach.pdf"),
        },
        "/documents/new",
    )
    doc_path = created.headers["Location"]
    doc_id = doc_path.rsplit("/", 1)[1]

    html = page(head, doc_path)
    assert "Khẩn" in html and "Trả lại, từ chối hoặc ủy quyền" in html
    returned = post(
        head,
        f"/tasks/{task_id(html, 'return')}/return",
        {"comment": "Bổ sung kinh phí", "to_stage": "1"},
        doc_path,
    )
    assert returned.status_code == 302
    html = page(drafter, doc_path)
    assert (
        "Trả lại để chỉnh sửa" in html
        and "Bổ sung kinh phí" in html
        and "Chỉnh sửa và trình lại" in html
    )
    home = page(drafter, "/")
    assert "Chỉnh sửa và trình lại</strong>" in home and f'href="{doc_path}"' in home
    assert (
        post(
            drafter,
            f"/documents/{doc_id}/revisions",
            {"file": (BytesIO(simple_pdf("v2")), "ke-hoach-v2.pdf")},
            doc_path,
        ).status_code
        == 302
    )
    assert post(drafter, f"/documents/{doc_id}/submit", {}, doc_path).status_code == 302

    html = page(head, doc_path)
    assert (
        post(
            head, f"/tasks/{task_id(html, 'approve')}/approve", {"comment": "Đồng ý"}, doc_path
        ).status_code
        == 302
    )
    html = page(clerk, doc_path)
    assert "Đồng ý thể thức" in html
    assert (
        post(clerk, f"/tasks/{task_id(html, 'approve')}/approve", {}, doc_path).status_code == 302
    )
    html = page(signer, doc_path)
    assert (
        post(
            signer, f"/tasks/{task_id(html, 'sign')}/sign", {"passphrase": DEMO_PASSWORD}, doc_path
        ).status_code
        == 302
    )
    html = page(clerk, doc_path)
    assert "Ban hành" in html and "Số dự kiến: 01-KH/ĐUK" in html  # previewed, not taken
    assert "Số dự kiến: 01-KH/ĐUK" in page(clerk, doc_path)
    issued = post(clerk, f"/tasks/{task_id(html, 'issue')}/issue", {}, doc_path)
    assert issued.status_code == 302
    html = page(drafter, doc_path)
    assert "Số, ký hiệu: 01-KH/ĐUK" in html and "Tất cả chữ ký hợp lệ" in html

    assert (
        post(
            drafter, f"/documents/{doc_id}/comments", {"body": "Cảm ơn các đồng chí"}, doc_path
        ).status_code
        == 302
    )
    assert "Cảm ơn các đồng chí" in page(head, doc_path)
    refused = post(drafter, f"/documents/{doc_id}/recall", {"reason": "x"}, doc_path)
    assert refused.status_code == 403 and "Chỉ văn thư" in refused.get_data(as_text=True)


def test_refused_actions_explain_in_vietnamese(app: Any) -> None:
    drafter, head = app.test_client(), app.test_client()
    login(drafter, "chuyenvien")
    login(head, "truongban")
    doc_path = post(
        drafter,
        "/documents/new",
        {
            "subject": "Công văn",
            "doc_type": "CV",
            "submit_now": "1",
            "file": (BytesIO(simple_pdf()), "cv.pdf"),
        },
        "/documents/new",
    ).headers["Location"]
    html = page(head, doc_path)
    response = post(head, f"/tasks/{task_id(html, 'reject')}/reject", {"comment": ""}, doc_path)
    assert response.status_code == 422 and "hãy ghi rõ lý do" in response.get_data(as_text=True)


def test_classified_registration_page(app: Any) -> None:
    clerk = app.test_client()
    login(clerk, "vanthu")
    assert "Văn bản mật" in page(clerk, "/")
    refused = post(
        clerk,
        "/documents/classified/new",
        {
            "classification": "mat",
            "doc_type": "CV",
            "subject": "Mật",
            "file": (BytesIO(simple_pdf()), "mat.pdf"),
        },
        "/documents/classified/new",
    )
    assert refused.status_code == 422 and "không được tải nội dung" in refused.get_data(
        as_text=True
    )
    done = post(
        clerk,
        "/documents/classified/new",
        {"classification": "toi_mat", "doc_type": "BC", "subject": "Báo cáo"},
        "/documents/classified/new",
    )
    assert done.status_code == 302
    html = page(clerk, done.headers["Location"])
    assert "01-BC/ĐUK" in html and "Tối mật" in html and "xử lý ngoài mạng" in html


def test_route_editor_for_admins(app: Any) -> None:
    admin, drafter = app.test_client(), app.test_client()
    login(admin, "admin")
    login(drafter, "chuyenvien")
    assert "Lưu tuyến trình" not in page(drafter, "/routes")
    html = page(admin, "/routes?edit=thuong-truc-ky")
    assert "Phiên bản mới của thuong-truc-ky" in html
    saved = post(
        admin,
        "/routes",
        {
            "code": "thuong-truc-ky",
            "name": "Văn bản trình Thường trực ký",
            "kind": "outgoing",
            "is_default": "1",
            "stage-0-name": "Lãnh đạo ban duyệt",
            "stage-0-action": "approve",
            "stage-0-role": "approver",
            "stage-0-mode": "any",
            "stage-0-deadline": "3",
            "stage-1-name": "Thường trực ký",
            "stage-1-action": "sign",
            "stage-1-role": "signer",
            "stage-1-unit": "TT",
            "stage-1-mode": "any",
        },
        "/routes",
    )
    assert saved.status_code == 302
    assert "phiên bản 2" in page(admin, "/routes") or ">2<" in page(admin, "/routes")
    bad = post(
        admin,
        "/routes",
        {
            "code": "x y",
            "name": "x",
            "stage-0-name": "a",
            "stage-0-action": "approve",
            "stage-0-role": "approver",
        },
        "/routes",
    )
    assert bad.status_code == 422
