"""archival: the long-term verdicts of each renewed revision (the next renewal keeps them)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("archival_stamps") as batch:
        batch.add_column(sa.Column("verdicts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("archival_stamps") as batch:
        batch.drop_column("verdicts")
