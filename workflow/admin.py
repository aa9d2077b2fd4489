"""workflow: the administration blueprint (/admin): administrators only, every other
user gets 403 on every page and form, and the refusal is audited.

The pages live in :mod:`workflow.admin_views` (units, users, settings) and
:mod:`workflow.admin_routes` (the visual route editor), which add their views to ``bp``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask_login import current_user

from storage import audit
from storage.models import Role
from workflow.auth import current_actor
from workflow.errors import ForbiddenError
from workflow.services import get_session

bp = Blueprint("admin", __name__, url_prefix="/admin")

FORBIDDEN = "Trang này chỉ dành cho quản trị hệ thống."

AUDIT_LABELS: dict[str, str] = {
    "admin:access_denied": "Bị từ chối truy cập trang quản trị",
    "unit:created": "Tạo đơn vị",
    "unit:renamed": "Đổi tên đơn vị",
    "unit:moved": "Chuyển đơn vị sang cấp trên khác",
    "unit:deactivated": "Ngừng hoạt động đơn vị",
    "unit:reactivated": "Cho đơn vị hoạt động trở lại",
    "user:updated": "Sửa thông tin người dùng",
    "user:role_granted": "Cấp vai trò cho người dùng",
    "user:role_revoked": "Thu hồi vai trò của người dùng",
    "user:locked": "Khóa tài khoản người dùng",
    "user:unlocked": "Mở khóa tài khoản người dùng",
    "user:password_reset": "Đặt lại mật khẩu người dùng",
}
"""The audit actions of the administration pages and their labels (English in admin.po);
to be listed in :data:`workflow.vocab.AUDIT_LABELS`, which the audit page shows."""


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
