"""archival: the newest document timestamp of each signed revision (renewal job)

Revision ID: 0031
Revises: 0023
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0031"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archival_stamps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("timestamps", sa.Integer(), nullable=False),
        sa.Column("tsa_not_after", storage.types.UTCDateTime(), nullable=True),
        sa.Column("digest_algorithm", sa.String(length=32), nullable=True),
        sa.Column("checked_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_archival_stamps_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["revisions.id"], name=op.f("fk_archival_stamps_revision_id_revisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archival_stamps")),
        sa.UniqueConstraint("revision_id", name=op.f("uq_archival_stamps_revision_id")),
    )
    # An archival renewal is the system's revision: no person made it.
    with op.batch_alter_table("revisions") as batch:
        batch.alter_column("created_by_id", existing_type=sa.Integer(), nullable=True)
    op.create_index(
        op.f("ix_archival_stamps_document_id"), "archival_stamps", ["document_id"], unique=False
    )
    op.create_index(
        op.f("ix_archival_stamps_tsa_not_after"), "archival_stamps", ["tsa_not_after"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_archival_stamps_tsa_not_after"), table_name="archival_stamps")
    op.drop_index(op.f("ix_archival_stamps_document_id"), table_name="archival_stamps")
    op.drop_table("archival_stamps")
    with op.batch_alter_table("revisions") as batch:
        batch.alter_column("created_by_id", existing_type=sa.Integer(), nullable=False)
