"""workflow: the administration blueprint (/admin): administrators only, every other
user gets 403 on every page and form, and the refusal is audited.

The pages live in :mod:`workflow.admin.web` (units, users, settings) and
:mod:`workflow.admin.route_editor` (the visual route editor), which add their views to ``bp``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask_login import current_user

from storage import audit
from storage.models import Role
from workflow import vocab
from workflow.errors import ForbiddenError
from workflow.http import current_actor
from workflow.services import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")

FORBIDDEN = "Trang này chỉ dành cho quản trị hệ thống."

ADMIN_AUDIT_ACTIONS = (
    "admin:access_denied",
    "unit:created",
    "unit:renamed",
    "unit:moved",
    "unit:deactivated",
    "unit:reactivated",
    "user:updated",
    "user:role_granted",
    "user:role_revoked",
    "user:locked",
    "user:unlocked",
    "user:password_reset",
)
AUDIT_LABELS: dict[str, str] = {a: vocab.AUDIT_LABELS[a] for a in ADMIN_AUDIT_ACTIONS}
"""The audit actions of the administration pages and their labels (kept, like every
audit label, in :data:`workflow.vocab.AUDIT_LABELS`; English in vocab/admin .po)."""


@bp.before_request
def _administrators_only() -> Any:
    """Log in first; then anyone but an administrator gets 403 (audited)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    actor = current_actor()
    if actor.has_role(Role.ADMIN):
        return None
    db = get_session()
    audit.append(
        db,
        "admin:access_denied",
        actor_id=actor.id,
        object_type="admin",
        object_id=None,
        details={"method": request.method, "path": request.path[:200]},
    )
    db.commit()
    raise ForbiddenError(FORBIDDEN)
