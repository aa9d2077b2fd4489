"""Every input checked at the edge (workflow/edge.py and the schemas' bounds): ids out of
range, digits that are not ASCII numbers, NUL and lone surrogates, JSON too deep or too
large, lists too long: a 4xx before any work, problem+json under the API and the
Vietnamese error page in the web interface."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.exc import DataError

from storage.job_models import BulkJob
from tests.conftest import Api
from tests.test_bad_input import assert_problem
from tests.test_web import csrf_token, login

ARABIC_THREE = "\u0663"  # "٣": str.isdigit() is true, int() gives 3
SUPERSCRIPT_TWO = "\u00b2"  # "²": isdigit() is true, int() raises


@pytest.mark.parametrize(
    "path",
    [
        "/documents/99999999999999999999999",
        "/documents/9223372036854775808",
        "/documents/2147483648",
        f"/documents/{ARABIC_THREE}",
        f"/documents/{SUPERSCRIPT_TWO}/file",
        "/tasks/99999999999999999999/approve",
    ],
)
def test_path_ids_beyond_the_database_or_not_ascii_are_404(api: Api, path: str) -> None:
    if path.endswith("approve"):
        response = api.post("truongban", path, json={})
    else:
        response = api.get("chuyenvien", path)
    assert_problem(response, 404)


def test_nul_in_a_path_is_refused(api: Api) -> None:
    assert_problem(api.get("chuyenvien", "/verify/ab%00cd"), 422, "ký tự")


@pytest.mark.parametrize(
    ("query", "word"),
    [
        (f"limit={ARABIC_THREE}", "0-9"),
        (f"unit={SUPERSCRIPT_TWO}", "0-9"),
        ("unit=99999999999", "quá lớn"),
        ("q=a%00b", "NUL"),
        ("after=1234567890123456789012", "quá lớn"),
    ],
)
def test_query_values_are_checked_before_the_view(api: Api, query: str, word: str) -> None:
    assert_problem(api.get("vanthu", f"/documents?{query}"), 422, word)


@pytest.mark.parametrize(
    ("body", "word"),
    [
        (b'{"username": "\\ud800", "password": "x"}', "Unicode"),
        (b'{"username": "a\\u0000b", "password": "x"}', "NUL"),
        (b'{"username": "a", "password": "x", "n": 1' + b"0" * 30 + b"}", "quá lớn"),
        (b"[" * 100_000 + b"]" * 100_000, "lồng nhau"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "lồng nhau"),
    ],
    ids=["surrogate", "nul", "huge-int", "deep-array", "deep-object"],
)
def test_json_bodies_are_checked_before_parsing(api: Api, body: bytes, word: str) -> None:
    response = api.client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 422, word)


def test_json_body_over_the_limit_is_413_before_parsing(api: Api) -> None:
    body = json.dumps({"comment": "x" * (1024 * 1024)})
    response = api.post(
        "chuyenvien", "/tasks/1/approve", data=body, content_type="application/json"
    )
    assert_problem(response, 413, "KB")


def test_nested_deep_but_within_the_limit_still_reaches_the_schema(api: Api) -> None:
    body = b'{"username": "a", "password": "b", "x": ' + b"[" * 30 + b"]" * 30 + b"}"
    response = api.client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 401)  # wrong credentials: the body itself was fine


@pytest.mark.parametrize("count", [60_000, 200_000])
def test_bulk_sign_with_too_many_ids_is_refused_at_once(
    api: Api, count_rows: Any, count: int
) -> None:
    body = json.dumps({"task_ids": list(range(1, count + 1)), "passphrase": "x"})
    response = api.post("bithu", "/bulk-sign", data=body, content_type="application/json")
    assert response.status_code in (413, 422), response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "200" in detail or "KB" in detail
    assert count_rows(BulkJob) == 0


def test_body_integer_fields_are_bounded_by_the_schema(api: Api) -> None:
    response = api.post(
        "vanthu", "/workfiles/paper", json={"title": "Hồ sơ", "unit": 2**40, "closed_on": "x"}
    )
    assert response.status_code == 422


# --- the web interface: the same checks, the Vietnamese error page -------------------


def _page(response: Any, status: int, word: str) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html: str = response.get_data(as_text=True)
    assert word in html
    return html


def test_web_ids_in_paths_and_query_strings(client: FlaskClient) -> None:
    login(client, "vanthu")
    _page(client.get(f"/documents/{ARABIC_THREE}"), 404, "Không tìm thấy")
    _page(client.get("/documents/99999999999999999999"), 404, "Không tìm thấy")
    _page(client.get(f"/registers/outgoing?unit={ARABIC_THREE}"), 422, "0-9")
    _page(client.get("/registers/outgoing?unit=99999999999"), 422, "quá lớn")


def test_web_form_fields(client: FlaskClient) -> None:
    login(client, "bithu")
    token = csrf_token(client, "/")
    response = client.post(
        "/bulk", data={"csrf_token": token, "passphrase": "x", "task_ids": ["1", ARABIC_THREE]}
    )
    _page(response, 422, "0-9")
    response = client.post(
        "/bulk", data={"csrf_token": token, "passphrase": "x", "task_ids": ["9" * 30]}
    )
    _page(response, 422, "quá lớn")


def test_a_value_the_database_refuses_is_a_422_not_a_500(app: Any) -> None:
    """The backstop behind the schemas: a DataError (too long, out of range) is a 422."""

    def refused() -> Any:
        raise DataError("INSERT ...", {}, Exception("value too long for type character(64)"))

    app.add_url_rule("/api/v1/probe-data-error", "probe_data_error", refused)
    app.add_url_rule("/probe-data-error", "probe_data_error_page", refused)
    response = app.test_client().get("/api/v1/probe-data-error")
    assert_problem(response, 422, "vượt giới hạn")
    _page(app.test_client().get("/probe-data-error"), 422, "vượt giới hạn")
