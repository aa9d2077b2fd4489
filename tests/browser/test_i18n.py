"""The language switch and the English catalogue, through Flask's test client (no browser)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import REPO, closed
from tests.test_web import csrf_token, login
from workflow.i18n import compile_catalogues, read_catalogue

PO_DIR = REPO / "translations" / "en" / "LC_MESSAGES"


def switch(client: FlaskClient, lang: str, next_path: str = "/login") -> object:
    token = csrf_token(client, next_path)
    return closed(client.post("/lang", data={"csrf_token": token, "lang": lang, "next": next_path}))


def test_vietnamese_is_the_default_and_english_sticks(client: FlaskClient) -> None:
    page = closed(client.get("/login")).get_data(as_text=True)
    assert '<html lang="vi">' in page and "<h1>Đăng nhập</h1>" in page
    response = switch(client, "en")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = closed(client.get("/login")).get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page
    login(client, "chuyenvien")
    home = closed(client.get("/")).get_data(as_text=True)
    assert "My tasks" in home and "Upload document" in home and "Sign out" in home
    assert "Tiếng Việt" in home  # the way back, named in its own language
    switch(client, "vi", "/")
    assert "Việc cần xử lý" in closed(client.get("/")).get_data(as_text=True)


def test_switch_needs_csrf_a_known_language_and_a_local_target(client: FlaskClient) -> None:
    assert closed(client.post("/lang", data={"lang": "en"})).status_code == 400
    token = csrf_token(client, "/login")
    bad = closed(client.post("/lang", data={"csrf_token": token, "lang": "fr"}))
    assert bad.status_code == 400
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = closed(
            client.post("/lang", data={"csrf_token": token, "lang": "en", "next": target})
        )
        assert response.headers["Location"] == "/"


def test_python_errors_follow_the_page_language(client: FlaskClient) -> None:
    page = closed(client.get("/no-such-page")).get_data(as_text=True)
    assert "<h1>Không tìm thấy</h1>" in page
    assert "Không tìm thấy trang hoặc tài nguyên yêu cầu." in page
    switch(client, "en")
    page = closed(client.get("/no-such-page")).get_data(as_text=True)
    assert "<h1>Not found</h1>" in page
    assert "The requested page or resource was not found." in page  # said in Python
    assert "Không tìm thấy" not in page
    # A domain error raised in Python, flashed in English; the API keeps its codes.
    login(client, "chuyenvien")
    page = closed(client.get("/workfiles/999999")).get_data(as_text=True)
    assert "Work file not found, or you may not see it." in page
    page = closed(client.get("/documents/999999")).get_data(as_text=True)  # raised without _()
    assert "Document not found, or you may not see it." in page


def test_every_extracted_message_has_an_english_translation() -> None:
    with (REPO / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = {
        (ctx, msgid if isinstance(msgid, str) else msgid[0])
        for _file, _line, msgid, _comments, ctx in extract_from_dir(
            str(REPO), method_map, options_map
        )
    }
    catalog = read_catalogue(sorted(PO_DIR.glob("*.po")), "en")
    translated = {(m.context, m.id) for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(str(m) for m in extracted - translated)
    assert not missing, f"untranslated (add to a .po file in {PO_DIR.relative_to(REPO)}): {missing}"
    for message in catalog:
        if message.id and "%(" in message.id:
            assert sorted(re.findall(r"%\((\w+)\)s", message.id)) == sorted(
                re.findall(r"%\((\w+)\)s", message.string)
            ), message.id


def test_catalogue_compiled_into_the_instance_once(app: Flask, tmp_path: Path) -> None:
    mo = Path(app.instance_path) / "translations" / "en" / "LC_MESSAGES" / "messages.mo"
    assert mo.is_file() and mo.stat().st_size > 1000
    before = mo.stat().st_mtime_ns
    assert compile_catalogues(REPO / "translations", Path(app.instance_path) / "translations") == [
        "en"
    ]
    assert mo.stat().st_mtime_ns == before  # up to date: not rewritten
