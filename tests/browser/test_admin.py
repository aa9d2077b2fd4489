"""The administration pages in Chromium: the visual route editor (add a stage, reorder it
by keyboard and by dragging, save a new version), and axe-core on every admin page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.browser.conftest import SCREENSHOTS, Shots, api_token, login
from tests.browser.test_accessibility import BLOCKING, axe_violations, summary
from tests.servers import Served

pytestmark = pytest.mark.browser


def route_json(server: Served, code: str) -> dict[str, Any]:
    response = requests.get(
        server.base + "/api/v1/routes", headers=api_token(server.base, "admin"), timeout=30
    )
    response.raise_for_status()
    routes = {r["code"]: r for r in response.json()["routes"]}
    return dict(routes[code])


def stage_names(page: Any) -> list[str]:
    return [
        page.input_value(f"#stage-{i}-name") for i in range(page.locator("li[data-stage]").count())
    ]


def test_admin_adds_a_stage_in_the_visual_editor_and_saves(
    new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    before = route_json(server, "thuong-truc-ban-hanh")
    page = new_page("desktop")
    login(page, "admin")
    page.goto("/admin/routes")
    page.click(f"a[href$='code={before['code']}']")
    page.wait_for_selector("#route-editor.js")  # the script is running
    shots(page, "editor-open", "desktop")
    assert stage_names(page)[0] == "Lãnh đạo ban duyệt"
    count = len(before["stages"])

    page.click("#add-stage")
    new = page.locator("li[data-stage]").nth(count)
    expect_focus = page.evaluate("document.activeElement.id")
    assert expect_focus == f"stage-{count}-name"  # focus goes to the new card's name
    page.keyboard.type("Ban Kiểm tra cho ý kiến")
    new.locator("select[name$='-action']").select_option("consult")
    new.locator("select[name$='-role']").select_option("")
    new.locator("select[name$='-user']").select_option("kiemtra")
    new.locator("select[name$='-mode']").select_option("all")
    new.locator("input[name$='-deadline']").fill("3")
    new.locator("summary").click()
    new.locator("input[name$='-types'][value='NQ']").check()
    shots(page, "stage-added", "desktop")

    # Keyboard: move the new stage up to second place with its "Lên" button.
    up = page.locator("li[data-stage]:has(option[value='kiemtra']:checked) button[data-op='up']")
    for _ in range(count - 1):
        up.focus()
        page.keyboard.press("Enter")
    assert stage_names(page)[1] == "Ban Kiểm tra cho ý kiến"
    assert page.evaluate("document.activeElement.getAttribute('data-op')") == "up"
    assert page.input_value("#stage_count") == str(count + 1)
    page.wait_for_function(
        "document.getElementById('editor-status').textContent.includes('vị trí 2')"
    )
    # Drag: the last stage's handle onto the first card (both on screen: a tall window),
    # then back with the buttons.
    page.set_viewport_size({"width": 1280, "height": 3600})
    last = page.locator("li[data-stage]").nth(count)
    last_name = page.input_value(f"#stage-{count}-name")
    last.locator(".drag-handle").drag_to(page.locator("li[data-stage]").nth(0))
    names = stage_names(page)
    dragged = names.index(last_name)
    assert dragged < count, names
    while stage_names(page).index(last_name) < count:
        position = stage_names(page).index(last_name)
        page.click(f"#stage-{position} button[data-op='down']")
    page.set_viewport_size({"width": 1280, "height": 900})
    shots(page, "reordered", "desktop")

    page.click("#save-route")
    page.wait_for_url(re.compile(r"/admin/routes$"))
    assert "phiên bản 2" in page.text_content(".flash-ok")
    shots(page, "saved", "desktop")
    after = route_json(server, before["code"])
    assert after["version"] == before["version"] + 1
    assert [s["name"] for s in after["stages"]] == [
        before["stages"][0]["name"],
        "Ban Kiểm tra cho ý kiến",
        *[s["name"] for s in before["stages"][1:]],
    ]
    consult = after["stages"][1]
    assert consult["action"] == "consult" and consult["mode"] == "all"
    assert consult["deadline_days"] == 3 and consult["when"]["doc_types"] == ["NQ"]


def test_editor_shows_errors_next_to_the_stage(
    new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    page = new_page("phone")
    login(page, "admin")
    page.goto("/admin/routes/edit")
    page.fill("#code", "thu-loi-trinh-duyet")
    page.fill("#name", "Tuyến thử lỗi")
    page.fill("#stage-0-name", "Văn thư ban hành")
    page.select_option("#stage-0-action", "issue")
    page.click("#save-route")
    page.wait_for_selector("#error-summary")
    assert "ban hành cần một bước ký số trước đó" in page.text_content("#stage-0-errors")
    assert page.get_attribute("#stage-0-name", "aria-invalid") == "true"
    shots(page, "editor-errors", "phone")


ADMIN_PAGES = [
    ("units", "/admin/units"),
    ("unit", "/admin/units/5"),
    ("users", "/admin/users"),
    ("user", "/admin/users/1"),
    ("user-new", "/admin/users/new"),
    ("routes", "/admin/routes"),
    ("editor", "/admin/routes/edit?code=thuong-truc-ban-hanh"),
    ("settings", "/admin/settings"),
    ("certificates", "/certificates"),
]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_admin_pages_have_no_serious_axe_violations(
    viewport: str, lang: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    page = new_page(viewport)
    if lang == "en":
        page.goto("/login")
        page.click("#lang-en")
        page.wait_for_url("**/login")
    login(page, "admin")
    results: dict[str, list[dict[str, Any]]] = {}
    for name, path in ADMIN_PAGES:
        page.goto(path)
        if name == "editor":
            page.locator("li[data-stage] summary").first.click()  # the conditions too
        results[name] = axe_violations(page)
        shots(page, f"{name}-{lang}", viewport)
    (SCREENSHOTS.parent / f"axe-admin-{viewport}-{lang}.json").write_text(
        json.dumps(
            {
                name: [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in vs]
                for name, vs in results.items()
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    blocking = {name: [v for v in vs if v["impact"] in BLOCKING] for name, vs in results.items()}
    assert not any(blocking.values()), "\n".join(
        f"[{name}]\n{summary(vs)}" for name, vs in blocking.items() if vs
    )
