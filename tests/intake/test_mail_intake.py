"""E-mail intake: documents e-mailed to an office mailbox, read over IMAPS from a real
Dovecot, become pending entries of the receiving unit's intake; the clerk receives them
(incoming numbers, T1), returns them with a reply e-mail (aiosmtpd) or discards spam."""

from __future__ import annotations

import email
import hashlib
import os
import random
import time
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from storage.intake_models import MailMessage
from storage.ledger import LedgerEntry
from storage.models import AuditEvent, Task
from storage.types import utcnow
from tests import factories
from tests.conftest import Api
from tests.intake.conftest import Dovecot, Inbox
from tests.pdfs import simple_pdf
from tests.test_web import login
from workflow.intake import imap
from workflow.jobs import catalogue
from workflow.jobs.runner import Runner
from workflow.mail import NullMailer
from workflow.services import Services

pytestmark = pytest.mark.usefixtures("clock")


def mail(
    subject: str,
    *attachments: tuple[str, bytes, str],
    sender: str = "Văn phòng UBND tỉnh <vanthu@ubnd.example.vn>",
    message_id: str | None = None,
) -> bytes:
    """A message as a mail client sends it: text, then each (name, data, type) attached."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "vanthu@dangbo.example.vn"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow() - timedelta(minutes=5))
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="ubnd.example.vn")
    msg.set_content("Kính gửi Đảng ủy Khối, xin gửi văn bản kèm theo.")
    for name, data, ctype in attachments:
        main, sub = ctype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes(policy=default_policy.clone(linesep="\r\n"))  # as on the wire


MALFORMED = (
    b"From: =?utf-8?B?bad?= <spam@example.com>\r\n"
    b"Subject: Broken\r\nMessage-ID: <broken-1@example.com>\r\n"
    b"Date: not a date\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
    b"--XYZ\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    b"--XYZ\r\nContent-Type: application/pdf; name=a.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all\r\n"
)
"""No closing boundary, an undecodable From, a bad date, a PDF part that is not base64."""


def signed_pdf(services: Services, api: Api) -> bytes:
    (task_id,) = factories.awaiting_signature(services, 1)
    with services.session_factory() as session:
        doc_id = session.get_one(Task, task_id).document_id
    factories.signed(services, doc_id)
    data: bytes = api.get("bithu", f"/documents/{doc_id}/file").data
    assert data.startswith(b"%PDF")
    return data


def runner(app: Flask) -> Runner:
    services = app.extensions["trinhky"]
    return Runner(
        services,
        (catalogue.BY_NAME["mail-intake"],),
        catalogue.intervals(services.settings),
        NullMailer(),
        None,
        clock=utcnow,
    )


def audits(services: Services, action: str) -> list[AuditEvent]:
    with services.session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


# The queue locks its message (SELECT .. FOR UPDATE), (Message-ID, SHA-256) is unique.
@pytest.mark.both_databases
def test_documents_emailed_to_the_office_mailbox(
    app: Flask,
    api: Api,
    services: Services,
    dovecot: Dovecot,
    folder: str,
    smtp: tuple[Inbox, int],
) -> None:
    signed = signed_pdf(services, api)
    unsigned = simple_pdf("Cong van khong ky so")
    raws = {
        "signed": mail("Công văn số 125/UBND-VX", ("125-UBND.pdf", signed, "application/pdf")),
        "unsigned": mail("Giấy mời họp", ("giay-moi.pdf", unsigned, "application/pdf")),
        "several": mail(
            "Hai văn bản",
            ("a.pdf", simple_pdf("Van ban A"), "application/pdf"),
            ("b.pdf", simple_pdf("Van ban B"), "application/octet-stream"),
            ("ghi-chu.txt", b"ghi chu", "text/plain"),
            ("gia.pdf", b"khong phai PDF", "application/pdf"),
        ),
        "none": mail("Xin hỏi lịch họp", sender="Ông Nguyễn Văn A <nva@example.vn>"),
        "malformed": MALFORMED,
    }
    dovecot.deliver(folder, *raws.values(), raws["signed"])  # the first one arrives twice

    # One scheduler run of the job: every message is in the queue, flagged on the server.
    outcome = runner(app).tick("mail-intake")
    assert outcome.status == "ok", outcome.error
    assert outcome.summary == "hộp thư van-thu: 5 thư mới, 1 thư trùng"
    assert all("$TrinhKy" in f for f in dovecot.flags(folder)), dovecot.flags(folder)
    assert all("\\Seen" not in f for f in dovecot.flags(folder))  # the people's view untouched

    queue = api.get("vanthu", "/intake").get_json()["messages"]
    by_subject = {m["subject"]: m for m in queue}
    assert len(queue) == 5 and all(m["state"] == "pending" for m in queue)
    first = by_subject["Công văn số 125/UBND-VX"]
    assert first["sender"] == "Văn phòng UBND tỉnh <vanthu@ubnd.example.vn>"
    assert first["reply_to"] == "vanthu@ubnd.example.vn" and first["sent_at"]
    assert first["sha256"] == hashlib.sha256(raws["signed"]).hexdigest()
    several = by_subject["Hai văn bản"]
    assert [e["subject"] for e in several["entries"]] == [
        "Hai văn bản (a.pdf)",
        "Hai văn bản (b.pdf)",
    ]
    assert any("gia.pdf" in p for p in several["problems"])
    assert by_subject["Xin hỏi lịch họp"]["entries"] == []
    assert "Thư không có tệp PDF đính kèm" in by_subject["Xin hỏi lịch họp"]["problems"]
    broken = by_subject["Broken"]
    assert broken["entries"] == [] and any("MIME" in p for p in broken["problems"])

    # The evidence: the .eml as received, its SHA-256 in the audit log.
    eml = api.get("vanthu", f"/intake/{first['id']}/eml")
    assert eml.status_code == 200 and eml.data == raws["signed"]
    fetched = {e.details["sha256"] for e in audits(services, "mail:fetched")}
    assert fetched == {hashlib.sha256(r).hexdigest() for r in raws.values()}

    # Only the receiving unit's clerk acts; others see nothing.
    assert api.get("chuyenvien", "/intake").status_code == 403
    assert api.get("chuyenvien", f"/intake/{first['id']}").status_code == 404
    assert api.post("chuyenvien", f"/intake/{first['id']}/receive").status_code == 404

    # Receive: numbers in the incoming register; the unsigned one flagged, not refused.
    got = api.post("vanthu", f"/intake/{first['id']}/receive").get_json()
    assert got["state"] == "received"
    assert [(e["state"], e["number"], e["unsigned"]) for e in got["entries"]] == [
        ("received", 1, False)
    ]
    plain = api.post("vanthu", f"/intake/{by_subject['Giấy mời họp']['id']}/receive").get_json()
    assert [(e["state"], e["number"], e["unsigned"]) for e in plain["entries"]] == [
        ("received", 2, True)
    ]
    two = api.post("vanthu", f"/intake/{several['id']}/receive").get_json()
    assert [e["number"] for e in two["entries"]] == [3, 4]
    again = api.post("vanthu", f"/intake/{first['id']}/receive")
    assert again.status_code == 409
    register = api.get("vanthu", "/registers/incoming").get_json()["entries"]
    assert sorted(r["number"] for r in register if r["state"] == "received") == [1, 2, 3, 4]
    with services.session_factory() as session:
        t1 = session.scalars(
            select(LedgerEntry.state).where(
                LedgerEntry.target == "T1", LedgerEntry.subject_kind == "incoming"
            )
        ).all()
    assert sorted(t1) == ["electronic"] * 4

    # Nothing to receive in a message without PDF: returned to its sender with a reason.
    none_id = by_subject["Xin hỏi lịch họp"]["id"]
    assert api.post("vanthu", f"/intake/{none_id}/receive").status_code == 409
    assert api.post("vanthu", f"/intake/{none_id}/return", json={"reason": " "}).status_code == 422
    inbox, _ = smtp
    returned = api.post(
        "vanthu", f"/intake/{none_id}/return", json={"reason": "Thư không kèm văn bản."}
    )
    assert returned.status_code == 200 and returned.get_json()["state"] == "returned"
    (reply,) = inbox.messages
    assert reply[1] == ["nva@example.vn"]
    parsed = email.message_from_bytes(reply[2], policy=default_policy)
    assert parsed["Subject"] == "Re: Xin hỏi lịch họp"
    assert "Thư không kèm văn bản." in parsed.get_content()

    # The page: the pending message with its buttons; a form without its token refused.
    web = app.test_client()
    login(web, "vanthu")
    page = web.get("/intake").get_data(as_text=True)
    assert "Broken" in page and "Loại bỏ (thư rác)" in page and "Công văn số 125" not in page
    refused = web.post(f"/intake/{broken['id']}/discard", data={})
    assert refused.status_code == 400  # the CSRF check
    assert api.get("vanthu", f"/intake/{broken['id']}").get_json()["state"] == "pending"

    # Spam is discarded: kept as evidence, nothing registered.
    gone = api.post("vanthu", f"/intake/{broken['id']}/discard", json={"reason": "Thư rác"})
    assert gone.status_code == 200 and gone.get_json()["state"] == "discarded"
    assert api.get("vanthu", f"/intake/{broken['id']}/eml").data == MALFORMED
    assert api.get("vanthu", "/intake").get_json()["messages"] == []
    actions = [
        len(audits(services, a)) for a in ("mail:received", "mail:returned", "mail:discarded")
    ]
    assert actions == [3, 1, 1]


class Crash(BaseException):
    """The process dies (after the commit, before the flag)."""


def test_crash_between_commit_and_flag_records_once(
    app: Flask,
    services: Services,
    dovecot: Dovecot,
    folder: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = mail("Công văn gửi lúc mất điện", ("cv.pdf", simple_pdf(), "application/pdf"))
    dovecot.deliver(folder, raw)
    box = services.settings.mail_intake[0]

    def crash(*args: object) -> None:
        raise Crash

    monkeypatch.setattr(imap, "mark_processed", crash)
    with pytest.raises(Crash):
        imap.poll(box, services.session_factory, services.blobs, max_bytes=10**7, now=utcnow())
    assert not any("$TrinhKy" in f for f in dovecot.flags(folder))
    monkeypatch.undo()

    report = imap.poll(box, services.session_factory, services.blobs, max_bytes=10**7, now=utcnow())
    assert (report.new, report.duplicates, report.errors) == (0, 1, [])
    assert all("$TrinhKy" in f for f in dovecot.flags(folder))
    with services.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MailMessage)) == 1
    assert len(audits(services, "mail:fetched")) == 1


def test_wrong_password_is_reported_without_the_password(
    services: Services, dovecot: Dovecot, folder: str
) -> None:
    box = dovecot.mailbox(folder)
    wrong = type(box)(**{**box.__dict__, "password": "sai-mat-khau-bi-mat"})
    report = imap.poll(
        wrong, services.session_factory, services.blobs, max_bytes=10**6, now=utcnow()
    )
    assert report.new == 0 and "đăng nhập bị từ chối" in report.errors[0]
    assert "sai-mat-khau-bi-mat" not in report.text() and "sai-mat-khau" not in repr(wrong)


LARGE = int(os.environ.get("TRINHKY_INTAKE_LARGE_MB", "30")) * 1024 * 1024
"""The issue's 30 MB (about 40 MB of base64 on the wire); ``TRINHKY_INTAKE_LARGE_MB``
makes it smaller on a slow machine."""


def large_pdf(size: int) -> bytes:
    """A valid PDF carrying ``size`` bytes of incompressible data in an unused stream."""
    base = simple_pdf("Ban ve lon")
    head, _, _ = base.rpartition(b"xref\n")
    blob = random.Random(16).randbytes(size)  # noqa: S311 - filler, not a secret
    extra = b"9 0 obj\n<< /Length %d >>\nstream\n" % size + blob + b"\nendstream\nendobj\n"
    # Rebuild the cross-reference table with the extra object.
    pdf = bytearray(head) + extra
    offsets = [head.index(b"%d 0 obj" % n) for n in range(1, 6)]
    xref_at = len(pdf)
    pdf += b"xref\n0 10\n0000000000 65535 f \n"
    for off in offsets:
        pdf += b"%010d 00000 n \n" % off
    pdf += b"0000000000 65535 f \n" * 3 + b"%010d 00000 n \n" % len(head)
    pdf += b"trailer\n<< /Size 10 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(pdf)


def test_large_attachment(services: Services, api: Api, dovecot: Dovecot, folder: str) -> None:
    data = large_pdf(LARGE)
    dovecot.deliver(folder, mail("Bản vẽ thiết kế", ("ban-ve.pdf", data, "application/pdf")))
    box = services.settings.mail_intake[0]
    started = time.monotonic()
    report = imap.poll(
        box, services.session_factory, services.blobs, max_bytes=40 * 1024 * 1024, now=utcnow()
    )
    assert (report.new, report.errors) == (1, []), report
    (message,) = api.get("vanthu", "/intake").get_json()["messages"]
    (entry,) = message["entries"]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert services.blobs.size(entry["sha256"]) == len(data)
    assert time.monotonic() - started < 60
