"""workflow: JSON API of one's e-mail notice preferences (``/account/notices``)."""

from __future__ import annotations

from typing import Any

from storage.models import User
from workflow.http import actor, api_blueprint, json_body
from workflow.notices import service
from workflow.schemas import intake as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import get_session

bp = api_blueprint("notices_api", __name__)


def preferences_json(user: User) -> dict[str, Any]:
    return schemas.NoticePreferences(
        mode=user.notify_mode, language=user.language, email=user.email
    ).dump()


@bp.get("/account/notices")
@operation(responses={200: schemas.NoticePreferences})
def show() -> Any:
    """How the caller gets e-mail notices."""
    return preferences_json(actor())


@bp.put("/account/notices")
@operation(body=schemas.NoticePreferencesBody, responses={200: schemas.NoticePreferences})
def update() -> Any:
    """Choose each event, a daily digest or none, and the language of the e-mails."""
    body = parse(schemas.NoticePreferencesBody, json_body())
    db = get_session()
    user = db.get_one(User, actor().id)
    service.set_preferences(db, user, body.mode, body.language)
    db.commit()
    return preferences_json(user)
