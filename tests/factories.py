"""Test data by plain functions: users, documents and tasks made through the use-cases in
one transaction each, where a test needs them as a starting point and not as what it
checks (the API and the pages have their own tests). Everything is real: the rows, the
blobs, the audit entries and, for a signed document, the signature."""

from __future__ import annotations

import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.db import make_session_factory
from storage.models import Task, User
from tests.conftest import DEMO_PASSWORD
from tests.pdfs import simple_pdf
from workflow.documents import usecases
from workflow.services import Services
from workflow.setup.demo import DEFAULT_ROUTE
from workflow.signatures import flow

ISSUING_ROUTE = "thuong-truc-ban-hanh"
"""approve (truongban) → review (vanthu) → sign (bithu) → issue (vanthu)."""


def user(session: Session, username: str) -> User:
    """:returns: the user called ``username``."""
    return session.scalars(select(User).where(User.username == username)).one()


def open_task(session: Session, username: str, document_id: int) -> Task:
    """:returns: ``username``'s one open task on the document."""
    assignee = user(session, username)
    return session.scalars(
        select(Task).where(
            Task.document_id == document_id,
            Task.assignee_id == assignee.id,
            Task.state == "open",
        )
    ).one()


def submitted_document(
    services: Services,
    *,
    route: str = DEFAULT_ROUTE,
    subject: str = "Về việc tổ chức hội nghị học tập Nghị quyết",
    doc_type: str = "CV",
    drafter: str = "chuyenvien",
    pdf: bytes | None = None,
) -> int:
    """A document uploaded and submitted on ``route`` by ``drafter``: :returns: its id."""
    with services.session_factory() as session:
        author = user(session, drafter)
        doc = usecases.create_document(
            session,
            services.blobs,
            author,
            staged=services.blobs.stage(io.BytesIO(simple_pdf() if pdf is None else pdf)),
            filename="van-ban.pdf",
            subject=subject,
            doc_type=doc_type,
            route_code=route,
        )
        usecases.submit(session, author, doc.id)
        session.commit()
        return doc.id


def approved(services: Services, document_id: int, *usernames: str) -> None:
    """Each of ``usernames`` in turn approves their open task on the document."""
    with services.session_factory() as session:
        for name in usernames:
            usecases.approve(session, user(session, name), open_task(session, name, document_id).id)
        session.commit()


def signed(
    services: Services, document_id: int, signer: str = "bithu", passphrase: str = DEMO_PASSWORD
) -> None:
    """``signer`` signs the document at their open sign task (PAdES B-B, their own key)."""
    with services.session_factory() as session:
        flow.sign(
            session,
            services.blobs,
            services.trust,
            user(session, signer),
            open_task(session, signer, document_id).id,
            passphrase,
            key_max_failures=5,
            key_lock_seconds=60,
        )
        session.commit()


def run_signing(services: Services, task_id: int, signer: str = "bithu") -> flow.SignOutcome:
    """``signer`` signs at ``task_id`` through ``flow.run``, the views' unit of work (B-B,
    in a session of its own, deferred as a web request's)."""
    factory = make_session_factory(services.engine, deferred=True)
    with factory() as session:
        return flow.run(
            session,
            services.blobs,
            services.trust,
            user(session, signer),
            task_id,
            DEMO_PASSWORD,
            key_max_failures=5,
            key_lock_seconds=60,
            level=lambda unit, doc_type: "B-B",
            services=None,
        )


def awaiting_signature(services: Services, n: int, signer: str = "bithu") -> list[int]:
    """``n`` documents on the default route, approved by the head of the board:
    :returns: ``signer``'s open sign task on each."""
    tasks = []
    for i in range(n):
        doc_id = submitted_document(services, subject=f"Công văn số {i + 1} về việc ký hàng loạt")
        approved(services, doc_id, "truongban")
        with services.session_factory() as session:
            tasks.append(open_task(session, signer, doc_id).id)
    return tasks


def awaiting_issue(services: Services, n: int) -> list[int]:
    """``n`` documents on the issuing route, approved, checked and signed:
    :returns: the clerk's open issue task on each."""
    tasks = []
    for _ in range(n):
        doc_id = submitted_document(services, route=ISSUING_ROUTE, subject="Văn bản thử đồng thời")
        approved(services, doc_id, "truongban", "vanthu")
        signed(services, doc_id)
        with services.session_factory() as session:
            tasks.append(open_task(session, "vanthu", doc_id).id)
    return tasks
