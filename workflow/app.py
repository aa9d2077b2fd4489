"""workflow: the application factory: config, services, login, blueprints, errors."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from storage.blobs import FilesystemBlobStore
from storage.db import make_engine, make_session_factory
from storage.models import User
from workflow import vocab
from workflow.errors import WorkflowError
from workflow.i18n import N_, init_i18n, translate
from workflow.services import EXTENSION_KEY, Services, close_session
from workflow.settings import DEFAULTS, Settings, read_or_create_secret

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("trinhky")
csrf = CSRFProtect()

CONFLICT_MESSAGE = N_(
    "Văn bản vừa được người khác xử lý cùng lúc. Hãy tải lại trang để xem trạng thái mới."
)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the TrinhKy application.

    Config layers: defaults, ``instance/config.py`` (if any), ``TRINHKY_*`` environment
    variables, then ``test_config``; validated once into :class:`Settings`.
    """
    app = Flask(
        __name__,
        instance_path=str(
            (test_config or {}).get("INSTANCE_PATH")
            or os.environ.get("TRINHKY_INSTANCE_PATH")
            or ROOT / "instance"
        ),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("TRINHKY")
    if test_config:
        app.config.from_mapping(test_config)
    settings = Settings.from_mapping(app.config, Path(app.instance_path))
    settings.instance_path.mkdir(parents=True, exist_ok=True)

    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_or_create_secret(settings.instance_path / "secret_key")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,  # form fields beside the file
        SESSION_COOKIE_NAME="trinhky_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    engine = make_engine(settings.database_url)
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        read_session_factory=make_session_factory(engine, readonly=True),
        blobs=FilesystemBlobStore(settings.blob_dir),
    )
    app.extensions[EXTENSION_KEY] = services
    app.teardown_appcontext(close_session)

    _init_login(app, services)
    csrf.init_app(app)
    _register_blueprints(app)
    init_i18n(app)
    _register_errors(app)
    _register_template_helpers(app)
    app.after_request(_security_headers)

    _register_cli(app)
    return app


def _register_cli(app: Flask) -> None:
    from workflow.audit.web import register_audit_cli
    from workflow.audit.bundle import register_bundle_cli
    from workflow.setup.cli import register_cli
    from workflow.coverage.web import register_coverage_cli
    from workflow.records.web import register_records_cli

    for register in (
        register_cli,
        register_audit_cli,
        register_records_cli,
        register_coverage_cli,
        register_bundle_cli,
    ):
        register(app)


def _init_login(app: Flask, services: Services) -> None:
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = N_("Vui lòng đăng nhập để tiếp tục.")
    login.login_message_category = "info"
    login.localize_callback = translate  # flashed in the page's language
    login.session_protection = "strong"

    @login.user_loader
    def load_user(user_id: str) -> User | None:
        # A short session of its own: the request's transaction starts only when the
        # view needs it, after any upload has been streamed to disk.
        if not user_id.isdigit():
            return None
        with services.read_session_factory() as session:
            user = session.scalars(
                select(User).options(selectinload(User.roles)).where(User.id == int(user_id))
            ).first()
            if user is None or not user.active:
                return None
            session.expunge_all()
            return user


