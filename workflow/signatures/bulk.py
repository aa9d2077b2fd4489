"""workflow: bulk signing (ký hàng loạt): accept a job with one passphrase entry, then sign
its items one by one in a background thread of the same process.

The passphrase is used once, in :func:`accept`, to decrypt the key; it is never stored,
logged or handed to the thread. The thread holds only the loaded :class:`Signer`, so a
job cannot outlive its process: a job whose heartbeat (``updated_at``) is older than
:data:`STALE_AFTER` is marked failed when read, and the signer must start a new job for
the items still pending (entering the passphrase again).

Each item runs :mod:`workflow.signatures.flow`'s three phases (prepare, commit, produce with
the loaded signer, record) and commits on its own: it is signed completely (revision,
signature, audit entry, item state in one transaction) or not at all, with its reason.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from flask import Flask
from pyhanko.sign.signers import Signer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from signing.active import active_content_of
from signing.profiles import TrustConfig
from signing.validate import ACTIVE_CONTENT_PAGES
from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore
from storage.errors import BlobNotFoundError
from storage.job_models import BulkJob, BulkJobItem
from storage.models import Document, Task, User
from storage.types import utcnow
from workflow.coverage import ledger as coverage
from workflow.documents import routing
from workflow.documents.states import StageAction
from workflow.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    WorkflowError,
)
from workflow.schemas.base import MAX_ID
from workflow.services import Services
from workflow.signatures import flow as signing_flow
from workflow.vocab import vn_iso

log = logging.getLogger("trinhky.bulk")

MAX_ITEMS = 200
"""Most tasks one job may hold."""
STALE_AFTER = timedelta(minutes=10)
"""A queued or running job not touched for this long lost its process (restart, crash)."""
RUNNER_KEY = "trinhky.bulk"
"""Where the app's :class:`BulkRunner` lives in ``app.extensions``."""

STALE_MESSAGE = (
    "Lượt ký hàng loạt bị gián đoạn (máy chủ khởi động lại). Các văn bản chưa ký vẫn đang "
    "chờ: hãy chọn lại và nhập lại mật khẩu khóa ký số."
)
UNEXPECTED_MESSAGE = "Lỗi hệ thống khi ký văn bản này; văn bản chưa được ký."
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobStatus(StrEnum):
    """The job as a whole."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ItemState(StrEnum):
    """One document of a job."""

    PENDING = "pending"
    SIGNED = "signed"
    FAILED = "failed"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class InvalidTasksError(InvalidInputError):
    """Some selected tasks are not the caller's open signing tasks; nothing was started."""

    code = "invalid_tasks"

    def __init__(self, invalid: list[tuple[int, str]]) -> None:
        ids = ", ".join(str(task_id) for task_id, _ in invalid)
        super().__init__(
            f"Không thể ký hàng loạt: {len(invalid)} việc không phải việc ký đang chờ bạn "
            f"(mã việc: {ids}). Chưa văn bản nào được ký."
        )
        self.invalid = invalid
        """``(task id, reason)`` of each refused task."""


@dataclass(frozen=True)
class Accepted:
    """A job stored (not yet committed) and the signer that will run it, in memory only."""

    job: BulkJob
    signer: Signer


def parse_task_ids(value: Any) -> list[int]:
    """:returns: the task ids, deduplicated in the order given.

    :raises InvalidInputError: not a non-empty list of integers, or too many.
    """
    if not isinstance(value, list) or not value:
        raise InvalidInputError("Cần 'task_ids': danh sách mã việc ký (ít nhất một).")
    if len(value) > MAX_ITEMS:  # before any work: 200,000 ids are refused at once
        raise InvalidInputError(f"Mỗi lượt ký hàng loạt tối đa {MAX_ITEMS} văn bản.")
    ids: dict[int, None] = {}
    for raw in value:
        if isinstance(raw, bool) or (isinstance(raw, str) and not raw.strip().isascii()):
            raise InvalidInputError("'task_ids' chỉ gồm các số nguyên.")
        try:
            task_id = int(raw)
        except (TypeError, ValueError):
            raise InvalidInputError("'task_ids' chỉ gồm các số nguyên.") from None
        if not 0 < task_id <= MAX_ID:
            raise InvalidInputError(f"'task_ids' chỉ gồm các mã từ 1 đến {MAX_ID}.")
        ids[task_id] = None
    return list(ids)


def _tasks_in_active_jobs(session: Session, task_ids: Iterable[int]) -> set[int]:
    rows = session.scalars(
        select(BulkJobItem.task_id)
        .join(BulkJob, BulkJob.id == BulkJobItem.job_id)
        .where(
            BulkJobItem.task_id.in_(list(task_ids)),
            BulkJobItem.state == ItemState.PENDING,
            BulkJob.status.in_(ACTIVE),
        )
    )
    return set(rows)


