"""workflow: the rules of the coverage ledger: target thresholds, unit levels,
labels, dates in Vietnam time, and who may read the figures or act on them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storage.models import Role, User
from workflow.errors import ForbiddenError
from workflow.vocab import VN_TZ

STATE_CHANGED = "ledger:state_changed"
EXEMPTION_RECORDED = "ledger:exemption_recorded"
BLOC_KINDS = frozenset({"committee", "standing", "office", "board"})
T2_KINDS = BLOC_KINDS
T3_THRESHOLDS = {"bloc": (0.80, 0.90), "grassroots": (0.60, 0.70)}
"""Per level: (from 2025, from 2030)."""


def t3_target(level: str, year: int) -> float:
    """:returns: the T3 threshold of ``level`` (``bloc`` or ``grassroots``) in ``year``."""
    early, late = T3_THRESHOLDS[level]
    return late if year >= 2030 else early


def unit_level(kind: str) -> str:
    """:returns: ``bloc`` for the bloc committee's organs, else ``grassroots``."""
    return "bloc" if kind in BLOC_KINDS else "grassroots"


def vn_date(moment: datetime) -> date:
    """:returns: the calendar date of ``moment`` in Vietnam time."""
    return moment.astimezone(VN_TZ).date()


TARGET_LABELS = {
    "T1": "Văn bản trao đổi dưới dạng điện tử",
    "T2": "Văn bản của Thường trực, các ban được ký số",
    "T3": "Hồ sơ công việc xử lý trên môi trường mạng",
    "T4": "Báo cáo theo chế độ gửi trực tuyến",
}
STATE_LABELS = {
    "electronic": "Điện tử",
    "missing": "Không đạt",
    "exempt": "Miễn trừ",
    "signed_valid": "Ký số hợp lệ",
    "signed_invalid": "Chữ ký không hợp lệ",
    "online": "Xử lý trực tuyến",
    "offline": "Xử lý ngoài hệ thống",
    "submitted": "Gửi đúng hạn",
    "late": "Gửi quá hạn",
}


def can_read(user: User) -> bool:
    """:returns: whether ``user`` may read the coverage figures (auditors, admins, leaders)."""
    return any(user.has_role(r) for r in (Role.AUDITOR, Role.ADMIN, Role.APPROVER, Role.SIGNER))


def require_reader(user: User) -> User:
    """:raises ForbiddenError: ``user`` may not read the figures."""
    if not can_read(user):
        raise ForbiddenError(
            "Chỉ cán bộ kiểm tra, quản trị hoặc lãnh đạo được xem số liệu chỉ tiêu chuyển đổi số."
        )
    return user


def require_auditor(user: User) -> User:
    """:raises ForbiddenError: ``user`` is neither an auditor nor an administrator."""
    if not (user.has_role(Role.AUDITOR) or user.has_role(Role.ADMIN)):
        raise ForbiddenError(
            "Chỉ cán bộ kiểm tra hoặc quản trị hệ thống được thực hiện thao tác này."
        )
    return user


def utc_now() -> datetime:
    """:returns: the current time (UTC, aware)."""
    return datetime.now(UTC)
