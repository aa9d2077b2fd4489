"""workflow: the application factory: config, services, login, blueprints, errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask import session as flask_session
from flask_babel import gettext as _
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from storage.db import is_lock_upgrade_failure, is_sqlite, make_engine, make_session_factory
from storage.models import User
from workflow import (
    accounts,
    admin,
    audit,
    coverage,
    documents,
    intake,
    jobs,
    notices,
    openapi,
    portal,
    records,
    registry,
    search,
    setup,
    signatures,
    transparency,
    verification,
    viewer,
    vocab,
    webhooks,
)
from workflow.accounts.service import SESSION_GENERATION
from workflow.edge import init_edge
from workflow.errors import WorkflowError
from workflow.http import CONFLICT_MESSAGE, csrf, error_response
from workflow.i18n import N_, init_i18n, translate
from workflow.services import (
    COMMITTED,
    EXTENSION_KEY,
    WRITE_FROM_START,
    Services,
    close_session,
)
from workflow.settings import DEFAULTS, Settings, instance_folder, read_or_create_secret

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("trinhky")

# The domain packages, each adding its pages, API and commands with ``register(app)``.
PACKAGES = (
    accounts,
    documents,
    signatures,
    viewer,
    registry,
    records,
    verification,
    audit,
    coverage,
    jobs,
    admin,
    setup,
    search,
    webhooks,
    portal,
    transparency,
    intake,
    notices,
)


class _RunAgainAsWriter(Exception):
    """A reader's transaction lost the SQLite write lock: run the request again."""


class TrinhKyFlask(Flask):
    """Flask, running a request once more as a writer when its deferred SQLite
    transaction could not take the write lock (``storage.db.is_lock_upgrade_failure``).

    Requests begin deferred so that reads never wait on writers; a request that read and
    then writes loses the lock when another writer holds it or committed meanwhile, and
    has written nothing (and committed nothing: a request that committed is not run
    again). Its second run begins ``BEGIN IMMEDIATE`` and queues for the lock, so it
    reads current data (gap-free numbering holds). Uploaded files are rewound.
    """

    def full_dispatch_request(self) -> Response:
        try:
            return super().full_dispatch_request()
        except _RunAgainAsWriter:
            close_session()
            g.setdefault(WRITE_FROM_START, True)
            for upload in request.files.values():
                upload.stream.seek(0)
            return super().full_dispatch_request()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the TrinhKy application.

    Config layers: defaults, ``instance/config.py`` (if any), ``TRINHKY_*`` environment
    variables, then ``test_config``; validated once into :class:`Settings`.
    """
    app = TrinhKyFlask(
        __name__,
        instance_path=str(instance_folder(test_config, ROOT / "instance")),
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
        request_session_factory=make_session_factory(engine, deferred=True),
        blobs=settings.blob_store(),
        secret_key=str(app.config["SECRET_KEY"]),
    )
    app.extensions[EXTENSION_KEY] = services
    app.teardown_appcontext(close_session)

    _init_login(app, services)
    init_edge(app)  # before any route: the id converter applies to every <int:…>
    csrf.init_app(app)
    init_i18n(app)
    for package in PACKAGES:
        package.register(app)
    app.register_blueprint(openapi.bp)
    _register_errors(app)
    _register_template_helpers(app)
    app.after_request(_security_headers)
    return app


def _init_login(app: Flask, services: Services) -> None:
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = N_("Vui lòng đăng nhập để tiếp tục.")
    login.login_message_category = "info"
    login.localize_callback = translate  # flashed in the page's language
    login.session_protection = "strong"
    # The loader's one query needs no transaction around it: on PostgreSQL it runs
    # without one (no BEGIN and ROLLBACK round trips on every request).
    user_sessions = (
        services.read_session_factory
        if is_sqlite(services.engine)
        else make_session_factory(
            services.engine.execution_options(isolation_level="AUTOCOMMIT"), readonly=True
        )
    )

    @login.user_loader
    def load_user(user_id: str) -> User | None:
        # A short session of its own: the request's transaction starts only when the
        # view needs it, after any upload has been streamed to disk.
        if not user_id.isdigit():
            return None
        with user_sessions() as session:
            # One query: the user with their roles and the roles' units (every request).
            user = (
                session.scalars(
                    select(User).options(joinedload(User.roles)).where(User.id == int(user_id))
                )
                .unique()
                .first()
            )
            if user is None or not user.active:
                return None
            # A cookie from before the last logout or password reset has ended.
            if flask_session.get(SESSION_GENERATION) != user.session_generation:
                return None
            session.expunge_all()
            return user


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
        if is_lock_upgrade_failure(exc) and not g.get(WRITE_FROM_START) and not g.get(COMMITTED):
            raise _RunAgainAsWriter from exc
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
    # The labels of vocab.py, shown through the ``tr`` filter (translated when shown).
    app.jinja_env.globals.update(
        DOC_TYPES=vocab.DOC_TYPES,
        URGENCY_LABELS=vocab.URGENCY_LABELS,
        ROUTE_URGENCY_LABELS=vocab.ROUTE_URGENCY_LABELS,
        CLASSIFICATION_LABELS=vocab.CLASSIFICATION_LABELS,
        STATE_LABELS=vocab.STATE_LABELS,
        ACTION_LABELS=vocab.ACTION_LABELS,
        STAGE_ACTION_LABELS=vocab.STAGE_ACTION_LABELS,
        ROUTE_KIND_LABELS=vocab.ROUTE_KIND_LABELS,
        UNIT_KIND_LABELS=vocab.UNIT_KIND_LABELS,
        ENTRY_STATE_LABELS=vocab.ENTRY_STATE_LABELS,
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