def accept(
    session: Session,
    trust: TrustConfig,
    actor: User,
    task_ids: list[int],
    passphrase: str,
    *,
    level: signing_flow.LevelPolicy,
    key_max_failures: int,
    key_lock_seconds: int,
    blobs: BlobStore | None = None,
) -> Accepted:
    """Check every task and the passphrase, then add the job (the caller commits, also
    after a :class:`BadPassphraseError`, to keep the failure count). With ``blobs``, a
    document with active content (JavaScript, XFA...) is refused: its signer must see the
    warning on its page and sign it there.

    :raises InvalidTasksError: some tasks are not the actor's open signing tasks (422).
    :raises LockedError: the key is locked after repeated wrong passphrases (429).
    :raises signing_flow.BadPassphraseError: wrong passphrase; counted (403).
    """
    busy = _tasks_in_active_jobs(session, task_ids)
    invalid: list[tuple[int, str]] = []
    tasks = []
    for task_id in task_ids:
        if task_id in busy:
            invalid.append((task_id, "Việc này đang được ký trong một lượt ký hàng loạt khác."))
            continue
        try:
            task = routing.claim(session, actor, task_id, {StageAction.SIGN})
        except (NotFoundError, ForbiddenError, ConflictError) as exc:
            invalid.append((task_id, exc.message))
            continue
        if blobs is not None and _has_active_content(blobs, task):
            invalid.append((task_id, ACTIVE_CONTENT_REFUSAL))
            continue
        tasks.append(task)
    if invalid:
        raise InvalidTasksError(invalid)
    # The first task's plan carries the certificate and checks its lock; the key is the
    # same for every task (it is the actor's).
    plan = signing_flow.prepare(session, actor, tasks[0].id, level)
    try:
        signer = signing_flow.unlock_key(plan, passphrase, trust)
    except signing_flow.BadPassphraseError:
        signing_flow.record_key_failure(session, actor, plan, key_max_failures, key_lock_seconds)
        raise
    now = utcnow()
    job = BulkJob(
        id=secrets.token_hex(16),
        owner_id=actor.id,
        certificate_id=plan.certificate_id,
        status=JobStatus.QUEUED,
        total=len(tasks),
        created_at=now,
        updated_at=now,
        items=[
            BulkJobItem(
                position=n,
                task_id=task.id,
                document_id=task.document_id,
                state=ItemState.PENDING,
                updated_at=now,
            )
            for n, task in enumerate(tasks)
        ],
    )
    session.add(job)
    return Accepted(job, signer)


ACTIVE_CONTENT_REFUSAL = (
    "Tệp có nội dung chủ động (mã JavaScript, biểu mẫu động, tệp đính kèm...): hãy mở văn "
    "bản, xem cảnh báo và ký riêng văn bản này."
)


def _has_active_content(blobs: BlobStore, task: Task) -> bool:
    revision = task.document.current_revision
    if revision is None:
        return False
    try:
        with blobs.local_copy(revision.blob_sha256) as path:
            return bool(active_content_of(path, ACTIVE_CONTENT_PAGES))
    except BlobNotFoundError:
        return False  # the signing itself reports the missing file


def get_job(session: Session, actor: User, job_id: str) -> BulkJob:
    """:returns: the actor's job, marked failed first if its process is gone.

    :raises NotFoundError: no such job, or someone else's (indistinguishable on purpose).
    """
    job = session.get(BulkJob, job_id) if _JOB_ID.match(job_id) else None
    if job is None or job.owner_id != actor.id:
        raise NotFoundError("Không tìm thấy lượt ký hàng loạt này.")
    if mark_if_stale(session, job.id):
        session.refresh(job)
    return job


