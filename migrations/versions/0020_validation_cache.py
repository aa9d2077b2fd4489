"""validation reports cached per (file hash, trust-list version); the trust-list version

Revision ID: 0020
Revises: 0026
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0020"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    trust_state = op.create_table(
        "trust_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_state")),
    )
    op.bulk_insert(
        trust_state,
        [{"id": 1, "version": 1, "changed_at": datetime.now(UTC)}],
    )
    op.create_table(
        "validation_results",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("trust_version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("computed_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "trust_version", name=op.f("pk_validation_results")),
    )


def downgrade() -> None:
    op.drop_table("validation_results")
    op.drop_table("trust_state")
