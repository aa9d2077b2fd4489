"""workflow: every request checked at the edge, before any view (or the bearer-token
check) does work: ids in the path within the database's integer range, query strings
and form fields free of NUL, lone surrogates and digits that are not ASCII numbers, JSON
bodies within their size and nesting depth *before* they are parsed and free of NUL,
lone surrogates and integers beyond 64 bits. A refusal is a 4xx: problem+json under the
API, the Vietnamese error page elsewhere (through :class:`InvalidInputError`).

The request schemas (:mod:`workflow.schemas`) then check each field's type, range and
length; this module holds what is true of every field, whatever its schema."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

from flask import Flask, request
from sqlalchemy.exc import DataError
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter, ValidationError

from workflow.errors import InvalidInputError, TooLargeError
from workflow.http import error_response
from workflow.pdf_policy import UploadPolicy, use_policy
from workflow.schemas.base import MAX_ID, MAX_INT
from workflow.services import get_services

log = logging.getLogger("trinhky")
_ASCII_NUMBER = re.compile(r"[0-9]+")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SECRET_FIELDS = frozenset({"password", "passphrase", "new_password", "current_password"})
"""Fields whose value is the user's own secret: any text is allowed (digits included)."""
_ID_FIELD = re.compile(
    r"(?:^|_)(?:id|ids|unit|units|assignee|recipients|document|task|revoke|parent|entry"
    r"|obligation|workfile|file|from|to)$"
)
"""Names of query and form fields that carry ids (``unit``, ``task_ids``, ``revoke``…)."""


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: ASCII digits only (Python's ``\\d`` takes any Unicode
    digit) and at most :data:`MAX_ID`, the database's integer range; anything else does
    not match the route, so it is a 404 like an id that does not exist."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number


def init_edge(app: Flask) -> None:
    """Install the id converter (before any route is added), the request checks and the
    answer to a request stopped by the server (:class:`AbortedRequests`)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_request)
    app.wsgi_app = AbortedRequests(app.wsgi_app)  # type: ignore[method-assign]
    app.register_error_handler(DataError, _on_data_error)


def _on_data_error(exc: DataError) -> Any:
    """The database refused a value (too long for its column, out of its integer range):
    the schemas should have, so it is logged, and the caller gets the 422 it deserved."""
    log.warning(
        "value refused by the database on %s %s: %s", request.method, request.path, exc.orig
    )
    return error_response(
        422,
        "Dữ liệu gửi lên vượt giới hạn cho phép (quá dài hoặc quá lớn). Hãy kiểm tra lại.",
        "invalid_input",
    )


_ABORTED_DETAIL = (
    "Yêu cầu xử lý quá thời gian cho phép nên máy chủ đã dừng nó; thao tác chưa được thực "
    "hiện. Hãy thử lại sau ít phút; nếu lặp lại, hãy báo quản trị hệ thống."
)
_ABORTED_PAGE = (
    '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Quá thời gian xử lý'
    "</title></head><body><h1>Quá thời gian xử lý</h1><p>{detail}</p>"
    '<p><a href="/">Về trang chủ</a></p></body></html>'
)


class AbortedRequests:
    """WSGI middleware: a request the server stops (gunicorn's worker time-out raises
    ``SystemExit`` in the worker through ``SIGABRT``; so does a quick shutdown) is
    answered 503, in problem+json under ``/api/`` and as a Vietnamese page elsewhere,
    instead of gunicorn's HTML 500. The worker still exits after the answer. (Nothing
    can be said once the response has started.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started: list[bool] = []

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            started.append(True)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        except SystemExit:
            api = str(environ.get("PATH_INFO", "")).startswith("/api/")
            if api:
                body = json.dumps(
                    {
                        "type": "about:blank",
                        "title": "Quá thời gian xử lý",
                        "status": 503,
                        "detail": _ABORTED_DETAIL,
                        "code": "timeout",
                    },
                    ensure_ascii=False,
                ).encode()
                media = "application/problem+json"
            else:
                body = _ABORTED_PAGE.format(detail=_ABORTED_DETAIL).encode()
                media = "text/html; charset=utf-8"
            start_response(
                "503 Service Unavailable",
                [
                    ("Content-Type", media),
                    ("Content-Length", str(len(body))),
                    ("Retry-After", "60"),
                    ("Connection", "close"),
                ],
                # The server decides whether a started response can still be replaced.
                sys.exc_info() if started else None,
            )
            return [body]


