"""axe-core (vendored, static/vendor/axe-core) on the login, inbox, upload and document
pages, desktop and phone, Vietnamese and English: no serious or critical violation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.conftest import AXE, SCREENSHOTS, Shots, login, submitted_by_api
from tests.servers import Served

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page; :returns: its violations (all impacts)."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return list(result["violations"])


def summary(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']}: {v['id']}: {v['help']} -> "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in violations
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_key_pages_have_no_serious_axe_violations(
    viewport: str, lang: str, new_page: Callable[..., Any], server: Served, shots: Shots
) -> None:
    doc_id = submitted_by_api(
        server.base, f"Về việc kiểm tra khả năng tiếp cận ({viewport}, {lang})"
    )
    page = new_page(viewport)
    if lang == "en":
        page.goto("/login")
        page.click("#lang-en")
        page.wait_for_url("**/login")
    pages: dict[str, list[dict[str, Any]]] = {}
    page.goto("/login")
    pages["login"] = axe_violations(page)
    login(page, "truongban")  # an approver: the document page shows the action forms
    pages["inbox"] = axe_violations(page)
    page.goto("/documents/new")
    pages["upload"] = axe_violations(page)
    page.goto(f"/documents/{doc_id}")
    page.click("details.more-actions summary")  # the folded forms are checked too
    pages["document"] = axe_violations(page)
    shots(page, f"document-{lang}", viewport)  # also the unfolded actions

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / f"axe-{viewport}-{lang}.json").write_text(
        json.dumps(
            {
                name: [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in vs]
                for name, vs in pages.items()
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    blocking = {name: [v for v in vs if v["impact"] in BLOCKING] for name, vs in pages.items()}
    assert not any(blocking.values()), "\n".join(
        f"[{name}]\n{summary(vs)}" for name, vs in blocking.items() if vs
    )
