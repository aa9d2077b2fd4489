"""The whole life of an outgoing document, walked in the browser as each person would,
by the visible Vietnamese labels: the drafter uploads on the Standing Committee's route
with issuance; the board head returns it with a comment (on a phone); the drafter reads
the comment and uploads a revision; the board head approves (on a phone); Văn phòng
checks the format; the Secretary signs; the clerk issues it (number, date, seal),
dispatches it to two units, and a receiving clerk takes it in; the sender then sees who
received it and when. Screenshots and axe-core results go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import STEP_TIMEOUT_MS, Walk, open_as
from tests.conftest import DEMO_PASSWORD
from tests.pdfs import header_pdf, simple_pdf
from tests.servers import Served

pytestmark = pytest.mark.browser

ROUTE = "Văn bản của Thường trực: duyệt, kiểm tra thể thức, ký, ban hành"  # thuong-truc-ban-hanh
SUBJECT = "Về việc tổ chức Hội nghị sơ kết công tác tuyên giáo 6 tháng cuối năm 2026"
RETURN_COMMENT = "Đề nghị bổ sung thành phần dự hội nghị và sửa lại thời gian tổ chức."
# Two recipient units: Văn phòng has a clerk in the demo data (vanthu) who takes it in;
# no grassroots unit has one, so the other recipient stays "waiting" (see the report).
RECEIVING_UNIT = "Văn phòng Đảng ủy Khối"
OTHER_UNIT = "Đảng ủy Sở Giáo dục và Đào tạo"
SYMBOL = re.compile(r"\b\d{2,}-CV/ĐUK\b")
VN_DATETIME = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b")


@pytest.fixture(autouse=True)
def _patient_expect() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_TIMEOUT_MS)


def pdf_file(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": simple_pdf(text)}


def open_from_inbox(page: Any, subject: str) -> None:
    """Click the task (or, failing that, the related document) named ``subject``."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Việc cần xử lý", exact=True).click()
    main = page.get_by_role("main")
    link = main.get_by_role("link", name=re.compile(re.escape(subject))).first
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)


def flash_ok(page: Any, text: str | re.Pattern[str]) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".flash-ok").filter(has_text=text).first).to_be_visible()


def sign_on_page(
    page: Any, passphrase: str = DEMO_PASSWORD, at: tuple[float, float] | None = None
) -> None:
    """The signer signs the open task of the document page; ``at``: where to place the
    stamp, as fractions (x, y) of the first rendered page, by a click on it."""
    from playwright.sync_api import expect

    if at is not None:
        overlay = page.locator(".stamp-overlay")
        expect(overlay).to_be_visible()  # the stamp preview at its default place
        first = page.locator("#page-0 .page-box > img")
        box = first.bounding_box()
        assert box
        first.click(position={"x": box["width"] * at[0], "y": box["height"] * at[1]})
        expect(overlay).not_to_have_class(re.compile(r"stamp-default"))
    task = page.locator("form[action*='/sign']").first
    task.get_by_label("Mật khẩu khóa ký số").fill(passphrase)
    task.get_by_role("button", name="Ký số", exact=True).click()
    flash_ok(page, "Đã ký số văn bản")
    expect(page.get_by_role("main")).to_contain_text("Tất cả chữ ký hợp lệ")


def issue_on_page(page: Any) -> str:
    """The clerk issues the document of the page: :returns: its number and symbol."""
    from playwright.sync_api import expect

    issue = page.locator("form[action*='/issue']")
    expect(issue).to_contain_text("cấp số")  # what the button will do
    expect(issue.locator(".number-line")).to_be_visible()  # where the number will go
    expected = SYMBOL.search(issue.locator(".number-preview").inner_text())
    assert expected, "the clerk sees the number before issuing"
    issue.get_by_role("button", name="Ban hành", exact=True).click()
    flash_ok(page, "Đã ban hành văn bản")
    flash_ok(page, SYMBOL)
    card = page.locator("section.issued")
    expect(card).to_contain_text(SYMBOL)
    found = SYMBOL.search(card.inner_text())
    assert found and found.group(0) == expected.group(0)  # nobody issued in between
    return found.group(0)