def _register_blueprints(app: Flask) -> None:
    # These modules add their routes to the /api/v1 blueprint: import them first.
    import workflow.records.api
    import workflow.registry.api
    import workflow.documents.actions_api
    import workflow.signatures.certificates
    import workflow.coverage.web
    import workflow.signatures.external
    import workflow.verification.web  # noqa: F401
    from workflow.documents.api import bp as api_bp
    from workflow.accounts.web import bp as auth_bp
    from workflow.signatures.bulk_web import bp as bulk_bp
    from workflow.audit.bundle import bp as bundle_bp
    from workflow.signatures.certificates import pages as certificates_bp
    from workflow.coverage.web import bp as coverage_bp
    from workflow.documents.web import bp as documents_bp
    from workflow.signatures.public_web import bp as public_bp
    from workflow.records.web import bp as records_bp
    from workflow.registry.web import bp as registry_bp
    from workflow.documents.tasks_web import bp as tasks_bp
    from workflow.verification.web import pages_bp as verify_bp
    from workflow.viewer.web import bp as viewer_bp

    for blueprint in (
        auth_bp,
        documents_bp,
        tasks_bp,
        registry_bp,
        records_bp,
        coverage_bp,
        certificates_bp,
        bundle_bp,
        bulk_bp,
        verify_bp,
        public_bp,
        viewer_bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, never cookies

    from workflow.signatures.trust_web import bp as trust_bp

    app.register_blueprint(trust_bp)
    csrf.exempt(trust_bp)  # OCSP and TSA clients post DER, with no session

    from workflow.audit.web import api_bp as audit_api_bp
    from workflow.audit.web import bp as audit_bp

    app.register_blueprint(audit_bp)
    app.register_blueprint(audit_api_bp)
    csrf.exempt(audit_api_bp)

    # The administration pages add themselves to the /admin blueprint.
    import workflow.admin.route_editor
    import workflow.admin.web  # noqa: F401
    from workflow.admin.blueprint import bp as admin_bp

    app.register_blueprint(admin_bp)

    # The periodic jobs: /api/v1/jobs, the dashboard's jobs panel, `flask scheduler`.
    from workflow import jobs

    jobs.register(app)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


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


def error_response(status: int, message: str, code: str | None = None) -> Any:
    """Answer an error as problem+json under ``/api/`` and as a page elsewhere (the page in
    the interface language: ``message`` is translated when the catalogue has it)."""
    title = HTTP_TITLES.get(status, N_("Lỗi"))
    if _wants_json():
        return problem(status, title, message, code)
    page = render_template(
        "errors/error.html", status=status, title=title, message=translate(message)
    )
    return page, status


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


def _register_errors(app: Flask) -> None:
    @app.errorhandler(WorkflowError)
    def on_workflow_error(exc: WorkflowError) -> Any:
        if exc.status >= 500:
            log.error("workflow error %s: %s", exc.code, exc.message, exc_info=exc.__cause__)
        return error_response(exc.status, exc.message, exc.code)

    @app.errorhandler(StaleDataError)
    def on_stale(_exc: StaleDataError) -> Any:
        return error_response(409, _(CONFLICT_MESSAGE), "concurrent_update")

    @app.errorhandler(OperationalError)
    def on_operational(exc: OperationalError) -> Any:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in ("40P01", "40001"):  # deadlock, serialization failure: a concurrent change
            return error_response(409, _(CONFLICT_MESSAGE), "concurrent_update")
        if "database is locked" in str(exc.orig):
            return error_response(
                503, _("Hệ thống đang bận xử lý yêu cầu khác. Hãy thử lại sau giây lát."), "busy"
            )
        log.exception("database error on %s %s", request.method, request.path)
        return error_response(
            500,
            _("Đã có lỗi cơ sở dữ liệu. Thao tác chưa được thực hiện; hãy thử lại."),
            "internal",
        )

    @app.errorhandler(CSRFError)
    def on_csrf(_exc: CSRFError) -> Any:
        return error_response(
            400, _("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "csrf"
        )

    @app.errorhandler(413)
    def on_too_large(_exc: Exception) -> Any:
        limit = app.extensions[EXTENSION_KEY].settings.max_upload_bytes
        return error_response(
            413,
            _(
                "Tệp vượt quá dung lượng cho phép (%(mb)s MB). "
                "Hãy giảm dung lượng tệp rồi tải lên lại.",
                mb=limit // (1024 * 1024),
            ),
            "too_large",
        )

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException) -> Any:
        status = exc.code or 500
        messages = {
            404: _("Không tìm thấy trang hoặc tài nguyên yêu cầu."),
            405: _("Thao tác này không được hỗ trợ tại địa chỉ này."),
            400: _("Yêu cầu không hợp lệ. Hãy kiểm tra dữ liệu đã nhập."),
        }
        return error_response(status, messages.get(status, exc.description or ""), None)

    @app.errorhandler(Exception)
    def on_unexpected(exc: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(
            500,
            _("Đã có lỗi hệ thống. Thao tác chưa được thực hiện; hãy thử lại hoặc báo quản trị."),
            "internal",
        )


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["vn_time"] = vocab.vn_display
    app.jinja_env.filters["vn_iso"] = vocab.vn_iso
    app.jinja_env.globals.update(
        DOC_TYPES=vocab.DOC_TYPES,
        STATE_LABELS=vocab.STATE_LABELS,
        ACTION_LABELS=vocab.ACTION_LABELS,
        AUDIT_LABELS=vocab.AUDIT_LABELS,
        ROLE_LABELS=vocab.ROLE_LABELS,
    )


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    )
    return response
