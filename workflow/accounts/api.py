"""workflow: the accounts' JSON API under /api/v1: bearer tokens and the caller."""

from __future__ import annotations

from typing import Any

from flask import g

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
        source=http.client_address(),
        policy=http.throttle_policy(),
        via="api",
    )
    if result.user is None:
        db.commit()
        if result.locked:
            answer = http.problem_for(LockedError(result.error or ""))
            answer.headers["Retry-After"] = str(result.retry_after)
            return answer
        raise AuthenticationError(result.error or accounts.BAD_CREDENTIALS)
    value, expires = accounts.issue_token(db, result.user, services.settings.token_ttl_seconds)
    db.commit()
    return schemas.Token.of(value, expires).dump()


@bp.get("/me")
@operation(responses={200: schemas.Me})
def me() -> Any:
    """The caller and their roles."""
    return schemas.Me.of(http.actor()).dump()


@bp.get("/me/tokens")
@operation(responses={200: schemas.ApiTokenList})
def my_tokens() -> Any:
    """The caller's API tokens that are neither revoked nor expired."""
    rows = accounts.live_tokens(get_session(), http.actor())
    current = g.get("api_token_id")
    items = [
        schemas.ApiTokenInfo(
            id=r.id, created_at=r.created_at, expires_at=r.expires_at, current=r.id == current
        )
        for r in rows
    ]
    return schemas.ApiTokenList(tokens=items).dump()


@bp.post("/me/tokens/<int:token_id>/revoke")
@operation(responses={200: schemas.TokenRevoked})
def revoke_my_token(token_id: int) -> Any:
    """Revoke one of the caller's own API tokens (this one included)."""
    db = get_session()
    row = accounts.revoke_own_token(db, http.actor(), token_id, via="api")
    db.commit()
    assert row.revoked_at is not None  # noqa: S101 - just set
    return schemas.TokenRevoked(id=row.id, revoked_at=row.revoked_at).dump()
