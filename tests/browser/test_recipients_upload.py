"""The planned recipients in Chromium: ticked by their labels on the upload page, sent with
the dropped file by the XHR upload, shown on the document page; axe-core on the form."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import Shots, login
from tests.browser.test_sign_dialog import drop_file, no_blocking_violations
from tests.pdfs import simple_pdf
from tests.servers import Served

pytestmark = pytest.mark.browser


def test_recipients_travel_with_the_xhr_upload(
    new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    drafter = new_page("desktop")
    login(drafter, "chuyenvien")
    drafter.goto("/documents/new")
    group = drafter.get_by_role("group", name="Tổ chức cơ sở đảng")
    group.get_by_label("Đảng ủy Công ty Điện lực tỉnh").check()
    drafter.get_by_label("Ban Tổ chức Đảng ủy Khối").check()
    drafter.get_by_label("Nơi nhận bên ngoài (không bắt buộc)").fill(
        "Sở Nội vụ tỉnh; vanthu@snv.example.vn"
    )
    no_blocking_violations(drafter, "upload with recipients")
    drop_file(drafter, "#dropzone", "noi-nhan.pdf", simple_pdf())
    drafter.fill("#subject", "Về việc gửi kế hoạch đến các nơi nhận dự kiến")
    shots(drafter, "upload-recipients", "desktop")
    drafter.click("#upload-submit")
    drafter.wait_for_url(re.compile(r"/documents/\d+$"), timeout=60_000)
    line = drafter.inner_text("#planned-recipients")
    assert "Ban Tổ chức Đảng ủy Khối" in line and "Đảng ủy Công ty Điện lực tỉnh" in line, line
    assert "Sở Nội vụ tỉnh <vanthu@snv.example.vn>" in line, line
