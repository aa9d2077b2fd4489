"""storage: the search index (one row per searchable object, folded text beside the
original) and the text extracted from stored PDFs, and a document's files (the source
of a converted draft, its appendices)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow

FTS_TABLE = "search_fts"
"""SQLite only: the FTS5 table over :class:`SearchEntry`'s folded columns (external
content, kept in sync by triggers; created by migration 0028). Its shadow tables
(``search_fts_*``) are not part of the models."""


def is_model_object(name: str | None, type_: str, parent_names: object) -> bool:
    """``include_name`` for alembic's comparison: everything but the FTS5 tables."""
    return not (type_ == "table" and (name or "").startswith(FTS_TABLE))


class SearchEntry(Base):
    """One searchable object: a document, an incoming entry or a work file.

    ``fold_*`` hold the same text folded (lower case, no diacritics, đ → d) for the
    full-text index; the original columns give titles and highlighted snippets. Who may
    see a row is decided at query time from the live tables, never stored here.
    """

    __tablename__ = "search_entries"
    __table_args__ = (
        UniqueConstraint("kind", "object_id"),
        Index("ix_search_entries_tsv", "tsv", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``document``, ``incoming`` or ``workfile``."""
    object_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """The owning unit (incoming: the receiving unit; work file: its unit)."""
    title: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str | None] = mapped_column(String(64))
    doc_type: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str | None] = mapped_column(String(24))
    day: Mapped[date | None] = mapped_column(Date)
    """The date that dates the object (issued, received, created), Vietnam time."""
    meta: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    fold_title: Mapped[str] = mapped_column(Text, default="")
    fold_meta: Mapped[str] = mapped_column(Text, default="")
    fold_body: Mapped[str] = mapped_column(Text, default="")
    tsv: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))
    """PostgreSQL: the weighted tsvector of the folded columns (NULL on SQLite)."""
    tsv_head: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))
    """PostgreSQL: title and metadata only, small and stored inline: what results are
    ranked by (ranking on :attr:`tsv` would read every match's whole text)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TextExtract(Base):
    """The text of one stored PDF (by its SHA-256), extracted once at upload, or by OCR."""

    __tablename__ = "text_extracts"

    blob_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(8))
    """``pdf`` (its text layer) or ``ocr``."""
    pages: Mapped[int] = mapped_column(Integer, default=0)
    needs_ocr: Mapped[bool] = mapped_column(Boolean, default=False)
    """Pages without text: a scan waiting for the OCR job."""
    ocr_state: Mapped[str | None] = mapped_column(String(16))
    """``done``, ``failed``, ``skipped`` (signed before OCR); NULL while waiting."""
    ocr_sha256: Mapped[str | None] = mapped_column(String(64))
    """The searchable PDF OCR made (same page images, a text layer added)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DocumentFile(Base):
    """A file of a document besides its revisions: the Word/OpenDocument source of a
    converted draft (``source``) or an appendix (``appendix``, phụ lục) merged after the
    main text, from ``first_page`` on, so one signature covers it."""

    __tablename__ = "document_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255))
    blob_sha256: Mapped[str] = mapped_column(String(64))
    """The file as uploaded (a .docx, .odt or PDF)."""
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    """Its PDF form (the same blob for a PDF)."""
    first_page: Mapped[int | None] = mapped_column(Integer)
    """1-based page of the merged PDF where an appendix starts."""
    pages: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
