"""The public verification page checks the document's log inclusion proof in Chromium
(static/js/log-proof.js, SHA-256 by WebCrypto) against the published tree head."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import Api
from tests.test_transparency_log import publish
from tests.test_verification import add_code, signed_document
from workflow.services import Services
from workflow.transparency import usecases

pytestmark = pytest.mark.browser
BASE = "http://127.0.0.1:9"  # loopback: a secure context, so WebCrypto is there (routes are served below)


def _serve(answers: dict[str, tuple[int, str, bytes]]) -> Any:
    def handle(route: Any) -> None:
        parts = urlsplit(route.request.url)
        key = parts.path + (f"?{parts.query}" if parts.query else "")
        status, mime, body = answers.get(key, (404, "text/plain", b"not prepared"))
        route.fulfill(status=status, content_type=mime, body=body)

    return handle


def test_public_page_verifies_the_inclusion_proof_in_the_browser(
    app: Flask, api: Api, services: Services
) -> None:
    doc_id, _pdf = signed_document(api, issue=True)
    code = add_code(services, doc_id)
    head = publish(services)
    assert head is not None
    with services.session_factory() as session:
        position = usecases.issuance_position(session, doc_id)
    assert position is not None and position.covered
    # Every answer the page needs, rendered before Playwright runs its event loop (pyHanko
    # validates the PDF with asyncio.run on the page request).
    client = app.test_client()
    proof_path = f"/api/v1/log/proof?entry={position.entry}&size={head.size}"
    answers: dict[str, tuple[int, str, bytes]] = {}
    for path in (f"/v/{code}", "/api/v1/log/head", proof_path, "/static/js/log-proof.js"):
        response = client.get(path)
        answers[path] = (response.status_code, response.mimetype, response.get_data())
        response.close()
    # A server that answers the proof of another leaf.
    status, mime, body = answers[proof_path]
    forged = json.loads(body)
    forged["leaf"] = forged["leaf"].replace('"seq":', '"seq":1')
    lying = dict(answers, **{proof_path: (status, mime, json.dumps(forged).encode())})
    verdicts: list[tuple[str | None, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for served in (answers, lying):
                page = browser.new_page(base_url=BASE)
                page.route("**/*", _serve(served))
                page.goto(f"/v/{code}")
                section = page.locator("#log-proof")
                assert f"tại vị trí {position.entry}" in section.inner_text()
                page.wait_for_selector("#log-proof[data-verified]", state="attached")
                result = page.locator("#log-proof-result").inner_text()
                verdicts.append((section.get_attribute("data-verified"), result))
                page.close()
        finally:
            browser.close()
    (good, good_text), (bad, bad_text) = verdicts
    assert good == "true", good_text
    assert f"cỡ {head.size}" in good_text and head.root_hash[:16] in good_text
    assert bad == "false" and "KHÔNG khớp" in bad_text
