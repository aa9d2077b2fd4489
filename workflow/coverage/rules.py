"""workflow: the rules of the coverage ledger: the targets of each year (a setting),
working days, unit levels, labels, dates in Vietnam time, and who may read the figures
or act on them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from storage.models import User
from workflow.accounts import access
from workflow.errors import ForbiddenError
from workflow.settings import (
    DEFAULT_TARGETS,
    TARGET_KEYS,
    CoveragePolicy,
    PolicyError,
)
from workflow.vocab import CLASSIFICATION_LABELS, VN_TZ

__all__ = [
    "CLASSIFICATION_LABELS",
    "DEFAULT_TARGETS",
    "TARGET_KEYS",
    "CoveragePolicy",
    "PolicyError",
]

STATE_CHANGED = "ledger:state_changed"
EXEMPTION_RECORDED = "ledger:exemption_recorded"
REFRESHED = "ledger:refreshed"
"""Audit action of a full refresh: its time is the figures' "as of"."""
BLOC_KINDS = frozenset({"committee", "standing", "office", "board"})
"""The bloc committee: the committee itself, its Standing Committee, office and boards."""
T2_KINDS = BLOC_KINDS
"""Whose documents T2 counts: the Standing Committee, the boards (and the office, one of
the committee's advisory organs, and the committee itself)."""

DEFAULT_POLICY = CoveragePolicy()
"""The seed's targets, a grace of 2 working days, no holidays."""
T3_THRESHOLDS = {
    level: (DEFAULT_POLICY.target(f"T3.{level}", 2025), DEFAULT_POLICY.target(f"T3.{level}", 2030))
    for level in ("bloc", "grassroots")
}
"""The seed's T3 floors per level: (from 2025, from 2030)."""


def t3_target(level: str, year: int, policy: CoveragePolicy = DEFAULT_POLICY) -> float:
    """:returns: the T3 threshold of ``level`` (``bloc`` or ``grassroots``) in ``year``."""
    return policy.target(f"T3.{level}", year)


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
    "T1D": "Văn bản trao đổi dưới dạng điện tử, tính theo văn bản (T1 theo văn bản)",
}
MEASURE_DEFINITIONS = {
    "deliveries": "Lượt gửi (số liệu chính của T1): mỗi văn bản trao đổi giữa Đảng ủy Khối "
    "(Thường trực, các ban, Văn phòng) với một cơ quan, đơn vị khác tính một lần cho mỗi "
    "cơ quan, đơn vị nhận; đạt khi lượt gửi đó là điện tử. Gửi trong nội bộ cơ quan Đảng "
    "ủy Khối không phải trao đổi. Văn bản đã ban hành mà chưa gửi đi đâu tính là một lượt "
    "chờ phát hành trong thời hạn (ngày làm việc), quá hạn là không đạt.",
    "documents": "Văn bản: mỗi văn bản trao đổi tính một lần, dù gửi đến bao nhiêu cơ quan, "
    "đơn vị; đạt khi mọi lượt gửi của nó đều điện tử.",
}
"""What T1's two figures count (shown with them)."""
STATE_LABELS = {
    "electronic": "Điện tử",
    "missing": "Không đạt",
    "exempt": "Miễn trừ",
    "pending": "Chưa đến hạn / chờ phát hành",
    "internal": "Không tính riêng (nội bộ, hoặc đã tính ở lượt gửi khác)",
    "dispatched": "Đã gửi (tính theo từng lượt gửi)",
    "signed_valid": "Ký số hợp lệ",
    "signed_invalid": "Chữ ký không hợp lệ",
    "online": "Xử lý trực tuyến",
    "offline": "Xử lý ngoài hệ thống",
    "submitted": "Gửi đúng hạn",
    "late": "Gửi quá hạn",
}


def can_read(user: User) -> bool:
    """:returns: whether ``user`` may read the coverage figures (auditors, admins, leaders)."""
    return access.reads_coverage(user)


def is_auditor(user: User) -> bool:
    """:returns: whether ``user`` may act on the ledger (auditors and administrators)."""
    return access.oversees(user)


def require_reader(user: User) -> User:
    """:raises ForbiddenError: ``user`` may not read the figures."""
    if not can_read(user):
        raise ForbiddenError(
            "Chỉ cán bộ kiểm tra, quản trị hoặc lãnh đạo được xem số liệu chỉ tiêu chuyển đổi số."
        )
    return user


def require_auditor(user: User) -> User:
    """:raises ForbiddenError: ``user`` is neither an auditor nor an administrator."""
    if not is_auditor(user):
        raise ForbiddenError(
            "Chỉ cán bộ kiểm tra hoặc quản trị hệ thống được thực hiện thao tác này."
        )
    return user


def utc_now() -> datetime:
    """:returns: the current time (UTC, aware)."""
    return datetime.now(UTC)
