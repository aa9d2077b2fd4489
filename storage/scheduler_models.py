"""storage: the runs of the periodic jobs, one row per job and due time. The row is also
the claim that makes a job run once per due time whatever the number of schedulers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class JobRun(Base):
    """One run of one periodic job for one due time (slot).

    Inserted (``outcome = running``) and committed before the job's work starts: the
    unique (``job``, ``due_at``) makes a second scheduler's insert fail, so it skips the
    slot. Updated once when the work ends. Never deleted.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "due_at", name="uq_job_runs_job_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    """The job's name (``workflow.jobs`` names them: ``checkpoints``, ``overdue``...)."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The due time (slot) this run is for: the anchor plus a whole number of intervals."""
    worker: Mapped[str] = mapped_column(String(255))
    """Who ran it: ``host:pid`` of the scheduler process (or ``cli`` for a manual run)."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    """``running`` (claimed, not finished: or its process died), ``ok`` or ``failed``."""
    summary: Mapped[str | None] = mapped_column(Text)
    """What the run did, in Vietnamese (``3 nghĩa vụ báo cáo mới``)."""
    error: Mapped[str | None] = mapped_column(Text)
    """Why it failed: the error's type and message, never a secret or a traceback."""
