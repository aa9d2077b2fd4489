"""Browser journeys over a real server: upload → approve → sign, an approver's phone inbox,
the language switch; screenshots on desktop and phone go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import Shots, login, submitted_by_api
from tests.conftest import DEMO_PASSWORD
from tests.pdfs import simple_pdf
from tests.servers import Served

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_upload_approve_sign(
    viewport: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    subject = f"Về việc tổ chức Hội nghị quán triệt Nghị quyết ({viewport})"
    drafter = new_page(viewport)
    login(drafter, "chuyenvien")
    shots(drafter, "drafter-inbox", viewport)
    drafter.goto("/documents/new")
    drafter.set_input_files(
        "#file",
        files=[{"name": "hoi-nghi.pdf", "mimeType": "application/pdf", "buffer": simple_pdf()}],
    )
    drafter.fill("#subject", subject)
    drafter.select_option("#doc_type", "CV")
    default_route = drafter.eval_on_selector("#route", "s => s.value")
    drafter.select_option("#route", default_route)
    assert drafter.is_checked("input[name=submit_now]")
    shots(drafter, "upload-form", viewport)
    drafter.click("form[enctype='multipart/form-data'] button.primary")
    drafter.wait_for_url(re.compile(r"/documents/\d+$"))
    doc_path = "/documents/" + drafter.url.rsplit("/", 1)[1]
    assert "Đang xin ý kiến duyệt" in drafter.inner_text("main")
    shots(drafter, "submitted", viewport)

    head = new_page(viewport)
    login(head, "truongban")
    head.get_by_role("link", name=re.compile(re.escape(subject))).first.click()
    head.wait_for_url(f"**{doc_path}")
    shots(head, "head-task", viewport)
    head.fill("textarea[id^=comment-]", "Đồng ý trình Thường trực ký.")
    head.click("form[action*='/approve'] button.primary")
    head.wait_for_load_state()
    assert "Đã duyệt" in head.content() or "duyệt" in head.inner_text("main")

    signer = new_page(viewport)
    login(signer, "bithu")
    signer.goto(doc_path)
    action = signer.get_attribute("form[action*='/sign']", "action")
    assert action, signer.content()
    task_id = re.search(r"/tasks/(\d+)/sign", action)
    assert task_id
    shots(signer, "signer-task", viewport)
    signer.fill(f"#passphrase-{task_id.group(1)}", DEMO_PASSWORD)
    signer.click("form[action*='/sign'] button.primary")
    signer.wait_for_load_state()
    signer.goto(doc_path)
    main = signer.inner_text("main")
    assert "Tất cả chữ ký hợp lệ" in main, main
    assert "Đã ký số" in main
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", main)  # dd/mm/yyyy, Vietnam time
    shots(signer, "signed", viewport)


def test_approver_clears_five_tasks_on_a_phone(
    new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    subjects = [f"Báo cáo tuần số {n} gửi lãnh đạo ban" for n in range(1, 6)]
    for subject in subjects:
        submitted_by_api(server.base, subject)
    phone = new_page("phone", has_touch=True, is_mobile=True)
    login(phone, "truongban")
    inbox = phone.inner_text("ul.tasks")
    assert all(s in inbox for s in subjects), inbox
    shots(phone, "inbox-full", "phone")
    before = int(phone.inner_text("h2 .count"))
    for n, subject in enumerate(subjects, 1):
        phone.goto("/")
        phone.locator("ul.tasks a", has_text=subject).tap()
        phone.wait_for_url(re.compile(r"/documents/\d+$"))
        approve = phone.locator("form[action*='/approve'] button.primary")
        approve.scroll_into_view_if_needed()
        box = approve.bounding_box()
        assert box and box["width"] <= 390 and box["height"] >= 44  # fits, big enough to tap
        if n == 1:
            shots(phone, "task", "phone")
        approve.tap()
        phone.wait_for_url(re.compile(r"/$"))
        assert phone.locator(".flash").count() >= 1
    for subject in subjects:
        assert phone.locator("ul.tasks a", has_text=subject).count() == 0
    assert int(phone.inner_text("h2 .count")) == before - 5
    shots(phone, "inbox-cleared", "phone")
    desktop = new_page("desktop")
    login(desktop, "truongban")
    shots(desktop, "inbox-cleared", "desktop")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_language_switch_sticks(
    viewport: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    doc_id = submitted_by_api(server.base, f"Kế hoạch công tác năm 2027 ({viewport})")
    page = new_page(viewport)
    page.goto("/login")
    assert page.get_attribute("html", "lang") == "vi"
    assert page.inner_text("h1") == "Đăng nhập"
    page.click("#lang-en")
    page.wait_for_url(re.compile(r"/login$"))
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Sign in"
    assert page.inner_text("label[for=username]") == "Username"
    shots(page, "login-en", viewport)
    page.fill("#username", "chuyenvien")
    page.fill("#password", DEMO_PASSWORD)
    page.click("form button[type=submit].primary")
    page.wait_for_url(re.compile(r"/$"))
    assert page.inner_text("h1").startswith("Hello, ")
    assert "My tasks" in page.inner_text("main")
    shots(page, "inbox-en", viewport)
    page.goto(f"/documents/{doc_id}")
    main = page.inner_text("main")
    assert "In review" in main and "drafted by" in main and "History" in main
    assert re.search(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b", main)  # dd/mm/yyyy in English too
    shots(page, "document-en", viewport)
    page.goto("/documents/new")
    assert page.inner_text("h1") == "Upload document"
    assert page.inner_text("label[for=file]") == "PDF file"
    shots(page, "upload-en", viewport)
    page.reload()
    assert page.inner_text("h1") == "Upload document"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["lang"]["value"] == "en" and cookies["lang"]["httpOnly"]
    page.click("#lang-vi")
    page.wait_for_url(re.compile(r"/documents/new$"))
    assert page.get_attribute("html", "lang") == "vi"
    assert page.inner_text("h1") == "Tải lên văn bản"
    page.goto("/")
    assert "Việc cần xử lý" in page.inner_text("main")
    shots(page, "inbox-vi", viewport)
