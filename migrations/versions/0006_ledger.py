"""coverage ledger (targets T1-T4) and special-rule exemptions

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
# TEMPORARY: 0005 is being written; point this at "0005" once it exists.
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=2), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=8), nullable=True),
        sa.Column("period_date", sa.Date(), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("exempt_reason", sa.String(length=255), nullable=True),
        sa.Column("exempt_decision", sa.Text(), nullable=True),
        sa.Column("exempt_approved_by_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_ledger_entries_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["exempt_approved_by_id"],
            ["users.id"],
            name=op.f("fk_ledger_entries_exempt_approved_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("target", "subject_kind", "subject_id", name="uq_ledger_subject"),
    )
    op.create_index(
        "ix_ledger_target_unit_period_state",
        "ledger_entries",
        ["target", "unit_id", "period_date", "state"],
    )
    op.create_index(
        "ix_ledger_period_target_unit_state",
        "ledger_entries",
        ["period_date", "target", "unit_id", "state", "doc_type"],
    )
    op.create_index(
        "ix_ledger_target_state_period", "ledger_entries", ["target", "state", "period_date"]
    )
    op.create_table(
        "ledger_exemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_ledger_exemptions_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_ledger_exemptions_approved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_exemptions")),
        sa.UniqueConstraint("document_id", name=op.f("uq_ledger_exemptions_document_id")),
    )


def downgrade() -> None:
    op.drop_table("ledger_exemptions")
    op.drop_index("ix_ledger_target_state_period", table_name="ledger_entries")
    op.drop_index("ix_ledger_period_target_unit_state", table_name="ledger_entries")
    op.drop_index("ix_ledger_target_unit_period_state", table_name="ledger_entries")
    op.drop_table("ledger_entries")
