"""workflow: e-mail notices of the in-app notifications (use-cases): each event at once,
or a daily digest, or none, as each person chose; in the person's language; a link to
the page, never the document itself. The notification rows are the outbox: a row is
e-mailed once (``emailed_at``). Use-cases never commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import User
from storage.registry_models import Notification
from workflow.errors import InvalidInputError
from workflow.mail import Mailer, MailError
from workflow.vocab import vn_display

log = logging.getLogger("trinhky.notices")

MODES = ("each", "digest", "none")
"""Each event at once, a daily digest, or no e-mail."""
LANGUAGES = ("vi", "en")
FRESH = timedelta(days=7)
"""Older unsent notifications are not e-mailed (a person who switches notices on is not
sent a backlog)."""

# (vi, en) of what happened, by notification kind.
EVENTS: dict[str, tuple[str, str]] = {
    "task": ("Việc mới cần xử lý", "A new task for you"),
    "delegated": ("Việc được ủy quyền cho đồng chí", "A task delegated to you"),
    "returned": ("Văn bản bị trả lại", "A document was returned"),
    "rejected": ("Văn bản bị từ chối", "A document was rejected"),
    "reminder": ("Đôn đốc: việc quá hạn", "Reminder: an overdue task"),
    "incoming": ("Văn bản đến cho đơn vị", "A document arrived for your unit"),
    "received": ("Văn bản đã được tiếp nhận", "Receipt confirmed"),
    "recalled": ("Văn bản bị thu hồi", "A document was recalled"),
    "handled": ("Văn bản đến đã được xử lý", "An incoming document was handled"),
}
TEXTS = {
    "vi": {
        "greeting": "Kính gửi đồng chí {name},",
        "open": "Xem trên TrinhKy: {link}",
        "digest": "[TrinhKy] Tổng hợp thông báo ngày {day} ({n})",
        "digest_intro": "Các thông báo mới của đồng chí:",
        "footer": "Thư gửi tự động từ hệ thống TrinhKy; không kèm văn bản. "
        "Đổi cách nhận thư: {settings}",
    },
    "en": {
        "greeting": "Dear {name},",
        "open": "Open in TrinhKy: {link}",
        "digest": "[TrinhKy] Your notifications of {day} ({n})",
        "digest_intro": "Your new notifications:",
        "footer": "Sent automatically by TrinhKy; documents are never attached. "
        "Change how you get these e-mails: {settings}",
    },
}


@dataclass(frozen=True)
class NoticeReport:
    """What one run sent."""

    emailed: int
    """Messages the SMTP server took."""
    notifications: int
    """Notifications they covered."""
    failed: int
    """Messages refused (their notifications stay unsent, tried again next run)."""

    def text(self) -> str:
        return f"gửi {self.emailed} thư ({self.notifications} thông báo); thư lỗi {self.failed}"


def link(base_url: str, note: Notification) -> str:
    """:returns: the page of a notification: its document, else the incoming list."""
    base = base_url.rstrip("/")
    if note.document_id is not None:
        return f"{base}/documents/{note.document_id}"
    if note.kind == "incoming":
        return f"{base}/incoming"
    return f"{base}/notifications"


def _language(user: User) -> str:
    return user.language if user.language in LANGUAGES else "vi"


def _event(note: Notification, language: str) -> str:
    vi, en = EVENTS.get(note.kind, ("Thông báo", "Notification"))
    return en if language == "en" else vi


def one_message(user: User, note: Notification, base_url: str) -> tuple[str, str]:
    """:returns: (subject, body) of the e-mail of one notification."""
    lang = _language(user)
    texts = TEXTS[lang]
    event = _event(note, lang)
    subject = f"[TrinhKy] {event}: {note.message}"[:180]
    body = "\n".join(
        (
            texts["greeting"].format(name=user.full_name),
            "",
            f"{event} ({vn_display(note.created_at)}):",
            f"  {note.message}",
            "",
            texts["open"].format(link=link(base_url, note)),
            "",
            texts["footer"].format(settings=f"{base_url.rstrip('/')}/account/notices"),
        )
    )
    return subject, body


def digest_message(
    user: User, notes: list[Notification], base_url: str, now: datetime
) -> tuple[str, str]:
    """:returns: (subject, body) of a person's daily digest."""
    lang = _language(user)
    texts = TEXTS[lang]
    day = vn_display(now)[:10]
    lines = [texts["greeting"].format(name=user.full_name), "", texts["digest_intro"], ""]
    for note in notes:
        lines += [
            f"- {_event(note, lang)} ({vn_display(note.created_at)}): {note.message}",
            f"  {link(base_url, note)}",
        ]
    lines += ["", texts["footer"].format(settings=f"{base_url.rstrip('/')}/account/notices")]
    return texts["digest"].format(day=day, n=len(notes)), "\n".join(lines)