def test_full_journey(new_page: Callable[..., Any], server: Served, walk: Walk) -> None:
    from playwright.sync_api import expect

    # 1. The drafter signs in, uploads on the route with issuance, submitting at once.
    first = new_page("desktop")
    first.goto("/login")
    expect(first.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    walk.step(first, "login")
    drafter = open_as(new_page, "chuyenvien")
    walk.step(drafter, "drafter-inbox")
    drafter.get_by_role("link", name="Tải lên văn bản mới").click()
    expect(drafter.get_by_role("heading", level=1)).to_have_text("Tải lên văn bản")
    drafter.get_by_label("Tệp PDF").set_input_files(
        pdf_file("hoi-nghi-so-ket.pdf", "Hoi nghi so ket - du thao 1")
    )
    drafter.get_by_label("Trích yếu nội dung").fill(SUBJECT)
    drafter.get_by_label("Loại văn bản").select_option(label="Công văn (CV)")
    drafter.get_by_label("Tuyến trình").select_option(label=ROUTE)
    drafter.get_by_text("Xem các bước của tuyến trình").click()
    expect(drafter.get_by_label("Trình ngay sau khi tải lên")).to_be_checked()
    walk.step(drafter, "upload-form")
    drafter.get_by_role("button", name="Tải lên", exact=True).click()
    flash_ok(drafter, "Văn bản đã được trình")
    expect(drafter.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(drafter.locator(".meta .state")).to_have_text("Đang xin ý kiến duyệt")
    walk.step(drafter, "submitted")

    # 2. The board head, on a phone, returns it with a comment.
    head = open_as(new_page, "truongban", "phone", has_touch=True, is_mobile=True)
    walk.step(head, "head-inbox", "phone")
    open_from_inbox(head, SUBJECT)
    head.get_by_text("Trả lại, từ chối hoặc ủy quyền").tap()
    head.get_by_label("Lý do trả lại, nội dung cần chỉnh sửa").fill(RETURN_COMMENT)
    expect(head.get_by_label("Sau khi chỉnh sửa, trình lại từ bước")).to_contain_text(
        "Lãnh đạo ban duyệt"
    )
    walk.step(head, "head-return-form", "phone")
    head.get_by_role("button", name="Trả lại", exact=True).tap()
    flash_ok(head, "Đã trả lại văn bản")
    head_desktop = open_as(new_page, "truongban")
    walk.step(head_desktop, "head-after-return")

    # 3. The drafter sees the comment and uploads a revision, then submits again.
    drafter.get_by_role("link", name="Việc cần xử lý", exact=True).click()
    returned = drafter.get_by_role("main").locator("tr", has_text=SUBJECT)
    expect(returned.get_by_text("Trả lại để chỉnh sửa")).to_be_visible()
    expect(drafter.get_by_role("main").locator("li", has_text=SUBJECT)).to_contain_text(
        RETURN_COMMENT  # why it came back, in the inbox already
    )
    walk.step(drafter, "drafter-home-returned")
    open_from_inbox(drafter, SUBJECT)
    main = drafter.get_by_role("main")
    expect(drafter.locator(".meta .state")).to_have_text("Trả lại để chỉnh sửa")
    expect(main).to_contain_text(RETURN_COMMENT)
    expect(main.get_by_role("heading", name="Chỉnh sửa và trình lại")).to_be_visible()
    walk.step(drafter, "returned-with-comment")
    drafter.get_by_label("Tải lên bản chỉnh sửa (PDF)").set_input_files(
        {  # the revision carries the Party header: the number and date are written there
            "name": "hoi-nghi-so-ket-v2.pdf",
            "mimeType": "application/pdf",
            "buffer": header_pdf(
                "Số: ……………-CV/ĐUK", "Hà Nội, ngày …… tháng …… năm ……", "CÔNG VĂN - dự thảo 2"
            ),
        }
    )
    drafter.get_by_role("button", name="Tải lên bản chỉnh sửa", exact=True).click()
    flash_ok(drafter, "Đã tải lên bản chỉnh sửa")
    versions = drafter.locator("section", has=drafter.get_by_role("heading", name="Tệp văn bản"))
    rows = versions.locator("tbody tr")
    expect(rows).to_have_count(2)  # the earlier revision is still listed
    expect(rows.nth(0)).to_contain_text("Bản tải lên")
    expect(rows.nth(1)).to_contain_text("Bản tải lên")
    walk.step(drafter, "revision-uploaded")
    drafter.get_by_role("button", name="Trình", exact=True).click()
    flash_ok(drafter, "Đã trình văn bản")
    expect(drafter.locator(".meta .state")).to_have_text("Đang xin ý kiến duyệt")

    # 4. The board head approves the revision, on the phone again.
    open_from_inbox(head, SUBJECT)
    approve = head.get_by_role("button", name="Duyệt", exact=True)
    approve.scroll_into_view_if_needed()
    box = approve.bounding_box()
    assert box and box["width"] <= 390 and box["height"] >= 44  # fits, big enough to tap
    head.get_by_label("Ý kiến (không bắt buộc)").fill("Đồng ý, trình Thường trực.")
    walk.step(head, "head-approve", "phone")
    approve.tap()
    flash_ok(head, "Đã duyệt")
    walk.step(head, "head-inbox-after", "phone")

    # 5. Văn phòng checks the format.
    clerk = open_as(new_page, "vanthu")
    walk.step(clerk, "clerk-inbox-review")
    open_from_inbox(clerk, SUBJECT)
    walk.step(clerk, "clerk-review")
    clerk.get_by_role("button", name="Đồng ý thể thức").click()
    flash_ok(clerk, "Đã duyệt")

    # 6. The Secretary signs.
    signer = open_as(new_page, "bithu")
    open_from_inbox(signer, SUBJECT)
    walk.step(signer, "signer-task")
    sign_on_page(signer, at=(0.62, 0.78))  # the stamp placed by a click on the page
    expect(signer.get_by_role("main")).to_contain_text(VN_DATETIME)
    walk.step(signer, "signed")

    # 7. The clerk issues it: number, date and the organisation's seal.
    open_from_inbox(clerk, SUBJECT)
    walk.step(clerk, "clerk-issue")
    symbol = issue_on_page(clerk)
    expect(clerk.get_by_role("main")).to_contain_text("Tất cả chữ ký hợp lệ")
    walk.step(clerk, "issued")

    # 8. ... and dispatches it to two units.
    clerk.get_by_role("link", name="Phát hành / nơi nhận").click()
    expect(clerk.get_by_role("heading", level=1)).to_contain_text(symbol)
    clerk.get_by_label(RECEIVING_UNIT, exact=True).check()
    clerk.get_by_label(OTHER_UNIT, exact=True).check()
    walk.step(clerk, "dispatch-form")
    clerk.get_by_role("button", name="Phát hành", exact=True).click()
    flash_ok(clerk, "Đã phát hành văn bản")
    sent = clerk.locator("section", has=clerk.get_by_role("heading", name="Nơi nhận đã gửi"))
    expect(sent.locator("tbody tr")).to_have_count(2)
    expect(sent.locator("tr", has_text=OTHER_UNIT)).to_contain_text("chờ tiếp nhận")
    walk.step(clerk, "dispatched")

    # 9. The receiving unit's clerk checks the signatures and takes it in: the incoming
    # page opens on the unit where something waits, with a switcher between the units.
    receiver = open_as(new_page, "vanthu")
    receiver.get_by_role("link", name="Văn bản đến", exact=True).click()
    expect(receiver.get_by_role("heading", level=1)).to_have_text("Văn bản đến")
    expect(receiver.locator(".meta")).to_contain_text(RECEIVING_UNIT)
    row = receiver.locator("tbody tr", has_text=SUBJECT)
    expect(row).to_contain_text(symbol)
    walk.step(receiver, "incoming-pending")
    row.get_by_role("button", name="Kiểm tra chữ ký và tiếp nhận").click()
    flash_ok(receiver, re.compile(r"Đã tiếp nhận văn bản, số đến \d+\. Chữ ký số hợp lệ"))
    row = receiver.locator("tbody tr", has_text=SUBJECT)
    expect(row).to_contain_text("Đã tiếp nhận")
    expect(row).to_contain_text("Hợp lệ")
    walk.step(receiver, "incoming-received")

    # ... and the second unit's own clerk takes in its copy.
    other = open_as(new_page, "vanthugd")
    other.get_by_role("link", name="Văn bản đến", exact=True).click()
    expect(other.locator(".meta")).to_contain_text(OTHER_UNIT)
    row = other.locator("tbody tr", has_text=SUBJECT)
    walk.step(other, "other-unit-incoming")
    row.get_by_role("button", name="Kiểm tra chữ ký và tiếp nhận").click()
    flash_ok(other, re.compile(r"Đã tiếp nhận văn bản, số đến 1\. Chữ ký số hợp lệ"))
    walk.step(other, "other-unit-received")

    # 10. The sender sees who received it and when (the dispatch page, reloaded: the
    # receiving units' handling copies carry the same subject in the clerk's lists).
    clerk.reload()
    received = sent.locator("tr", has_text=RECEIVING_UNIT)
    expect(received).to_contain_text("Đã tiếp nhận")
    expect(received).to_contain_text("Phạm Thị Thu")
    expect(received).to_contain_text(VN_DATETIME)
    other_row = sent.locator("tr", has_text=OTHER_UNIT)
    expect(other_row).to_contain_text("Đã tiếp nhận")
    expect(other_row).to_contain_text("Hoàng Thị Mai")
    walk.step(clerk, "sender-sees-receipt")

    walk.assert_accessible()
