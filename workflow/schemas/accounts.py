"""workflow: API schemas of accounts: the token exchange and the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from storage.models import User
from workflow.schemas.base import Moment, Request, Response


class TokenRequest(Request):
    """``POST /auth/token``."""

    username: str = Field(title="tên đăng nhập")
    password: str = Field(title="mật khẩu")


class Token(Response):
    """A bearer token for ``Authorization: Bearer <token>``."""

    token: str
    token_type: Literal["Bearer"]
    expires_at: Moment

    @classmethod
    def of(cls, value: str, expires: datetime) -> Token:
        return cls(token=value, token_type="Bearer", expires_at=expires)  # noqa: S106


class RoleOf(Response):
    """One role the user holds, in one unit."""

    role: str = Field(description="drafter, approver, signer, clerk, auditor, admin")
    unit: str = Field(description="the unit's code")


class Me(Response):
    """``GET /me``: the caller and their roles."""

    id: int
    username: str
    full_name: str
    title: str
    roles: list[RoleOf]

    @classmethod
    def of(cls, user: User) -> Me:
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            title=user.title,
            roles=[RoleOf(role=r.role, unit=r.unit.code) for r in user.roles],
        )


class ApiTokenInfo(Response):
    """One of the caller's live API tokens (the token itself is never shown again)."""

    id: int
    created_at: Moment
    expires_at: Moment
    current: bool = Field(description="whether this request was made with it")


class ApiTokenList(Response):
    """``GET /me/tokens``: the caller's tokens neither revoked nor expired."""

    tokens: list[ApiTokenInfo]


class TokenRevoked(Response):
    """``POST /me/tokens/{id}/revoke``."""

    id: int
    revoked_at: Moment
