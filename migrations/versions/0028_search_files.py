"""search index (FTS5 on SQLite, a weighted tsvector on PostgreSQL), text extracted
from stored PDFs, a document's files (converted source, appendices)

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-06 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision: str = "0028"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# External-content FTS5 over the folded columns; the triggers are SQLite's documented
# recipe for keeping such a table in step with its content table.
FTS = """
CREATE VIRTUAL TABLE search_fts USING fts5(
    fold_title, fold_meta, fold_body,
    content='search_entries', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
)"""
TRIGGERS = (
    """CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN
      INSERT INTO search_fts(rowid, fold_title, fold_meta, fold_body)
      VALUES (new.id, new.fold_title, new.fold_meta, new.fold_body);
    END""",
    """CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN
      INSERT INTO search_fts(search_fts, rowid, fold_title, fold_meta, fold_body)
      VALUES ('delete', old.id, old.fold_title, old.fold_meta, old.fold_body);
    END""",
    """CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN
      INSERT INTO search_fts(search_fts, rowid, fold_title, fold_meta, fold_body)
      VALUES ('delete', old.id, old.fold_title, old.fold_meta, old.fold_body);
      INSERT INTO search_fts(rowid, fold_title, fold_meta, fold_body)
      VALUES (new.id, new.fold_title, new.fold_meta, new.fold_body);
    END""",
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "search_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=True),
        sa.Column("doc_type", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fold_title", sa.Text(), nullable=False),
        sa.Column("fold_meta", sa.Text(), nullable=False),
        sa.Column("fold_body", sa.Text(), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True),
        sa.Column(
            "tsv_head", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True
        ),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entries")),
        sa.UniqueConstraint("kind", "object_id", name=op.f("uq_search_entries_kind")),
    )
    op.create_index("ix_search_entries_tsv", "search_entries", ["tsv"], postgresql_using="gin")
    op.create_index(op.f("ix_search_entries_unit_id"), "search_entries", ["unit_id"])
    # Who acted on a task: one of the look-ups of the search's access filter.
    op.create_index(op.f("ix_tasks_acted_by_id"), "tasks", ["acted_by_id"])
    if sqlite:
        op.execute(FTS)
        for trigger in TRIGGERS:
            op.execute(trigger)
    op.create_table(
        "text_extracts",
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("needs_ocr", sa.Boolean(), nullable=False),
        sa.Column("ocr_state", sa.String(length=16), nullable=True),
        sa.Column("ocr_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("blob_sha256", name=op.f("pk_text_extracts")),
    )
    op.create_table(
        "document_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("first_page", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_files_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_files")),
    )
    op.create_index(op.f("ix_document_files_document_id"), "document_files", ["document_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_document_files_document_id"), table_name="document_files")
    op.drop_table("document_files")
    op.drop_table("text_extracts")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_entries_ai", "search_entries_ad", "search_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_index(op.f("ix_tasks_acted_by_id"), table_name="tasks")
    op.drop_index(op.f("ix_search_entries_unit_id"), table_name="search_entries")
    op.drop_index("ix_search_entries_tsv", table_name="search_entries")
    op.drop_table("search_entries")
