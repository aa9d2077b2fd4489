"""workflow: what the public portal may show: issued documents published by their
issuer, never classified, never a draft; recalled ones leave the list and their page
says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Document, Unit
from workflow.errors import NotFoundError
from workflow.vocab import VN_TZ

PAGE_SIZE = 20
MAX_QUERY = 200


def _published() -> ColumnElement[bool]:
    return and_(
        Document.published_at.is_not(None),
        Document.classification.is_(None),
        Document.issued_at.is_not(None),
        Document.symbol.is_not(None),
    )


def _listed() -> ColumnElement[bool]:
    return and_(_published(), Document.recalled_at.is_(None))


@dataclass(frozen=True)
class Filters:
    """What a visitor searches for."""

    q: str = ""
    doc_type: str | None = None
    issuer: str | None = None
    """The issuing unit's code."""
    year: int | None = None
    page: int = 1


@dataclass(frozen=True)
class Results:
    documents: list[Document]
    total: int
    page: int
    pages: int


def search(session: Session, filters: Filters) -> Results:
    """:returns: one page of published documents, newest first."""
    query = select(Document).where(_listed())
    text = " ".join(filters.q.split())[:MAX_QUERY].lower()
    if text:
        cleaned = text.replace("\\", "").replace("%", "").replace("_", "")
        pattern = f"%{cleaned}%"
        query = query.where(
            or_(
                func.lower(Document.subject).like(pattern),
                func.lower(Document.symbol).like(pattern),
            )
        )
    if filters.doc_type:
        query = query.where(Document.doc_type == filters.doc_type)
    if filters.issuer:
        query = query.join(Unit, Unit.id == Document.issuer_unit_id).where(
            Unit.code == filters.issuer
        )
    if filters.year:
        query = query.where(Document.year == filters.year)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(filters.page, 1), pages)
    rows = session.scalars(
        query.order_by(Document.issued_at.desc(), Document.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return Results(list(rows), total, page, pages)


def latest(session: Session, limit: int = 50) -> list[Document]:
    """:returns: the newest published documents (the feed)."""
    return list(
        session.scalars(
            select(Document)
            .where(_listed())
            .order_by(Document.published_at.desc(), Document.id.desc())
            .limit(limit)
        )
    )


def every_listed(session: Session) -> list[tuple[int, datetime]]:
    """:returns: (id, last change) of every listed document (the sitemap)."""
    return [
        (row[0], row[1])
        for row in session.execute(
            select(Document.id, func.coalesce(Document.published_at, Document.issued_at))
            .where(_listed())
            .order_by(Document.id)
        )
    ]


def published_document(session: Session, document_id: int) -> Document:
    """:returns: a document that is or was published (a recalled one included: its
    page says it was recalled).

    :raises NotFoundError: anything else (never published, unpublished, classified,
        not issued): the same answer as for an id that does not exist.
    """
    doc = session.scalars(select(Document).where(Document.id == document_id, _published())).first()
    if doc is None:
        raise NotFoundError("Không có văn bản công khai này.")
    return doc


def facets(session: Session) -> tuple[list[str], list[tuple[str, str]], list[int]]:
    """:returns: the types, issuers (code, name) and years that have listed documents."""
    types = sorted(session.scalars(select(Document.doc_type).where(_listed()).distinct()))
    issuers = [
        (code, name)
        for code, name in session.execute(
            select(Unit.code, Unit.name)
            .join(Document, Document.issuer_unit_id == Unit.id)
            .where(_listed())
            .distinct()
            .order_by(Unit.code)
        )
    ]
    years = sorted(
        (y for y in session.scalars(select(Document.year).where(_listed()).distinct()) if y),
        reverse=True,
    )
    return types, issuers, years


def issued_year(doc: Document) -> int | None:
    """:returns: the year of issue in Vietnam time."""
    return doc.issued_at.astimezone(VN_TZ).year if doc.issued_at else None