def check_request() -> None:
    """``before_request`` of the app: the checks every request passes.

    :raises InvalidInputError: (422) a value no field may have.
    :raises TooLargeError: (413) a JSON body over the limit.
    """
    settings = get_services().settings
    use_policy(
        UploadPolicy(
            limits=settings.pdf_limits,
            refuse_active_content=settings.active_content_policy == "refuse",
        )
    )
    if "\x00" in request.path:
        raise InvalidInputError("Địa chỉ yêu cầu chứa ký tự không hợp lệ.", code="invalid_input")
    check_fields(request.args, "tham số")
    if _is_json(request.mimetype):
        _check_json(settings.max_json_bytes, settings.max_json_depth)
    elif request.mimetype == "application/x-www-form-urlencoded" or (
        request.mimetype == "multipart/form-data" and (request.content_length or 0) <= 1 << 20
    ):
        check_fields(request.form, "trường")
    # A larger multipart body is an upload: its fields are checked once the file has
    # been streamed, by workflow.uploads.stage_upload, after the caller is known.


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def check_fields(fields: MultiDict[str, str], what: str) -> None:
    """Every value of a query string or form.

    :raises InvalidInputError: naming the field.
    """
    for key, value in fields.items(multi=True):
        if not isinstance(key, str) or not isinstance(value, str):
            continue  # (werkzeug keeps a part it could not decode as None)
        problem = _text_problem(key) or _text_problem(value)
        if problem is None and key not in _SECRET_FIELDS:
            problem = _number_problem(key, value)
        if problem:
            raise InvalidInputError(
                f"{what.capitalize()} '{_shown(key)}' {problem}", code="invalid_input"
            )


def _shown(key: str) -> str:
    return _SURROGATE.sub("?", key.replace("\x00", "?"))[:60]


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "chứa ký tự NUL (mã 0), không được phép."
    if _SURROGATE.search(value):
        return "chứa ký tự Unicode không hợp lệ (nửa cặp thay thế)."
    return None


def _number_problem(key: str, value: str) -> str | None:
    text = value.strip()
    if text.isdigit() and not _ASCII_NUMBER.fullmatch(text):
        return "phải viết bằng chữ số 0-9 (không dùng chữ số của hệ chữ khác)."
    if _ASCII_NUMBER.fullmatch(text):
        if _ID_FIELD.search(key.lower()) and int(text) > MAX_ID:
            return f"là mã quá lớn (tối đa {MAX_ID})."
        if len(text) > 18:
            return "là số quá lớn (tối đa 18 chữ số)."
    return None


def _check_json(max_bytes: int, max_depth: int) -> None:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise _too_large(max_bytes)
    data = request.get_data(cache=True)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        return
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b'""', data)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > max_depth:
            raise InvalidInputError(
                f"Nội dung JSON lồng nhau quá sâu (tối đa {max_depth} mức).", code="invalid_input"
            )
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: the view answers that (422, "phải là một đối tượng JSON")
    problem = _json_problem(body)
    if problem:
        raise InvalidInputError(problem, code="invalid_input")


def _too_large(limit: int) -> TooLargeError:
    return TooLargeError(
        f"Nội dung yêu cầu quá lớn (tối đa {limit // 1024} KB). Hãy gửi ít dữ liệu hơn.",
        code="too_large",
    )


def _json_problem(body: Any) -> str | None:
    """A value no field may hold, anywhere in the body (walked without recursion)."""
    pending: list[Any] = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return f"Nội dung JSON có chuỗi {problem}"
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            return f"Nội dung JSON có số nguyên quá lớn (tối đa {MAX_INT})."
    return None


def check_upload_fields(fields: MultiDict[str, str]) -> None:
    """The text fields of an upload's form (checked once the file is on disk)."""
    check_fields(fields, "trường")
