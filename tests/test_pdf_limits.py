"""Bounded work for every uploaded PDF (signing/limits.py) and active content
(signing/active.py): hostile files are refused at upload with the limit named, active
content is listed in the validation report and on the signer's page, or refused by
policy. The figures (time, peak memory) are measured by ``bench/pdf_limits.py``."""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from signing.errors import PdfInputError
from signing.limits import PdfLimits
from signing.pades import inspect_pdf
from storage.models import Document
from tests.conftest import Api, app_config, blob_files
from tests.hostile_pdfs import (
    active_content_pdf,
    deep_nesting_pdf,
    deflate_bomb_pdf,
    many_objects_pdf,
    many_pages_pdf,
)
from tests.pdfs import simple_pdf
from tests.test_verification import validate
from tests.test_web import login
from workflow import create_app
from workflow.services import EXTENSION_KEY

SMALL = PdfLimits(
    max_pages=50, max_objects=5000, max_depth=64, max_decompressed_bytes=8 << 20, max_seconds=20
)


@pytest.mark.parametrize(
    ("data", "code", "named"),
    [
        (lambda: many_pages_pdf(2000), "too_many_pages", "tối đa 50 trang"),
        (lambda: many_pages_pdf(120, count=1), "too_many_pages", "tối đa 50 trang"),
        (lambda: deflate_bomb_pdf(16), "too_much_data", "tối đa 8 MB"),
        (lambda: deep_nesting_pdf(100_000), "too_deep", "tối đa 64 mức"),
        (lambda: many_objects_pdf(6000), "too_many_objects", "tối đa 5000 đối tượng"),
    ],
    ids=["pages", "pages-count-lies", "deflate-bomb", "deep-nesting", "objects"],
)
def test_a_file_beyond_a_limit_is_refused_naming_it(
    tmp_path: Path, data: Callable[[], bytes], code: str, named: str
) -> None:
    path = tmp_path / "hostile.pdf"
    path.write_bytes(data())
    with pytest.raises(PdfInputError) as caught:
        inspect_pdf(path, allow_empty_password=True, limits=SMALL)
    assert caught.value.code == code
    assert named in str(caught.value) and "giới hạn" in str(caught.value)


def test_files_within_the_limits_pass(tmp_path: Path) -> None:
    path = tmp_path / "ok.pdf"
    path.write_bytes(simple_pdf(pages=3))
    info = inspect_pdf(path, allow_empty_password=True, limits=SMALL)
    assert info.pages == 3 and info.active_content == ()
    path.write_bytes(many_pages_pdf(50))
    assert inspect_pdf(path, allow_empty_password=True, limits=SMALL).pages == 50
    path.write_bytes(deflate_bomb_pdf(4))  # 4 MB inflated: within 8
    assert inspect_pdf(path, allow_empty_password=True, limits=SMALL).pages == 1


def test_active_content_is_found_with_where(tmp_path: Path) -> None:
    path = tmp_path / "active.pdf"
    path.write_bytes(active_content_pdf())
    found = {(i.kind, i.where) for i in inspect_pdf(path, limits=SMALL).active_content}
    assert found == {
        ("open_action", "tài liệu"),
        ("javascript", "tài liệu"),
        ("embedded_file", "tài liệu"),
        ("xfa", "tài liệu"),
        ("additional_actions", "trang 1"),
        ("javascript", "trang 1"),
        ("launch", "chú thích trang 1"),
    }


def _app(instance: Path, database_url: str, **extra: Any) -> Iterator[Flask]:
    application = create_app(app_config(instance, DATABASE_URL=database_url, **extra))
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


@pytest.fixture
def big_app(instance: Path, database_url: str) -> Iterator[Flask]:
    """The default limits, and uploads up to 16 MB (the issue's hostile file)."""
    yield from _app(instance, database_url, MAX_UPLOAD_BYTES=16 << 20)


