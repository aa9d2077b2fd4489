"""portal: issued documents published on the public portal

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0029"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("published_at", storage.types.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("published_by_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_documents_published_at"), ["published_at"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_documents_published_by_id_users"), "users", ["published_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint(batch.f("fk_documents_published_by_id_users"), type_="foreignkey")
        batch.drop_index(batch.f("ix_documents_published_at"))
        batch.drop_column("published_by_id")
        batch.drop_column("published_at")
