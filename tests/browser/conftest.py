"""Browser fixtures: one test server for the session on a free loopback port, driven by
Debian's Chromium through Playwright's sync API (never a downloaded browser)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import DEMO_PASSWORD, REPO
from tests.pdfs import simple_pdf
from tests.servers import Served, gunicorn

CHROMIUM = os.environ.get("TRINHKY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--lang=vi-VN",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
AXE = REPO / "static" / "vendor" / "axe-core" / "axe.min.js"
VIEWPORTS: dict[str, dict[str, int]] = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
    "laptop": {"width": 1366, "height": 768},
}


def pytest_configure(config: pytest.Config) -> None:
    # Also in pyproject.toml; registered here too so this folder stands on its own.
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright")


# Module scope, not session: while Playwright's sync API is open it runs an asyncio loop in
# this thread, and pyHanko's asyncio.run() in the in-process Flask tests would then fail.
@pytest.fixture(scope="module")
def playwright_api() -> Iterator[Any]:
    """Playwright's sync API (skips when Playwright or Chromium is unavailable)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is missing (make test-deps installs Debian's chromium)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_api: Any) -> Iterator[Any]:
    """Headless Debian Chromium, no network but loopback needed."""
    chromium = playwright_api.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def server(template_instance: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """gunicorn (2 workers, as `make run`) on a copy of the session's initialised instance
    (what `make run`'s init leaves behind; test_serving boots `make run` itself), shared by
    every browser test: each works on documents of its own."""
    instance = tmp_path_factory.mktemp("browser") / "instance"
    shutil.copytree(template_instance, instance)
    with gunicorn(instance, workers=2, MAX_UPLOAD_BYTES=1024 * 1024) as base:
        yield Served(base, instance)


class Shots:
    """Saves full-page screenshots as ``<test>-<viewport>-<nn>-<step>.png``."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", test_name).strip("-")
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, step: str, viewport: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{viewport}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """test-artifacts/screenshots/, emptied once per run (git-ignored)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def shots(request: pytest.FixtureRequest, screenshot_dir: Path) -> Shots:
    """The screenshot saver of this test."""
    return Shots(request.node.originalname.removeprefix("test_"))


@pytest.fixture
def new_page(browser: Any, server: Served) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh context (own cookies) at a named viewport."""
    contexts: list[Any] = []

    def _open(viewport: str = "desktop", **options: Any) -> Any:
        context = browser.new_context(
            viewport=VIEWPORTS[viewport],
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
            base_url=server.base,
            bypass_csp=True,  # axe-core is injected as an inline script
            **options,
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


def login(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the form and land on the inbox."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit].primary")
    page.wait_for_url(re.compile(r"/$"))


def api_token(base: str, username: str) -> dict[str, str]:
    response = requests.post(
        base + "/api/v1/auth/token",
        json={"username": username, "password": DEMO_PASSWORD},
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": "Bearer " + response.json()["token"]}


def submitted_by_api(base: str, subject: str, drafter: str = "chuyenvien") -> int:
    """Upload and submit a document over the API; :returns: its id."""
    headers = api_token(base, drafter)
    created = requests.post(
        base + "/api/v1/documents",
        headers=headers,
        files={"file": ("van-ban.pdf", simple_pdf(), "application/pdf")},
        data={"subject": subject, "doc_type": "CV"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    doc_id: int = created.json()["id"]
    submitted = requests.post(
        f"{base}/api/v1/documents/{doc_id}/submit", headers=headers, timeout=30
    )
    assert submitted.ok, submitted.text
    return doc_id


# --- journeys: screenshots and axe-core at every main step (tests/browser/test_journey_*.py)

STEP_TIMEOUT_MS = 90_000
"""A loaded 2-core machine signs, validates and exports slowly: wait long, never sleep."""


def open_as(
    new_page: Callable[..., Any], username: str, viewport: str = "desktop", **options: Any
) -> Any:
    """A fresh browser context logged in as ``username`` through the login form."""
    page = new_page(viewport, **options)
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    login(page, username)
    return page


class Walk:
    """A journey's record: a screenshot and an axe-core run at every main step; the
    violations go to ``test-artifacts/axe-<journey>.json`` and are checked at the end, so
    one page's problem never hides the rest of the journey."""

    def __init__(self, shots: Shots) -> None:
        self.shots = shots
        self.pages: dict[str, list[dict[str, Any]]] = {}

    def step(self, page: Any, name: str, viewport: str = "desktop") -> None:
        """Screenshot ``page`` and run axe-core on it, under ``name``."""
        from tests.browser.test_accessibility import axe_violations  # it imports this module

        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        self.shots(page, name, viewport)
        path = urlsplit(page.url)
        where = path.path + (f"?{path.query}" if path.query else "")
        self.pages[f"{viewport}/{name} {where}"] = axe_violations(page)

    def blocking(self) -> dict[str, list[dict[str, Any]]]:
        """:returns: the serious and critical violations, by step."""
        from tests.browser.test_accessibility import BLOCKING

        found = {k: [v for v in vs if v["impact"] in BLOCKING] for k, vs in self.pages.items()}
        return {k: vs for k, vs in found.items() if vs}

    def save(self) -> Path:
        """Write every step's violations (all impacts, with their elements)."""
        path = SCREENSHOTS.parent / f"axe-{self.shots.prefix}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    step: [
                        {
                            "id": v["id"],
                            "impact": v["impact"],
                            "help": v["help"],
                            "targets": [" ".join(n["target"]) for n in v["nodes"]],
                        }
                        for v in vs
                    ]
                    for step, vs in self.pages.items()
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return path

    def assert_accessible(self) -> None:
        """No serious or critical axe-core violation on any step (all saved first)."""
        from tests.browser.test_accessibility import summary

        self.save()
        blocking = self.blocking()
        assert not blocking, "\n".join(f"[{step}]\n{summary(vs)}" for step, vs in blocking.items())


@pytest.fixture
def walk(shots: Shots) -> Walk:
    """The screenshot and axe-core record of this journey."""
    return Walk(shots)
