"""sessions end on logout and password change; login throttling shared by every worker

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", storage.types.UTCDateTime(), nullable=False),
        sa.Column("blocked_until", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops the column itself (3.35+); a batch copy of ``users`` would have to
        # drop the table that every other table's foreign keys point at.
        op.execute("ALTER TABLE users DROP COLUMN session_generation")
    else:
        op.drop_column("users", "session_generation")
