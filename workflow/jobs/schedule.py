"""workflow: when a periodic job is due and whether it ran on time (pure functions of the
clock, no database).

Due times (slots) are the anchor plus whole intervals: every scheduler on every host
computes the same slots from its clock, so a slot names one run wherever it is claimed.
The anchor is midnight in Vietnam time, so a daily job is due at 00:00 (UTC+07:00),
when a reporting period or a due date changes, and an hourly one on the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workflow.vocab import VN_TZ

ANCHOR = datetime(2000, 1, 1, tzinfo=VN_TZ)
"""The first due time of every job (slots repeat from it)."""

OK = "ok"
RUNNING = "running"
FAILED = "failed"
LATE = "late"
NEVER = "never"
STATES = (OK, RUNNING, FAILED, LATE, NEVER)
FLAGGED = frozenset({FAILED, LATE, NEVER})
"""States the dashboard flags: the job has not run on time, or its last run failed."""


def due_slot(now: datetime, interval: timedelta) -> datetime:
    """:returns: the newest due time at or before ``now`` (UTC).

    :raises ValueError: a naive ``now`` or an interval under one second.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if interval < timedelta(seconds=1):
        raise ValueError("an interval is at least one second")
    steps = (now - ANCHOR) // interval
    return (ANCHOR + steps * interval).astimezone(UTC)


def next_slot(now: datetime, interval: timedelta) -> datetime:
    """:returns: the first due time strictly after ``now`` (UTC)."""
    return due_slot(now, interval) + interval


@dataclass(frozen=True)
class LastRun:
    """The newest run of a job as far as lateness is concerned."""

    due_at: datetime
    """The slot it ran for."""
    outcome: str
    """``running``, ``ok`` or ``failed``."""


@dataclass(frozen=True)
class Timing:
    """Whether a job runs on time, at ``now``."""

    state: str
    """``ok``, ``running`` (within its time), ``failed`` (last run failed, next one not
    late yet), ``late`` or ``never`` (no run recorded)."""
    late: bool
    """The next run after the last one is more than the grace past its due time (or the
    job never ran)."""
    next_due: datetime
    """When the next run is due: the slot after the last run's (or now's slot)."""

    @property
    def flagged(self) -> bool:
        """Whether the dashboard flags the job."""
        return self.state in FLAGGED


def timing(last: LastRun | None, now: datetime, interval: timedelta, grace: timedelta) -> Timing:
    """Decide whether a job has run on time.

    A job is late when more than one interval plus the grace has passed since the due
    time of its newest run: the slot after it should have been claimed by then. A run
    still ``running`` that long is late too (stuck, or its process died).

    :param last: the job's newest run, if any.
    :param interval: the job's interval.
    :param grace: how long a run may start after its due time.
    """
    if last is None:
        return Timing(NEVER, True, due_slot(now, interval))
    next_due = last.due_at + interval
    late = now > next_due + grace
    if late:
        return Timing(LATE, True, next_due)
    if last.outcome == FAILED:
        return Timing(FAILED, False, next_due)
    if last.outcome == RUNNING:
        return Timing(RUNNING, False, next_due)
    return Timing(OK, False, next_due)
