"""workflow: the accounts' JSON API under /api/v1: bearer tokens and the caller."""

from __future__ import annotations

from typing import Any

from workflow import http
from workflow.accounts import service as accounts
from workflow.errors import AuthenticationError, LockedError
from workflow.http import api_blueprint, public
from workflow.schemas import accounts as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import get_services, get_session

bp = api_blueprint("accounts_api", __name__)


@bp.post("/auth/token")
@public
@operation(body=schemas.TokenRequest, responses={200: schemas.Token}, errors=(429,))
def token() -> Any:
    """Exchange a username and password for a bearer token."""
    body = parse(schemas.TokenRequest, http.json_body())
    username, password = body.username, body.password
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
    return schemas.Token.of(value, expires).dump()


@bp.get("/me")
@operation(responses={200: schemas.Me})
def me() -> Any:
    """The caller and their roles."""
    return schemas.Me.of(http.actor()).dump()
