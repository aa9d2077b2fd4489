"""workflow: reading the office mailboxes over IMAP (stdlib :mod:`imaplib`, TLS only).

A message is flagged on the server (the mailbox's keyword, ``$TrinhKy`` by default) only
after its entry is committed, each in a short transaction of its own; a crash between
the commit and the flag fetches it again next time, and the ``(Message-ID, SHA-256)``
check records it once. The password is never logged nor put into an error text.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.blobs import BlobStore
from storage.models import Unit
from workflow.intake import service
from workflow.settings import MailboxConfig

log = logging.getLogger("trinhky.intake")
TIMEOUT = 60.0


class IntakeError(Exception):
    """A mailbox could not be read (server down, login refused, no such folder)."""


@dataclass
class PollReport:
    """What one read of one mailbox did."""

    mailbox: str
    new: int = 0
    """Messages recorded."""
    duplicates: int = 0
    """Messages already recorded (flagged now)."""
    errors: list[str] = field(default_factory=list)
    """What went wrong, for the job's summary."""

    def text(self) -> str:
        line = f"hộp thư {self.mailbox}: {self.new} thư mới, {self.duplicates} thư trùng"
        return line + (f"; lỗi: {'; '.join(self.errors)}" if self.errors else "")


@contextmanager
def connect(box: MailboxConfig) -> Iterator[imaplib.IMAP4]:
    """:returns: a logged-in IMAP connection over TLS, the folder selected read-write."""
    context = ssl.create_default_context(cafile=box.cafile)
    where = f"IMAP {box.host}:{box.port}"
    try:
        if box.security == "starttls":
            imap: imaplib.IMAP4 = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT)
            imap.starttls(ssl_context=context)
        else:
            imap = imaplib.IMAP4_SSL(box.host, box.port, ssl_context=context, timeout=TIMEOUT)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise IntakeError(f"{where}: không kết nối được ({exc})") from exc
    try:
        try:
            imap.login(box.user, box.password)
        except imaplib.IMAP4.error as exc:
            raise IntakeError(f"{where}: đăng nhập bị từ chối cho {box.user!r}") from exc
        status, _ = imap.select(_quote(box.folder))
        if status != "OK":
            raise IntakeError(f"{where}: không mở được thư mục {box.folder!r}")
        yield imap
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unprocessed(imap: imaplib.IMAP4, flag: str) -> list[bytes]:
    """:returns: the UIDs of the messages not yet flagged as processed."""
    status, data = imap.uid("SEARCH", "UNDELETED", "UNKEYWORD", flag)
    if status != "OK":
        raise IntakeError(f"tìm thư chưa xử lý thất bại: {data!r}")
    return data[0].split() if data and data[0] else []


def fetch(imap: imaplib.IMAP4, uid: bytes) -> bytes | None:
    """:returns: the raw message (without setting \\Seen), or ``None`` if it is gone."""
    status, data = imap.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
    if status != "OK":
        raise IntakeError(f"đọc thư UID {uid.decode()} thất bại")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None


def mark_processed(imap: imaplib.IMAP4, uid: bytes, flag: str) -> None:
    """Set the mailbox's keyword on a message whose entry is committed."""
    status, data = imap.uid("STORE", uid.decode(), "+FLAGS", f"({flag})")
    if status != "OK":
        raise IntakeError(f"đánh dấu thư UID {uid.decode()} thất bại: {data!r}")


FLAG_RE = re.compile(r"^\$?[A-Za-z0-9_]{1,40}$")


def poll(
    box: MailboxConfig,
    sessions: Callable[[], Session],
    blobs: BlobStore,
    *,
    max_bytes: int,
    now: datetime,
) -> PollReport:
    """Read one mailbox: each unflagged message is recorded in a transaction of its own,
    committed, and only then flagged on the server."""
    report = PollReport(box.name)
    if not FLAG_RE.match(box.flag):
        report.errors.append(f"từ khoá đánh dấu không hợp lệ: {box.flag!r}")
        return report
    with sessions() as session:
        unit = session.scalars(select(Unit).where(Unit.code == box.unit)).first()
        if unit is None:
            report.errors.append(f"không có đơn vị mã {box.unit!r} (MAIL_INTAKE)")
            return report
        unit_id = unit.id
    try:
        with connect(box) as imap:
            for uid in unprocessed(imap, box.flag):
                raw = fetch(imap, uid)
                if raw is None:
                    continue
                with sessions() as session:
                    done = service.ingest(
                        session,
                        blobs,
                        mailbox=box.name,
                        unit=session.get_one(Unit, unit_id),
                        raw=raw,
                        max_bytes=max_bytes,
                        now=now,
                    )
                    session.commit()
                mark_processed(imap, uid, box.flag)
                if done.new:
                    report.new += 1
                else:
                    report.duplicates += 1
    except (IntakeError, OSError, imaplib.IMAP4.error) as exc:
        log.warning("mailbox %s: %s", box.name, exc)
        report.errors.append(str(exc))
    return report