def _unsent(session: Session, mode: str, now: datetime) -> dict[User, list[Notification]]:
    rows = session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.emailed_at.is_(None),
            Notification.created_at > now - FRESH,
            User.notify_mode == mode,
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
        )
        .order_by(Notification.user_id, Notification.id)
    ).all()
    found: dict[User, list[Notification]] = {}
    for note, user in rows:
        found.setdefault(user, []).append(note)
    return found


def send_each(session: Session, mailer: Mailer, base_url: str, now: datetime) -> NoticeReport:
    """E-mail every unsent notification of the people who want each event."""
    emailed = covered = failed = 0
    if not mailer.enabled:
        return NoticeReport(0, 0, 0)
    for user, notes in _unsent(session, "each", now).items():
        for note in notes:
            subject, body = one_message(user, note, base_url)
            try:
                mailer.send((user.email or "").strip(), subject, body)
            except MailError as exc:
                failed += 1
                log.warning("notice %s to user %s not sent: %s", note.id, user.id, exc)
                continue
            note.emailed_at = now
            emailed += 1
            covered += 1
    _audit(session, "notice:emailed", emailed, covered, failed)
    return NoticeReport(emailed, covered, failed)


def send_digests(session: Session, mailer: Mailer, base_url: str, now: datetime) -> NoticeReport:
    """E-mail each person who chose the daily digest their unsent notifications, in one
    message."""
    emailed = covered = failed = 0
    if not mailer.enabled:
        return NoticeReport(0, 0, 0)
    for user, notes in _unsent(session, "digest", now).items():
        subject, body = digest_message(user, notes, base_url, now)
        try:
            mailer.send((user.email or "").strip(), subject, body)
        except MailError as exc:
            failed += 1
            log.warning("digest to user %s not sent: %s", user.id, exc)
            continue
        for note in notes:
            note.emailed_at = now
        emailed += 1
        covered += len(notes)
    _audit(session, "notice:digest", emailed, covered, failed)
    return NoticeReport(emailed, covered, failed)


def _audit(session: Session, action: str, emailed: int, covered: int, failed: int) -> None:
    if emailed or failed:
        session.flush()
        audit.append(
            session,
            action,
            actor_id=None,
            object_type="system",
            details={"emailed": emailed, "notifications": covered, "failed": failed},
        )


def set_preferences(session: Session, user: User, mode: object, language: object) -> User:
    """Set how ``user`` gets e-mail notices (audited).

    :raises InvalidInputError: an unknown mode or language.
    """
    if mode not in MODES:
        raise InvalidInputError("Cách nhận thư phải là each, digest hoặc none.")
    if language not in LANGUAGES:
        raise InvalidInputError("Ngôn ngữ của thư phải là vi hoặc en.")
    before = {"mode": user.notify_mode, "language": user.language}
    user.notify_mode = str(mode)
    user.language = str(language)
    audit.append(
        session,
        "notice:preferences",
        actor_id=user.id,
        object_type="user",
        object_id=user.id,
        details={"before": before, "after": {"mode": mode, "language": language}},
    )
    return user
