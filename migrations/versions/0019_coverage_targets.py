"""coverage: T1 per delivery (target codes up to 4 characters); a report's delivery to
the superior's incoming register (T4 counts its receipt)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "T1D" (T1 per delivery) beside "T1".."T4"; widening a VARCHAR rewrites nothing.
    for table in ("ledger_entries", "ledger_counts"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "target", existing_type=sa.String(length=2), type_=sa.String(length=4)
            )
    with op.batch_alter_table("report_obligations") as batch:
        batch.add_column(sa.Column("incoming_entry_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sent_at", storage.types.UTCDateTime(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_report_obligations_incoming_entry_id_incoming_entries"),
            "incoming_entries",
            ["incoming_entry_id"],
            ["id"],
        )
    # A report "submitted" before this revision was only put on its own unit's route:
    # never delivered to the superior, so it is not submitted (the audit log keeps the
    # report:submitted entries of those claims).
    op.execute("UPDATE report_obligations SET submitted_at = NULL WHERE incoming_entry_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("report_obligations") as batch:
        batch.drop_constraint(
            op.f("fk_report_obligations_incoming_entry_id_incoming_entries"), type_="foreignkey"
        )
        batch.drop_column("sent_at")
        batch.drop_column("incoming_entry_id")
    for table in ("ledger_counts", "ledger_entries"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "target", existing_type=sa.String(length=4), type_=sa.String(length=2)
            )
