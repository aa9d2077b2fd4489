"""Bad input: each case gets a clear 4xx, leaves no file or row, adds no signature."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage.models import Document, Revision, Signature
from tests.conftest import DEMO_PASSWORD, Api, blob_files
from tests.pdfs import encrypted_pdf, simple_pdf, truncated_pdf


def assert_problem(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["detail"]
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


@pytest.mark.parametrize(
    ("data", "status", "code", "word"),
    [
        (b"Hello, this is not a PDF at all", 422, "pdf_not_pdf", "PDF"),
        (b"", 422, None, "rỗng"),
        (truncated_pdf(), 422, None, "PDF"),
        (encrypted_pdf(), 422, "pdf_encrypted", "mật khẩu"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 100, 422, None, "PDF"),
    ],
    ids=["not-pdf", "empty", "truncated", "encrypted", "garbage-after-header"],
)
def test_bad_pdf_is_refused_and_leaves_nothing(
    api: Api,
    instance: Path,
    count_rows: Callable[[Any], int],
    data: bytes,
    status: int,
    code: str | None,
    word: str,
) -> None:
    response = api.upload("chuyenvien", data)
    body = assert_problem(response, status, word)
    if code:
        assert body["code"] == code
    assert count_rows(Document) == 0
    assert count_rows(Revision) == 0
    assert blob_files(instance) == []


# Werkzeug's test client spools a large request body to a temporary file it never closes;
# real HTTP through gunicorn is covered in test_serving.py.
_TEST_CLIENT_SPOOL = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@_TEST_CLIENT_SPOOL
def test_file_over_the_limit_is_413_and_leaves_nothing(
    api: Api, instance: Path, count_rows: Callable[[Any], int]
) -> None:
    big = simple_pdf() + b"%" + b"x" * (3 * 1024 * 1024)  # the test limit is 2 MiB
    assert_problem(api.upload("chuyenvien", big), 413, "MB")
    assert count_rows(Document) == 0
    assert blob_files(instance) == []
    gc.collect()  # release the test client's spool inside this test's warning filter


@_TEST_CLIENT_SPOOL
def test_file_just_over_the_limit_within_the_request_slack(
    api: Api, instance: Path, count_rows: Callable[[Any], int]
) -> None:
    # The request may carry form fields beyond the file; the file itself is capped.
    big = simple_pdf() + b"%" + b"x" * (2 * 1024 * 1024)
    assert_problem(api.upload("chuyenvien", big), 413)
    assert count_rows(Document) == 0
    assert blob_files(instance) == []
    gc.collect()


def test_missing_subject_or_type(api: Api, count_rows: Callable[[Any], int]) -> None:
    assert_problem(api.upload("chuyenvien", simple_pdf(), subject="  "), 422, "trích yếu")
    assert_problem(api.upload("chuyenvien", simple_pdf(), doc_type="XYZ"), 422, "Loại văn bản")
    assert count_rows(Document) == 0


def test_missing_file(api: Api) -> None:
    response = api.post(
        "chuyenvien",
        "/documents",
        data={"subject": "x", "doc_type": "CV"},
        content_type="multipart/form-data",
    )
    assert_problem(response, 422, "tệp")


def test_only_drafters_upload(api: Api) -> None:
    assert_problem(api.upload("kiemtra", simple_pdf()), 403)


def sign_task(api: Api, doc_id: int) -> dict[str, Any]:
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    return api.task_for("bithu", doc_id)


def test_wrong_passphrase_signs_nothing(
    api: Api, submitted_document: Callable[..., int], count_rows: Callable[[Any], int]
) -> None:
    doc_id = submitted_document()
    task = sign_task(api, doc_id)
    response = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": "sai"})
    assert_problem(response, 403, "Mật khẩu")
    assert count_rows(Signature) == 0
    doc = api.get("bithu", f"/documents/{doc_id}").get_json()
    assert doc["state"] == "awaiting_signature" and doc["revisions"] == 1
    actions = [h["action"] for h in doc["history"]]
    assert "document:sign_failed" in actions and "document:signed" not in actions
    # The task is still open and the right passphrase still works.
    ok = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert ok.status_code == 200


@pytest.mark.usefixtures("clock")
def test_repeated_wrong_passphrases_lock_the_key(
    api: Api, submitted_document: Callable[..., int]
) -> None:
    doc_id = submitted_document()
    task = sign_task(api, doc_id)
    for _ in range(5):
        api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": "sai"})
    locked = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert_problem(locked, 429, "tạm khóa")


def test_a_task_that_is_not_the_callers(api: Api, submitted_document: Callable[..., int]) -> None:
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    # The drafter is party to the document but the task is the board head's.
    assert_problem(api.post("chuyenvien", f"/tasks/{task['id']}/approve", json={}), 403)
    # The clerk is not party to it at all: the task does not exist for them.
    assert_problem(api.post("vanthu", f"/tasks/{task['id']}/approve", json={}), 404)
    assert_problem(api.post("vanthu", "/tasks/999999/approve", json={}), 404)


def test_second_approval_of_the_same_task(api: Api, submitted_document: Callable[..., int]) -> None:
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    assert_problem(
        api.post("truongban", f"/tasks/{task['id']}/approve", json={}), 409, "đã được xử lý"
    )


def test_signing_an_approval_task_is_refused(
    api: Api, submitted_document: Callable[..., int]
) -> None:
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    assert_problem(
        api.post("truongban", f"/tasks/{task['id']}/sign", json={"passphrase": "x"}), 409
    )


def test_documents_of_another_unit_are_invisible(
    api: Api, submitted_document: Callable[..., int]
) -> None:
    doc_id = submitted_document()
    for path in (
        f"/documents/{doc_id}",
        f"/documents/{doc_id}/file",
        f"/documents/{doc_id}/validation",
    ):
        assert_problem(api.get("vanthu", path), 404)
    assert_problem(api.post("vanthu", f"/documents/{doc_id}/submit"), 404)
    listed = api.get("vanthu", "/documents").get_json()["documents"]
    assert listed == []
    # The auditor sees everything, read-only.
    assert api.get("kiemtra", f"/documents/{doc_id}").status_code == 200


def test_submit_twice_and_by_someone_else(api: Api, submitted_document: Callable[..., int]) -> None:
    doc_id = submitted_document()
    assert_problem(api.post("chuyenvien", f"/documents/{doc_id}/submit"), 409)
    assert_problem(api.post("truongban", f"/documents/{doc_id}/submit"), 403)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}],
    ids=["none", "bad-token", "wrong-scheme"],
)
def test_api_needs_a_valid_token(api: Api, headers: dict[str, str]) -> None:
    response = api.client.get("/api/v1/tasks", headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.usefixtures("clock")
def test_bad_credentials_and_throttling(api: Api) -> None:
    for _ in range(5):
        bad = api.client.post("/api/v1/auth/token", json={"username": "bithu", "password": "x"})
        assert_problem(bad, 401, "không đúng")
    locked = api.client.post(
        "/api/v1/auth/token", json={"username": "bithu", "password": DEMO_PASSWORD}
    )
    assert_problem(locked, 429, "thử lại sau")
    unknown = api.client.post("/api/v1/auth/token", json={"username": "ai", "password": "x"})
    assert_problem(unknown, 401, "không đúng")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1,2]", b'{"username": 1, "password": 2}'],
    ids=["text", "list", "types"],
)
def test_malformed_json(api: Api, body: bytes) -> None:
    response = api.client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 422)


def test_unknown_api_path_is_problem_json(api: Api) -> None:
    response = api.get("chuyenvien", "/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
