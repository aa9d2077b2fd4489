"""documents: the recipients the drafter plans (nơi nhận dự kiến)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "planned_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_planned_recipients_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_planned_recipients_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_recipients")),
    )
    op.create_index(
        op.f("ix_planned_recipients_document_id"),
        "planned_recipients",
        ["document_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_planned_recipients_document_id"), table_name="planned_recipients")
    op.drop_table("planned_recipients")
