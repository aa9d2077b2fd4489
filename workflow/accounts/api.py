"""workflow: the accounts' JSON API under /api/v1: bearer tokens and the caller."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from workflow import http
from workflow.accounts import service as accounts
from workflow.errors import AuthenticationError, InvalidInputError, LockedError
from workflow.http import api_blueprint, public
from workflow.services import get_services, get_session
from workflow.vocab import vn_iso

bp = api_blueprint("accounts_api", __name__)


@bp.post("/auth/token")
@public
def token() -> Any:
    """Exchange a username and password for a bearer token."""
    body = http.json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidInputError("Cần 'username' và 'password' (chuỗi).")
    services = get_services()
    db = get_session()
    result = accounts.authenticate(
        db,
        services.hasher,
        username,
        password,
        max_failures=services.settings.login_max_failures,
        lock_seconds=services.settings.login_lock_seconds,
        via="api",
    )
    if result.user is None:
        db.commit()
        if result.locked:
            raise LockedError(result.error or "")
        raise AuthenticationError(result.error or accounts.BAD_CREDENTIALS)
    value, expires = accounts.issue_token(db, result.user, services.settings.token_ttl_seconds)
    db.commit()
    return jsonify({"token": value, "token_type": "Bearer", "expires_at": vn_iso(expires)})


@bp.get("/me")
def me() -> Any:
    """The caller and their roles."""
    user = http.actor()
    return jsonify(
        {
            "id": user.id,
            "username": user.username,
            "full_name": user.full_name,
            "title": user.title,
            "roles": [{"role": r.role, "unit": r.unit.code} for r in user.roles],
        }
    )