# Werkzeug's test client spools a large request body to a file it never closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_upload_of_100000_pages_is_refused_and_leaves_nothing(
    big_app: Flask, instance: Path
) -> None:
    status, mimetype, body = _upload(Api(big_app), many_pages_pdf(100_000))
    gc.collect()  # release the test client's spool inside this test's warning filter
    assert status == 422, body
    assert mimetype == "application/problem+json"
    assert body["code"] == "pdf_too_many_pages"
    assert "tối đa 2000 trang" in body["detail"]
    with big_app.extensions[EXTENSION_KEY].session_factory() as session:
        assert session.query(Document).count() == 0
    assert blob_files(instance) == []


def _upload(api: Api, data: bytes) -> tuple[int, str, Any]:
    response = api.upload("chuyenvien", data)
    return response.status_code, response.mimetype, response.get_json()


def test_active_content_is_shown_in_the_report_and_to_the_signer(api: Api) -> None:
    created = api.upload("chuyenvien", active_content_pdf())
    assert created.status_code == 201, created.get_json()
    doc_id = created.get_json()["id"]
    report = api.get("chuyenvien", f"/documents/{doc_id}/validation").get_json()
    assert "mã JavaScript (tài liệu)" in report["active_content"]
    assert "biểu mẫu động XFA (tài liệu)" in report["active_content"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    approve = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{approve['id']}/approve", json={}).status_code == 200
    # The signer's page: the warning sits in the sign form, before the passphrase.
    client = api.app.test_client()
    login(client, "bithu")
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    form = page[page.index('class="sign-form"') :]
    assert form.index("nội dung chủ động") < form.index('name="passphrase"')
    assert "lệnh mở chương trình hoặc tệp khác (Launch) (chú thích trang 1)" in form
    # Bulk signing shows no document: such a file is refused there, to be signed on its page.
    task = api.task_for("bithu", doc_id)
    bulk = api.post("bithu", "/bulk-sign", json={"task_ids": [task["id"]], "passphrase": "x"})
    assert bulk.status_code == 422
    (refused,) = bulk.get_json()["invalid"]
    assert refused["task_id"] == task["id"] and "nội dung chủ động" in refused["reason"]


@pytest.fixture
def refusing_app(instance: Path, database_url: str) -> Iterator[Flask]:
    yield from _app(instance, database_url, ACTIVE_CONTENT_POLICY="refuse")


def test_policy_refuse_refuses_active_content_at_upload(
    refusing_app: Flask, instance: Path
) -> None:
    api = Api(refusing_app)
    response = api.upload("chuyenvien", active_content_pdf())
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "pdf_active_content" and "JavaScript" in body["detail"]
    assert blob_files(instance) == []
    assert api.upload("chuyenvien", simple_pdf()).status_code == 201


@pytest.fixture
def unbounded_app(instance: Path, database_url: str) -> Iterator[Flask]:
    """Limits raised so far that checking the hostile file takes seconds."""
    yield from _app(
        instance,
        database_url,
        MAX_UPLOAD_BYTES=16 << 20,
        PDF_MAX_PAGES=10**6,
        PDF_MAX_OBJECTS=10**7,
        PDF_MAX_SECONDS=3600,
    )


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_request_stopped_by_the_worker_timeout_is_a_503_problem(unbounded_app: Flask) -> None:
    """gunicorn's sync worker stops a request past ``--timeout`` with SIGABRT, whose
    handler raises SystemExit wherever the request is; the same here with SIGALRM."""
    api = Api(unbounded_app)
    api.login("chuyenvien")
    data = many_pages_pdf(100_000)

    def abort(_signum: int, _frame: Any) -> None:
        sys.exit(1)  # gunicorn.workers.base.Worker.handle_abort

    previous = signal.signal(signal.SIGALRM, abort)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        status, mimetype, body = _upload(api, data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    gc.collect()
    assert (status, mimetype, body["code"]) == (503, "application/problem+json", "timeout")
    assert "quá thời gian" in body["detail"]


def test_the_validation_report_lists_active_content(api: Api) -> None:
    body = validate(api, active_content_pdf()).get_json()
    assert (
        "lệnh mở chương trình hoặc tệp khác (Launch) (chú thích trang 1)" in body["active_content"]
    )
    html = validate(api, active_content_pdf(), fmt="html").get_data(as_text=True)
    assert "nội dung chủ động" in html and "biểu mẫu động XFA (tài liệu)" in html
    assert validate(api, simple_pdf()).get_json()["active_content"] == []
