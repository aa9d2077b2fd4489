"""workflow: the rules of the coverage ledger: the targets of each year (a setting),
working days, unit levels, labels, dates in Vietnam time, and who may read the figures
or act on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from storage.models import Role, User
from workflow.errors import ForbiddenError
from workflow.vocab import VN_TZ

STATE_CHANGED = "ledger:state_changed"
EXEMPTION_RECORDED = "ledger:exemption_recorded"
REFRESHED = "ledger:refreshed"
"""Audit action of a full refresh: its time is the figures' "as of"."""
BLOC_KINDS = frozenset({"committee", "standing", "office", "board"})
"""The bloc committee: the committee itself, its Standing Committee, office and boards."""
T2_KINDS = BLOC_KINDS
"""Whose documents T2 counts: the Standing Committee, the boards (and the office, one of
the committee's advisory organs, and the committee itself)."""
CLASSIFIED_LABELS = {"mat": "Mật", "toi_mat": "Tối mật", "tuyet_mat": "Tuyệt mật"}

TARGET_KEYS = ("T1", "T2", "T3.bloc", "T3.grassroots", "T4")
"""What has a target: T1, T2, T4, and T3 per level."""
DEFAULT_TARGETS: dict[str, tuple[tuple[int, float], ...]] = {
    "T1": ((2025, 1.0),),
    "T2": ((2025, 1.0),),
    "T3.bloc": ((2025, 0.80), (2030, 0.90)),
    "T3.grassroots": ((2025, 0.60), (2030, 0.70)),
    "T4": ((2025, 1.0),),
}
"""The seed's targets: (from year, fraction) steps. T1, T2 and T4 are goals for 2030 and
the seed asks 100% of them every year; T3 rises in two steps (2025, 2030): the
resolution sets floors for those years, not a yearly path."""
DEFAULT_GRACE_WORKING_DAYS = 2
"""Working days after its issue date during which an undispatched document awaits
dispatch (T1) before it counts as a miss."""


class PolicyError(ValueError):
    """A coverage setting is unusable (English: raised at start-up)."""


def _steps(key: str, value: Any) -> tuple[tuple[int, float], ...]:
    """``0.9`` (every year) or ``{"2025": 0.8, "2030": 0.9}`` (from each year on)."""
    raw = value if isinstance(value, Mapping) else {"2000": value}
    steps: list[tuple[int, float]] = []
    for year, fraction in raw.items():
        if not str(year).isdigit() or not 2000 <= int(year) <= 2100:
            raise PolicyError(f"COVERAGE_TARGETS[{key}]: {year!r} is not a year (2000-2100)")
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise PolicyError(f"COVERAGE_TARGETS[{key}][{year}] must be a number, got {fraction!r}")
        if not 0 < fraction <= 1:
            raise PolicyError(
                f"COVERAGE_TARGETS[{key}][{year}] must be a fraction in (0, 1], got {fraction!r}"
            )
        steps.append((int(year), float(fraction)))
    if not steps:
        raise PolicyError(f"COVERAGE_TARGETS[{key}] names no year")
    return tuple(sorted(steps))


