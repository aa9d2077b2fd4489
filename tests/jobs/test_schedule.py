"""Due times and lateness of the periodic jobs (pure: the time is passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflow.jobs.schedule import ANCHOR, LastRun, due_slot, next_slot, timing
from workflow.vocab import VN_TZ

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
GRACE = timedelta(minutes=10)


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)  # type: ignore[misc]


def test_slots_are_aligned_to_vietnam_midnight_and_the_hour() -> None:
    now = vn(2026, 11, 29, 14, 37, 12)
    assert due_slot(now, HOUR) == vn(2026, 11, 29, 14, 0)
    assert due_slot(now, DAY) == vn(2026, 11, 29, 0, 0)  # 17:00 UTC the day before
    assert due_slot(now, DAY).tzinfo == UTC
    assert next_slot(now, HOUR) == vn(2026, 11, 29, 15, 0)
    assert due_slot(now, timedelta(minutes=15)) == vn(2026, 11, 29, 14, 30)
    assert due_slot(now, timedelta(seconds=7)) - ANCHOR == timedelta(seconds=7) * (
        (now - ANCHOR) // timedelta(seconds=7)
    )


def test_a_slot_is_the_same_for_every_moment_inside_it() -> None:
    start = vn(2026, 11, 29, 0, 0)
    assert due_slot(start, DAY) == start  # exactly on the boundary: that slot
    assert due_slot(start - timedelta(microseconds=1), DAY) == start - DAY
    assert {due_slot(start + timedelta(hours=h), DAY) for h in range(24)} == {start}


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_slot(datetime(2026, 11, 29, 10, 0), HOUR)  # noqa: DTZ001 - the point
    with pytest.raises(ValueError, match="at least one second"):
        due_slot(vn(2026, 11, 29), timedelta(milliseconds=500))


def test_late_means_one_interval_and_the_grace_past_the_last_due_time() -> None:
    due = vn(2026, 11, 29, 14, 0)
    ok = LastRun(due, "ok")
    assert timing(ok, due + HOUR + GRACE, HOUR, GRACE).state == "ok"
    on_edge = timing(ok, due + HOUR + GRACE, HOUR, GRACE)
    assert not on_edge.late and not on_edge.flagged and on_edge.next_due == due + HOUR
    late = timing(ok, due + HOUR + GRACE + timedelta(seconds=1), HOUR, GRACE)
    assert (late.state, late.late, late.flagged) == ("late", True, True)
    # A daily job is not late the next morning.
    daily = LastRun(vn(2026, 11, 29, 0, 0), "ok")
    assert not timing(daily, vn(2026, 11, 29, 23, 0), DAY, GRACE).late
    assert timing(daily, vn(2026, 11, 30, 0, 11), DAY, GRACE).late


def test_running_failed_and_never() -> None:
    due = vn(2026, 11, 29, 14, 0)
    running = timing(LastRun(due, "running"), due + timedelta(minutes=5), HOUR, GRACE)
    assert (running.state, running.flagged) == ("running", False)
    stuck = timing(LastRun(due, "running"), due + 2 * HOUR, HOUR, GRACE)
    assert (stuck.state, stuck.late) == ("late", True)
    failed = timing(LastRun(due, "failed"), due + timedelta(minutes=1), HOUR, GRACE)
    assert (failed.state, failed.late, failed.flagged) == ("failed", False, True)
    never = timing(None, due + timedelta(minutes=3), HOUR, GRACE)
    assert (never.state, never.late, never.flagged) == ("never", True, True)
    assert never.next_due == due
