"""workflow: the periodic jobs, their default intervals and what each run does (adapters
from a :class:`JobContext` to the use-cases of :mod:`workflow.jobs.usecases`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage import cleanup
from storage.checkpoints import Timestamper
from storage.heads import ledger_head
from workflow.documents import scans
from workflow.files import ocr
from workflow.i18n import N_
from workflow.intake import imap as intake
from workflow.jobs import usecases
from workflow.mail import Mailer
from workflow.notices import service as notices
from workflow.records import reminders
from workflow.services import Services
from workflow.settings import Settings, SettingsError
from workflow.signatures import archival
from workflow.transparency import usecases as log_usecases
from workflow.transparency import witnesses
from workflow.webhooks.delivery import Deliverer

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class JobContext:
    """What one run of a job gets."""

    session: Session
    """The run's transaction; the runner commits it when the job returns."""
    services: Services
    """Blobs, trust anchors, the read-only session factory."""
    mailer: Mailer
    """The one SMTP client (a null mailer when no mail server is configured)."""
    timestamper: Timestamper | None
    """Digest -> RFC 3161 token (the embedded TSA by default)."""
    now: datetime
    """The run's time (UTC)."""


@dataclass(frozen=True)
class Job:
    """A periodic job."""

    name: str
    """Stable name (``job_runs.job``, ``JOB_INTERVALS`` keys, the CLI)."""
    label: str
    """What it does, in Vietnamese (the dashboard)."""
    interval: timedelta
    """Default time between two runs."""
    run: Callable[[JobContext], str]
    """Does the work in ``context.session``; returns a summary in Vietnamese."""


def _obligations(ctx: JobContext) -> str:
    done = usecases.generate_current_obligations(ctx.session, ctx.now)
    created = sum(len(g.created) for g in done)
    periods = ", ".join(g.period.label for g in done)
    return f"{created} nghĩa vụ báo cáo mới (kỳ {periods})"


def _overdue(ctx: JobContext) -> str:
    done = usecases.record_overdue(ctx.session, ctx.now)
    return f"{len(done)} nghĩa vụ báo cáo quá hạn được ghi vào sổ chỉ tiêu (T4)"


def _reminders(ctx: JobContext) -> str:
    report = reminders.send_reminders(ctx.session, ctx.mailer, ctx.now)
    return (
        f"đôn đốc {report.reminded} việc quá hạn; gửi thư {report.emailed}, thư lỗi {report.failed}"
    )


def _revalidation(ctx: JobContext) -> str:
    services = ctx.services
    result = usecases.revalidate_ledger(
        ctx.session, services.blobs, services.trust, ctx.now, services.settings.coverage
    )
    lost = sum(1 for c in result.changes if c.before == "signed_valid")
    text = (
        f"kiểm tra {result.validated} văn bản; {result.created} mục mới; "
        f"{len(result.changes)} thay đổi trạng thái"
    )
    return text + (f" ({lost} chữ ký không còn hợp lệ)" if lost else "")


def _checkpoints(ctx: JobContext) -> str:
    # The digest is taken in a read-only session: on SQLite it then holds no write lock.
    with ctx.services.read_session_factory() as read:
        head = ledger_head(read)
    done = usecases.checkpoint(ctx.session, ctx.timestamper, ctx.now, ledger=head)
    ledger = f"sổ chỉ tiêu {head.entries} mục, SHA-256 {head.sha256[:16]}…"
    ledger += " (ghi đầu sổ mới)" if done.ledger_event is not None else " (không đổi)"
    tree = _tree_head(ctx)
    if done.checkpoint is None:
        return f"nhật ký không có bản ghi mới từ điểm kiểm tra trước; {ledger}; {tree}"
    stamped = " có dấu thời gian" if done.checkpoint.timestamp_token else " không dấu thời gian"
    return (
        f"điểm kiểm tra #{done.checkpoint.id}{stamped} tại bản ghi số {done.checkpoint.seq}; "
        f"{ledger}; {tree}"
    )


def _tree_head(ctx: JobContext) -> str:
    # After the checkpoint, so the signed tree head covers its ledger:head entry.
    head = log_usecases.publish_tree_head(ctx.session, ctx.services, ctx.timestamper, ctx.now)
    if head is None:
        return "sổ nhật ký (cây Merkle) không có mục mới"
    return f"đầu cây Merkle #{head.id} đã ký: {head.size} mục, gốc {head.root_hash[:16]}…"


def _witnesses(ctx: JobContext) -> str:
    sent, failed = witnesses.deliver_due(ctx.session, ctx.now, log_usecases.head_json)
    return f"gửi {sent} đầu cây cho bên chứng kiến; {failed} lần gửi lỗi (sẽ gửi lại)"


def _bulk(ctx: JobContext) -> str:
    failed = usecases.fail_stale_bulk_jobs(ctx.session)
    return f"{len(failed)} lượt ký hàng loạt bị gián đoạn được đánh dấu lỗi"


def _webhooks(ctx: JobContext) -> str:
    # Each delivery is posted outside any transaction and recorded in a short one of its
    # own (a slow receiver never holds a lock); the run's session stays unused.
    deliverer = Deliverer.of(ctx.services)
    return deliverer.run(deliverer.due(ctx.now), ctx.now).text()


