"""The public portal in Chromium, as a visitor without an account would use it: from the
home page's footer to the list, a published document's page and its signed PDF; a
recalled one says so; an unpublished or classified one is reachable by no URL. Desktop
and phone, screenshots and axe-core at every step."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.browser.conftest import STEP_TIMEOUT_MS, Walk, api_token
from tests.browser.test_journey_auditor import issued_by_api
from tests.servers import Served

pytestmark = pytest.mark.browser

PUBLIC = "Về việc công khai kết quả chuyển đổi số của Đảng bộ Khối"
PRIVATE = "Về việc chuẩn bị nhân sự nội bộ (không công khai)"
RECALLED = "Về việc tổ chức hội nghị trực tuyến đã hoãn"


@pytest.fixture(scope="module")
def portal_documents(server: Served) -> dict[str, dict[str, Any]]:
    """Three issued documents: one published, one not, one published then recalled; and
    one classified entry."""
    base = server.base
    docs = {
        "public": issued_by_api(base, PUBLIC, "Cong khai"),
        "private": issued_by_api(base, PRIVATE, "Noi bo"),
        "recalled": issued_by_api(base, RECALLED, "Thu hoi"),
    }
    clerk = api_token(base, "vanthu")
    for key in ("public", "recalled"):
        r = requests.post(
            f"{base}/api/v1/documents/{docs[key]['id']}/publish",
            headers=clerk,
            json={"public": True},
            timeout=60,
        )
        assert r.ok, r.text
    r = requests.post(
        f"{base}/api/v1/documents/{docs['recalled']['id']}/recall",
        headers=clerk,
        json={"reason": "Hội nghị hoãn"},
        timeout=60,
    )
    assert r.ok, r.text
    secret = requests.post(
        f"{base}/api/v1/documents",
        headers=clerk,
        json={"classification": "mat", "doc_type": "CV", "subject": "Công văn mật về nhân sự"},
        timeout=60,
    )
    assert secret.status_code == 201, secret.text
    docs["classified"] = secret.json()
    return docs


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_visitor_finds_reads_and_downloads_a_published_document(
    portal_documents: dict[str, dict[str, Any]],
    new_page: Callable[..., Any],
    server: Served,
    shots: Any,
    viewport: str,
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    walk = Walk(shots)
    page = new_page(viewport)
    page.goto("/")  # no account: the login page, whose footer leads to the portal
    page.get_by_role("link", name="Văn bản công khai").click()
    page.wait_for_url(re.compile(r"/public/$"))
    expect(page.get_by_role("heading", name="Văn bản công khai")).to_be_visible()
    public = portal_documents["public"]
    expect(page.get_by_text(PUBLIC)).to_be_visible()
    expect(page.get_by_text(PRIVATE)).to_have_count(0)
    expect(page.get_by_text(RECALLED)).to_have_count(0)
    expect(page.get_by_text("Công văn mật về nhân sự")).to_have_count(0)
    walk.step(page, "portal-list", viewport)

    page.fill("#q", "chuyển đổi số")
    page.get_by_role("button", name="Tìm").click()
    expect(page.get_by_text("1 văn bản")).to_be_visible()
    page.get_by_role("link", name=public["symbol"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(public["symbol"])
    expect(page.get_by_text("Chữ ký số hợp lệ.")).to_be_visible()
    expect(page.get_by_alt_text("Mã QR của trang xác thực văn bản")).to_be_visible()
    walk.step(page, "portal-document", viewport)
    link = page.get_by_role("link", name="Xem, tải văn bản đã ký (PDF)")
    pdf = requests.get(server.base + link.get_attribute("href"), timeout=60)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    own = requests.get(
        f"{server.base}/api/v1/documents/{public['id']}/file",
        headers=api_token(server.base, "vanthu"),
        timeout=60,
    )
    assert pdf.content == own.content  # the signed, sealed file itself

    # A recalled document says so and offers no file.
    recalled = portal_documents["recalled"]
    page.goto(f"/public/documents/{recalled['id']}")
    expect(page.get_by_role("alert")).to_contain_text("đã bị thu hồi ngày")
    expect(page.get_by_role("link", name="Xem, tải văn bản đã ký (PDF)")).to_have_count(0)
    walk.step(page, "portal-recalled", viewport)

    assert walk.blocking() == {}, walk.save()


def test_unpublished_and_classified_documents_are_reachable_by_no_url(
    portal_documents: dict[str, dict[str, Any]], server: Served
) -> None:
    for key in ("private", "classified"):
        doc_id = portal_documents[key]["id"]
        for path in (f"/public/documents/{doc_id}", f"/public/documents/{doc_id}.pdf"):
            assert requests.get(server.base + path, timeout=30).status_code == 404, path
    recalled_pdf = f"/public/documents/{portal_documents['recalled']['id']}.pdf"
    assert requests.get(server.base + recalled_pdf, timeout=30).status_code == 404
    feed = requests.get(server.base + "/public/feed.atom", timeout=30).text
    assert PUBLIC in feed and PRIVATE not in feed and RECALLED not in feed
    listed = requests.get(server.base + "/api/v1/public/documents", timeout=30).json()
    assert [d["subject"] for d in listed["documents"]] == [PUBLIC]
