"""incoming documents: handling after receipt (assignment, lead person, reply)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("handling_document_id", "documents"),
    ("lead_user_id", "users"),
    ("reply_document_id", "documents"),
)


def upgrade() -> None:
    with op.batch_alter_table("incoming_entries", schema=None) as batch_op:
        for column, table in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                op.f(f"fk_incoming_entries_{column}_{table}"), table, [column], ["id"]
            )


def downgrade() -> None:
    with op.batch_alter_table("incoming_entries", schema=None) as batch_op:
        for column, table in reversed(COLUMNS):
            batch_op.drop_constraint(
                op.f(f"fk_incoming_entries_{column}_{table}"), type_="foreignkey"
            )
            batch_op.drop_column(column)
