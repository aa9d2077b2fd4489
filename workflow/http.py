"""workflow: what every web and API view shares: problem+json and error pages, the acting
user (session cookie or bearer token), the JSON body, CSRF, and the factory of the
``/api/v1`` blueprints each domain package registers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import inspect

from storage.models import User
from workflow.accounts import service as accounts
from workflow.accounts.throttle import ThrottlePolicy
from workflow.errors import AuthenticationError, InvalidInputError, WorkflowError
from workflow.i18n import N_, translate
from workflow.services import get_services, get_session

log = logging.getLogger("trinhky")
csrf = CSRFProtect()

API_PREFIX = "/api/v1"

CONFLICT_MESSAGE = N_(
    "Văn bản vừa được người khác xử lý cùng lúc. Hãy tải lại trang để xem trạng thái mới."
)

HTTP_TITLES = {
    400: "Yêu cầu không hợp lệ",
    401: "Chưa xác thực",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Thao tác không được hỗ trợ",
    409: "Xung đột trạng thái",
    413: "Tệp quá lớn",
    422: "Dữ liệu không hợp lệ",
    429: "Tạm khóa",
    500: "Lỗi hệ thống",
}

# The API's own titles (kept as the contract has them).
API_TITLES = {401: "Chưa xác thực", 403: "Không có quyền", 404: "Không tìm thấy", 409: "Xung đột"}


def problem(status: int, title: str, detail: str, code: str | None = None) -> Response:
    """:returns: an RFC 9457 ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def problem_for(exc: WorkflowError) -> Response:
    """:returns: the problem+json answer to a domain error raised under the API."""
    if exc.status >= 500:
        log.error("API error %s: %s", exc.code, exc.message, exc_info=exc.__cause__)
    response = problem(exc.status, API_TITLES.get(exc.status, "Lỗi"), exc.message, exc.code)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="trinhky"'
    return response


def wants_json() -> bool:
    """:returns: whether the request is an API call (answered in problem+json)."""
    return request.path.startswith("/api/")


def error_response(status: int, message: str, code: str | None = None) -> Any:
    """Answer an error as problem+json under ``/api/`` and as a page elsewhere (the page in
    the interface language: ``message`` is translated when the catalogue has it)."""
    title = HTTP_TITLES.get(status, N_("Lỗi"))
    if wants_json():
        return problem(status, title, message, code)
    page = render_template(
        "errors/error.html", status=status, title=title, message=translate(message)
    )
    return page, status


def current_actor() -> User:
    """:returns: the logged-in user (session cookie), attached to the request's session."""
    session = get_session()
    loaded = current_user._get_current_object()
    state = inspect(loaded, raiseerr=False) if isinstance(loaded, User) else None
    if state is not None and state.detached and state.key is not None:
        # flask-login's user loader read the user and their roles a moment ago, in a
        # short session of its own: attach that copy rather than read it all again.
        user = session.identity_map.get(state.key) or session.merge(loaded, load=False)
    else:
        user = session.get(User, int(current_user.get_id()))
    if user is None or not user.active:
        raise AuthenticationError(_("Tài khoản không còn hoạt động."))
    return user


def client_address() -> str:
    """:returns: the client's address: the connection's, or with ``TRUSTED_PROXY_HOPS``
    set, the entry that many hops from the right of ``X-Forwarded-For`` (what the nearest
    trusted proxy saw; anything further left is the client's own claim)."""
    hops = get_services().settings.trusted_proxy_hops
    if hops:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return (request.remote_addr or "unknown")[:64]


def throttle_policy() -> ThrottlePolicy:
    """:returns: the login throttling of the settings."""
    settings = get_services().settings
    return ThrottlePolicy(
        free_failures=settings.login_max_failures,
        max_delay=settings.login_lock_seconds,
        source_max=settings.login_source_max_failures,
        source_window=settings.login_source_window_seconds,
    )


def actor() -> User:
    """:returns: the API caller (authenticated by the bearer token of the request)."""
    user: User = g.api_user
    return user


def json_body() -> dict[str, Any]:
    """:returns: the request's JSON object (``{}`` for an empty body).

    :raises InvalidInputError: the body is not a JSON object.
    """
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInputError("Nội dung yêu cầu phải là một đối tượng JSON.")
    return body


F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark an API view as reachable without a bearer token."""
    view.trinhky_public = True  # type: ignore[attr-defined]
    return view


def authenticate_bearer() -> None:
    """``before_request`` of every API blueprint: the bearer token names the caller."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "trinhky_public", False):
        return
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "Thiếu mã truy cập: gửi tiêu đề 'Authorization: Bearer <token>' "
            "lấy từ POST /api/v1/auth/token."
        )
    db = get_session()
    found = accounts.token_owner(db, token.strip())
    if found is None:
        raise AuthenticationError("Mã truy cập không hợp lệ hoặc đã hết hạn; hãy lấy mã mới.")
    row, user = found
    g.api_user = user
    g.api_token_id = row.id


def api_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """:returns: a blueprint under ``/api/v1`` (plus ``url_prefix``) whose views need a
    bearer token (except those marked :func:`public`) and answer errors in problem+json.
    The package's ``register(app)`` registers it with :func:`register_api`."""
    bp = Blueprint(name, import_name, url_prefix=API_PREFIX + url_prefix)
    bp.before_request(authenticate_bearer)
    bp.register_error_handler(WorkflowError, problem_for)
    return bp


def register_api(app: Any, *blueprints: Blueprint) -> None:
    """Register API blueprints: bearer tokens, never cookies, so no CSRF."""
    for bp in blueprints:
        app.register_blueprint(bp)
        csrf.exempt(bp)
