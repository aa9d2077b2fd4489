"""Every page on a 390-px phone (issue 14): no sideways scrolling, every tap target at
least 44 x 44 px, and axe-core finds nothing serious. Each role walks its own pages;
screenshots in test-artifacts/screenshots/, axe results in test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import Walk, open_as, submitted_by_api
from tests.servers import Served

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390
TAP = 44

MEASURE = """() => {
    const small = [];
    const seen = new Set();
    const targets = document.querySelectorAll(
        'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
    for (const el of targets) {
        if (el.closest('.skip')) continue;  // the skip link shows on focus only
        let box = el;
        if (el.matches('input[type=checkbox], input[type=radio]')) {
            box = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
        }
        if (el.matches('input[type=file]')) box = el;
        const r = box.getBoundingClientRect();
        const style = getComputedStyle(box);
        if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
        if (el.closest('[hidden], details:not([open]) > :not(summary)')) continue;
        if (seen.has(box)) continue;
        seen.add(box);
        if (r.height < 44 || r.width < 44) {
            const name = (el.innerText || el.value || el.getAttribute('aria-label') || el.name || el.tagName).trim().slice(0, 40);
            small.push(`${el.tagName.toLowerCase()} "${name}" ${Math.round(r.width)}x${Math.round(r.height)}`);
        }
    }
    return {width: document.documentElement.scrollWidth, small: small};
}"""

PAGES: dict[str, list[str]] = {
    "vanthu": [
        "/",
        "/incoming",
        "/registers/outgoing",
        "/registers/incoming",
        "/notifications",
        "/verify",
        "/documents/classified/new",
    ],
    "chuyenvien": ["/", "/documents/new", "/workfiles", "/reports", "/routes", "{doc}"],
    "truongban": ["/", "{doc}"],
    "bithu": ["/", "/coverage", "/certificates"],
    "kiemtra": ["/audit", "/audit/bundle", "/coverage", "/coverage/misses?target=T2"],
    "admin": ["/admin/units", "/admin/users", "/admin/settings", "/admin/routes"],
}


def test_every_page_fits_a_phone(new_page: Callable[..., Any], server: Served, walk: Walk) -> None:
    doc_id = submitted_by_api(server.base, "Về việc kiểm tra trang trên điện thoại")
    problems: dict[str, Any] = {}
    for user, paths in PAGES.items():
        page = open_as(new_page, user, "phone", has_touch=True, is_mobile=True)
        for path in paths:
            path = path.replace("{doc}", f"/documents/{doc_id}")
            response = page.goto(path)
            assert response is not None and response.ok, (user, path, response and response.status)
            name = f"{user}{path.replace('/', '-')}"
            if path.startswith("/admin") or path == "/documents/new":
                # axe-core runs on these at 390 px in test_admin / test_accessibility
                walk.shots(page, name, "phone")
            else:
                walk.step(page, name, "phone")
            found = page.evaluate(MEASURE)
            if found["width"] > PHONE_WIDTH or found["small"]:
                problems[f"{user} {path}"] = found
    walk.save()
    assert not problems, "\n".join(
        f"{where}: width {p['width']}px; small: {p['small']}" for where, p in problems.items()
    )
    walk.assert_accessible()
