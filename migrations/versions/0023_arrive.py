"""documents as they arrive: a repaired or decrypted revision keeps the uploaded file
beside it; the administrators' trust list (roots and intermediates, versioned)

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0023"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("conversion", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("conversion_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("revisions") as batch:
        batch.drop_column("conversion_note")
        batch.drop_column("conversion")
        batch.drop_column("original_sha256")