@dataclass(frozen=True)
class CoveragePolicy:
    """The settings the coverage rules depend on (``Settings.coverage``)."""

    targets: Mapping[str, tuple[tuple[int, float], ...]] = field(
        default_factory=lambda: dict(DEFAULT_TARGETS), hash=False
    )
    """Per key of :data:`TARGET_KEYS`: ``(from year, fraction)`` steps, sorted; a year
    before the first step takes the first step's value."""
    grace_working_days: int = DEFAULT_GRACE_WORKING_DAYS
    """T1: working days after the issue date before an undispatched document is a miss."""
    holidays: frozenset[date] = frozenset()
    """Days off besides Saturdays and Sundays (public holidays), for working days."""

    @classmethod
    def from_config(cls, targets: Any, grace: Any, holidays: Any) -> CoveragePolicy:
        """Build the policy from ``COVERAGE_TARGETS`` (overrides of the seed's targets,
        per key), ``T1_GRACE_WORKING_DAYS`` and ``HOLIDAYS`` (ISO dates).

        :raises PolicyError: an unknown key, a bad year or fraction, a negative grace.
        """
        if targets is None:
            targets = {}
        if not isinstance(targets, Mapping):
            raise PolicyError(f"COVERAGE_TARGETS must be a JSON object, got {targets!r}")
        unknown = sorted(set(targets) - set(TARGET_KEYS))
        if unknown:
            raise PolicyError(
                f"COVERAGE_TARGETS: unknown key(s) {', '.join(unknown)}; use {', '.join(TARGET_KEYS)}"
            )
        merged = dict(DEFAULT_TARGETS)
        merged.update({str(k): _steps(str(k), v) for k, v in targets.items()})
        if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 60:
            raise PolicyError(f"T1_GRACE_WORKING_DAYS must be an integer 0-60, got {grace!r}")
        days: set[date] = set()
        for text in holidays or ():
            try:
                days.add(date.fromisoformat(str(text)))
            except ValueError as exc:
                raise PolicyError(f"HOLIDAYS: {text!r} is not an ISO date") from exc
        return cls(targets=merged, grace_working_days=grace, holidays=frozenset(days))

    def target(self, key: str, year: int) -> float:
        """:returns: the target of ``key`` (``T1``, ``T3.bloc``...) in ``year``."""
        steps = self.targets[key]
        value = steps[0][1]
        for start, fraction in steps:
            if year >= start:
                value = fraction
        return value

    def is_working_day(self, day: date) -> bool:
        """:returns: whether ``day`` is Monday to Friday and not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def dispatch_deadline(self, issued_on: date) -> date:
        """:returns: the last day on which a document issued on ``issued_on`` is still
        awaiting dispatch: the ``grace_working_days``-th working day after it (the
        issue day itself with no grace)."""
        day, added = issued_on, 0
        while added < self.grace_working_days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                added += 1
        return day

    def as_json(self) -> dict[str, Any]:
        """:returns: the policy as plain data (the audit bundle's manifest)."""
        return {
            "targets": {k: [[y, f] for y, f in v] for k, v in sorted(self.targets.items())},
            "grace_working_days": self.grace_working_days,
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }


DEFAULT_POLICY = CoveragePolicy()
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
    "T1D": "Lượt gửi văn bản trao đổi dưới dạng điện tử (T1 theo lượt gửi)",
}
MEASURE_DEFINITIONS = {
    "documents": "Văn bản: mỗi văn bản trao đổi giữa Đảng ủy Khối (Thường trực, các ban, "
    "Văn phòng) với một cơ quan, đơn vị khác tính một lần, dù gửi đến bao nhiêu nơi; "
    "đạt khi mọi lần gửi đến cơ quan, đơn vị khác đều điện tử. Văn bản mới ban hành "
    "trong thời hạn chờ phát hành chưa tính; gửi trong nội bộ cơ quan Đảng ủy Khối "
    "không phải trao đổi.",
    "deliveries": "Lượt gửi: mỗi cặp văn bản - cơ quan, đơn vị nhận (khác tổ chức với "
    "nơi gửi) tính một lần; đạt khi lượt gửi đó là điện tử. Văn bản chưa gửi chưa có "
    "lượt gửi.",
}
"""What T1's two figures count (shown with them)."""
STATE_LABELS = {
    "electronic": "Điện tử",
    "missing": "Không đạt",
    "exempt": "Miễn trừ",
    "pending": "Chưa đến hạn / chờ phát hành",
    "internal": "Không trao đổi ra ngoài",
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


def is_auditor(user: User) -> bool:
    """:returns: whether ``user`` may act on the ledger (auditors and administrators)."""
    return user.has_role(Role.AUDITOR) or user.has_role(Role.ADMIN)


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
