"""signature and seal images

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 22:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature_png_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seal_png_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("seal_png_sha256")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("signature_png_sha256")
