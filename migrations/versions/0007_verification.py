"""verification codes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 22:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_verification_codes_document_id_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_verification_codes_code")),
        sa.UniqueConstraint("document_id", name=op.f("uq_verification_codes_document_id")),
    )


def downgrade() -> None:
    op.drop_table("verification_codes")