def _archival(ctx: JobContext) -> str:
    # Each document is renewed in a transaction of its own (the run's stays unused).
    services = ctx.services
    report = archival.renew_due(
        services.session_factory,
        services.blobs,
        services.trust,
        services.trust_services,
        services.settings,
        ctx.now,
    )
    return report.text()


def _ocr(ctx: JobContext) -> str:
    if not ocr.available():
        return "chưa cài ocrmypdf: bỏ qua nhận dạng chữ bản quét"
    done = scans.run_ocr(ctx.session, ctx.services.blobs)
    return (
        f"nhận dạng chữ {done.done} bản quét ({done.revised} văn bản chưa ký có bản tìm kiếm "
        f"được); lỗi {done.failed}"
    )


def _cleanup(ctx: JobContext) -> str:
    grace = timedelta(seconds=ctx.services.settings.cleanup_grace_seconds)
    removed = cleanup.sweep(ctx.session, ctx.services.blobs, ctx.now, grace)
    temporaries = sum(1 for r in removed if r.kind == "temporary")
    return (
        f"xóa {temporaries} tệp tạm (tải lên, ký dở dang) và {len(removed) - temporaries} tệp "
        f"không còn bản ghi nào tham chiếu, cũ hơn {grace.total_seconds() / 3600:g} giờ"
    )


def _mail_intake(ctx: JobContext) -> str:
    # Each message is committed in a short transaction of its own before it is flagged on
    # the IMAP server; the run's session stays unused.
    services = ctx.services
    boxes = services.settings.mail_intake
    if not boxes:
        return "chưa cấu hình hộp thư nào (MAIL_INTAKE)"
    reports = [
        intake.poll(
            box,
            services.session_factory,
            services.blobs,
            max_bytes=services.settings.max_upload_bytes,
            now=ctx.now,
        )
        for box in boxes
    ]
    return "; ".join(r.text() for r in reports)


def _base_url(ctx: JobContext) -> str:
    return ctx.services.settings.public_url or "http://localhost:8000"


def _notices(ctx: JobContext) -> str:
    return notices.send_each(ctx.session, ctx.mailer, _base_url(ctx), ctx.now).text()


def _digest(ctx: JobContext) -> str:
    return notices.send_digests(ctx.session, ctx.mailer, _base_url(ctx), ctx.now).text()


CHECKPOINTS = "checkpoints"
MINUTE = timedelta(minutes=1)
JOBS: tuple[Job, ...] = (
    Job("obligations", N_("Tạo nghĩa vụ báo cáo của kỳ hiện tại"), DAY, _obligations),
    Job("overdue", N_("Ghi nhận báo cáo quá hạn vào sổ chỉ tiêu (T4)"), HOUR, _overdue),
    Job("reminders", N_("Đôn đốc việc quá hạn"), HOUR, _reminders),
    Job(
        "revalidation", N_("Kiểm tra lại chữ ký số (T2) và làm mới sổ chỉ tiêu"), DAY, _revalidation
    ),
    Job(
        CHECKPOINTS,
        N_("Điểm kiểm tra nhật ký và sổ chỉ tiêu, có dấu thời gian (TSA)"),
        HOUR,
        _checkpoints,
    ),
    Job("bulk-sweep", N_("Đánh dấu lượt ký hàng loạt bị gián đoạn"), HOUR, _bulk),
    Job(
        "webhooks", N_("Gửi sự kiện đến webhook (Zalo, Facebook, hệ thống khác)"), MINUTE, _webhooks
    ),
    Job("ocr", N_("Nhận dạng chữ (OCR) văn bản quét để tìm kiếm được"), timedelta(minutes=5), _ocr),
    Job(
        "log-witnesses",
        N_("Gửi đầu cây Merkle đã ký cho các bên chứng kiến (gửi lại khi lỗi)"),
        timedelta(minutes=10),
        _witnesses,
    ),
    Job("cleanup", N_("Dọn tệp tạm và tệp không còn được tham chiếu"), DAY, _cleanup),
    Job("mail-intake", N_("Đọc hộp thư văn bản đến (IMAP)"), 5 * MINUTE, _mail_intake),
    Job("notices", N_("Gửi thư thông báo (mỗi sự kiện)"), MINUTE, _notices),
    Job("notice-digest", N_("Gửi thư tổng hợp thông báo trong ngày"), DAY, _digest),
    Job("archival", N_("Gia hạn dấu thời gian lưu trữ (B-LTA) trước khi hết hạn"), DAY, _archival),
)
"""Every periodic job, in the order they are listed and started."""
BY_NAME: Mapping[str, Job] = {job.name: job for job in JOBS}


def intervals(settings: Settings) -> dict[str, timedelta]:
    """:returns: each job's interval: the default, ``CHECKPOINT_INTERVAL`` for the
    checkpoints, then ``JOB_INTERVALS`` by name.

    :raises SettingsError: ``JOB_INTERVALS`` names a job that does not exist.
    """
    unknown = sorted(set(settings.job_intervals) - set(BY_NAME))
    if unknown:
        raise SettingsError(
            f"JOB_INTERVALS: unknown job(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}"
        )
    result = {job.name: job.interval for job in JOBS}
    result[CHECKPOINTS] = timedelta(seconds=settings.checkpoint_interval)
    result.update({k: timedelta(seconds=v) for k, v in settings.job_intervals.items()})
    return result
