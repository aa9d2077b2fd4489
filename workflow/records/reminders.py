"""workflow: reminders (đôn đốc) of overdue tasks: in-app notification and e-mail."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Task, User
from storage.registry_models import Notification
from workflow.documents import routing
from workflow.documents.states import TaskState
from workflow.errors import NotFoundError
from workflow.mail import Mailer, MailError
from workflow.vocab import ACTION_LABELS, vn_display
from workflow.webhooks import events as webhook_events

log = logging.getLogger("trinhky.reminders")

REMIND_EVERY = timedelta(hours=24)
"""A task is reminded at most once in this interval."""


@dataclass(frozen=True)
class ReminderReport:
    """What one run of the reminder job did."""

    reminded: int
    """Overdue tasks reminded (an in-app notification each)."""
    emailed: int
    """Reminders also sent by e-mail."""
    failed: int
    """E-mails the SMTP server did not take (the in-app reminder stands)."""


def overdue_tasks(session: Session, now: datetime) -> list[Task]:
    """:returns: open tasks past their deadline and not reminded in the last 24 hours."""
    query = (
        select(Task)
        .where(
            Task.state == TaskState.OPEN,
            Task.due_at.is_not(None),
            Task.due_at < now,
            or_(Task.reminded_at.is_(None), Task.reminded_at <= now - REMIND_EVERY),
        )
        .order_by(Task.due_at, Task.id)
    )
    return list(session.scalars(query))


def reminder_text(task: Task, now: datetime) -> tuple[str, str, str]:
    """:returns: (in-app message, e-mail subject, e-mail body) in Vietnamese."""
    doc = task.document
    label = ACTION_LABELS.get(task.action, task.action)
    subject_line = doc.subject or doc.doc_type
    assert task.due_at is not None  # noqa: S101 - only overdue tasks are reminded
    days = max(1, (now - task.due_at).days + (1 if (now - task.due_at).seconds else 0))
    message = (
        f"Đôn đốc: việc «{task.stage_name}» ({label}) của văn bản «{subject_line}» "
        f"đã quá hạn (hạn xử lý {vn_display(task.due_at)})."
    )
    mail_subject = f"[TrinhKy] Đôn đốc: việc quá hạn - {subject_line[:120]}"
    body = "\n".join(
        (
            f"Kính gửi đồng chí {task.assignee.full_name},",
            "",
            f"Việc «{task.stage_name}» ({label}) của văn bản sau đã quá hạn xử lý:",
            f"  Trích yếu: {subject_line}",
            f"  Hạn xử lý: {vn_display(task.due_at)} (giờ Việt Nam), quá hạn khoảng {days} ngày.",
            "",
            "Đề nghị đồng chí đăng nhập hệ thống TrinhKy để xử lý.",
            "",
            "Thư này được gửi tự động; vui lòng không trả lời.",
        )
    )
    return message, mail_subject, body


def send_reminders(session: Session, mailer: Mailer, now: datetime) -> ReminderReport:
    """Remind the assignees of overdue open tasks (at most once per 24 hours each): an
    in-app notification, and an e-mail when the person has an address and a mail server
    is configured. Sets ``reminded_at``; the caller commits.

    A refused e-mail is logged and counted; the in-app reminder still stands.
    """
    reminded = emailed = failed = 0
    for task in overdue_tasks(session, now):
        message, mail_subject, body = reminder_text(task, now)
        note = Notification(
            user_id=task.assignee_id,
            kind="reminder",
            message=message,
            document_id=task.document_id,
            created_at=now,
        )
        session.add(note)
        address = (task.assignee.email or "").strip()
        # Mailed here in Vietnamese to who wants each event in Vietnamese; the others get
        # it from the notices job (digest, or their language), or not at all (none).
        direct = task.assignee.notify_mode == "each" and task.assignee.language == "vi"
        if address and direct:
            try:
                mailer.send(address, mail_subject, body)
            except MailError as exc:
                failed += 1
                log.warning("reminder e-mail for task %s not sent: %s", task.id, exc)
            else:
                if mailer.enabled:
                    note.emailed_at = now
                    emailed += 1
        task.reminded_at = now
        webhook_events.emit(
            session,
            "overdue",
            {"task": routing.task_facts(task), "days_overdue": (now - task.due_at).days}
            if task.due_at
            else {"task": routing.task_facts(task)},
            document=task.document,
            now=now,
        )
        reminded += 1
    if reminded:
        session.flush()
        audit.append(
            session,
            "reminder:sent",
            actor_id=None,
            object_type="system",
            details={"reminded": reminded, "emailed": emailed, "failed": failed},
        )
    return ReminderReport(reminded, emailed, failed)


def mark_read(session: Session, user: User, notification_id: int, now: datetime) -> Notification:
    """Mark one of the user's notifications as read (again: no change).

    :raises NotFoundError: no such notification, or someone else's.
    """
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFoundError("Không tìm thấy thông báo này.")
    if note.read_at is None:
        note.read_at = now
    return note