def mark_if_stale(session: Session, job_id: str, stale_after: timedelta = STALE_AFTER) -> bool:
    """Fail a queued or running job whose heartbeat stopped (caller commits).

    :returns: whether the job was marked failed now.
    """
    now = utcnow()
    result = session.execute(
        update(BulkJob)
        .where(
            BulkJob.id == job_id,
            BulkJob.status.in_(ACTIVE),
            BulkJob.updated_at < now - stale_after,
        )
        .values(status=JobStatus.FAILED, error=STALE_MESSAGE, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def job_json(session: Session, job: BulkJob) -> dict[str, Any]:
    """The progress of a job (API and web page)."""
    rows = session.execute(
        select(Document.id, Document.subject).where(
            Document.id.in_({i.document_id for i in job.items})
        )
    )
    subjects = {doc_id: subject for doc_id, subject in rows}
    signed = sum(1 for i in job.items if i.state == ItemState.SIGNED)
    failed = sum(1 for i in job.items if i.state == ItemState.FAILED)
    return {
        "job_id": job.id,
        "status": job.status,
        "total": job.total,
        "done": signed + failed,
        "succeeded": signed,
        "failed": failed,
        "error": job.error,
        "created_at": vn_iso(job.created_at),
        "finished_at": vn_iso(job.finished_at),
        "items": [
            {
                "task_id": i.task_id,
                "document_id": i.document_id,
                "subject": subjects.get(i.document_id, ""),
                "state": i.state,
                "error": i.error,
            }
            for i in job.items
        ],
    }


# --- execution ---------------------------------------------------------------------


def _touch(session: Session, job_id: str, **values: Any) -> bool:
    """Heartbeat (and optional changes) of a running job; :returns: whether it still runs."""
    result = session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id, BulkJob.status == JobStatus.RUNNING)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def execute(services: Services, job_id: str, signer: Signer) -> None:
    """Sign a job's pending items in order, each in its own transactions; the unit of
    work of the background thread (it commits)."""
    factory = services.session_factory
    with factory() as session:
        started = session.execute(
            update(BulkJob)
            .where(BulkJob.id == job_id, BulkJob.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, started_at=utcnow(), updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if not getattr(started, "rowcount", 0):
            return  # already run or marked failed
        job = session.get(BulkJob, job_id)
        assert job is not None  # noqa: S101 - just updated
        owner_id, certificate_id = job.owner_id, job.certificate_id
        pending = [(i.id, i.task_id) for i in job.items if i.state == ItemState.PENDING]
    for item_id, task_id in pending:
        with factory() as session:
            if not _touch(session, job_id):
                log.warning("bulk job %s stopped: no longer running", job_id)
                return
        _sign_item(services, signer, owner_id, certificate_id, item_id, task_id)
    with factory() as session:
        _touch(session, job_id, status=JobStatus.DONE, finished_at=utcnow())


def _sign_item(
    services: Services,
    signer: Signer,
    owner_id: int,
    certificate_id: int,
    item_id: int,
    task_id: int,
) -> None:
    with services.session_factory() as session:
        produced: signing_flow.Produced | None = None
        try:
            actor = session.get(User, owner_id)
            if actor is None or not actor.active:
                raise ForbiddenError("Tài khoản của người ký không còn hoạt động.")
            plan = signing_flow.prepare(
                session, actor, task_id, services.settings.level_for, services.blobs
            )
            if plan.certificate_id != certificate_id:
                raise ConflictError(
                    "Chứng thư số của bạn đã thay đổi sau khi bắt đầu ký hàng loạt; "
                    "văn bản này chưa được ký."
                )
            session.commit()  # no database lock while signing
            produced = signing_flow.sign_to_staged(
                services.blobs,
                services.trust,
                plan.source_sha256,
                signer,
                plan.profile,
                services.trust_services,
            )
            outcome = signing_flow.record(session, services.blobs, actor, plan, produced)
            coverage.record_signature(
                session,
                services.blobs,
                services.trust,
                outcome.task.document,
                now=utcnow(),
                report=produced.report,
            )
            item = session.get(BulkJobItem, item_id)
            assert item is not None  # noqa: S101 - items are never deleted while running
            item.state = ItemState.SIGNED
            item.revision_id = outcome.revision.id
            item.updated_at = utcnow()
            session.commit()
            return
        except WorkflowError as exc:
            reason, code = exc.message, exc.code
            if exc.status >= 500:
                log.error("bulk item %s: %s", item_id, exc.code, exc_info=exc.__cause__)
        except Exception:
            log.exception("bulk item %s failed unexpectedly", item_id)
            reason, code = UNEXPECTED_MESSAGE, "internal"
        session.rollback()
        if produced is not None:
            services.blobs.discard(produced.staged)
        _fail_item(session, owner_id, item_id, reason, code)


def _fail_item(session: Session, owner_id: int, item_id: int, reason: str, code: str) -> None:
    """Record why an item was not signed, with an audit entry (own transaction)."""
    session.expire_all()
    item = session.get(BulkJobItem, item_id)
    if item is not None and item.state == ItemState.PENDING:
        item.state = ItemState.FAILED
        item.error = reason
        item.updated_at = utcnow()
        audit.append(
            session,
            AuditAction.SIGN_FAILED,
            actor_id=owner_id,
            object_type="document",
            object_id=item.document_id,
            details={"reason": code, "bulk_job": item.job_id, "task": item.task_id},
        )
    session.commit()


class BulkRunner:
    """Runs accepted jobs in daemon threads of this process (gunicorn sync workers allow
    threads); each thread has its own sessions and an app context."""

    def __init__(self, app: Flask, services: Services) -> None:
        self.app = app
        self.services = services
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self, job_id: str, signer: Signer) -> None:
        """Run a committed job in the background."""
        thread = threading.Thread(
            target=self._run, args=(job_id, signer), name=f"bulk-sign-{job_id[:8]}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, job_id: str, signer: Signer) -> None:
        try:
            with self.app.app_context():
                execute(self.services, job_id, signer)
        except Exception:
            log.exception("bulk job %s crashed", job_id)
            try:
                with self.services.session_factory() as session:
                    _touch(session, job_id, status=JobStatus.FAILED, error=UNEXPECTED_MESSAGE)
            except Exception:
                log.exception("bulk job %s: could not mark it failed", job_id)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the running jobs; :returns: whether none is left (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        with self._lock:
            return not self._threads


def runner_for(app: Flask, services: Services) -> BulkRunner:
    """:returns: the app's runner, made on first use."""
    runner = app.extensions.get(RUNNER_KEY)
    if runner is None:
        runner = app.extensions.setdefault(RUNNER_KEY, BulkRunner(app, services))
    assert isinstance(runner, BulkRunner)  # noqa: S101
    return runner
