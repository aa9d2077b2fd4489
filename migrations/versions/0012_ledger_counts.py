"""ledger summary counts (per month, target, unit, state, document type), backfilled;
partial index of the exempt entries

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counts = op.create_table(
        "ledger_counts",
        sa.Column("period_month", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=2), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("doc_type", sa.String(length=8), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_ledger_counts_unit_id_units")
        ),
        sa.PrimaryKeyConstraint(
            "period_month", "target", "unit_id", "state", "doc_type", name=op.f("pk_ledger_counts")
        ),
    )
    assert counts is not None  # noqa: S101 - create_table returns the table
    # Backfill from the existing entries (same grouping as storage.ledger_counts).
    entries = sa.table(
        "ledger_entries",
        sa.column("period_date", sa.Date()),
        sa.column("target", sa.String()),
        sa.column("unit_id", sa.Integer()),
        sa.column("state", sa.String()),
        sa.column("doc_type", sa.String()),
    )
    month = sa.extract("year", entries.c.period_date) * 100 + sa.extract(
        "month", entries.c.period_date
    )
    doc_type = sa.func.coalesce(entries.c.doc_type, sa.literal(""))
    keys = [month, entries.c.target, entries.c.unit_id, entries.c.state, doc_type]
    # Exemptions by reason: a covering index over the exempt entries only.
    op.create_index(
        "ix_ledger_exempt_period_reason",
        "ledger_entries",
        ["period_date", "target", "unit_id", "exempt_reason", "state"],
        postgresql_where=sa.text("state = 'exempt'"),
        sqlite_where=sa.text("state = 'exempt'"),
    )
    op.execute(
        counts.insert().from_select(
            ["period_month", "target", "unit_id", "state", "doc_type", "entries"],
            sa.select(*keys, sa.func.count()).group_by(*keys),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_exempt_period_reason", table_name="ledger_entries")
    op.drop_table("ledger_counts")
