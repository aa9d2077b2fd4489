"""registers hold paper documents too; the classified series never blocks the ordinary one

- documents.form (electronic | paper); classified metadata-only documents become paper;
- the symbol is unique per issuer, series (register), year: a classified 02-CV/ĐUK no
  longer collides with the ordinary 02-CV/ĐUK;
- hand_signatures (documents signed by hand); dispatches.form (sent on paper);
- incoming_entries: form, sender_unit_id, classification, and an optional file;
- work_files.form; report_obligations delivered on paper.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _form() -> sa.Column[str]:
    return sa.Column("form", sa.String(length=16), server_default="electronic", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(_form())
        batch_op.drop_constraint("uq_documents_symbol", type_="unique")
        batch_op.create_unique_constraint(
            "uq_documents_symbol", ["issuer_unit_id", "register", "year", "symbol"]
        )
    documents = sa.table("documents", sa.column("form", sa.String), sa.column("metadata_only"))
    op.execute(documents.update().where(documents.c.metadata_only).values(form="paper"))

    with op.batch_alter_table("incoming_entries", schema=None) as batch_op:
        batch_op.add_column(_form())
        batch_op.add_column(sa.Column("sender_unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("classification", sa.String(length=16), nullable=True))
        batch_op.alter_column("blob_sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_incoming_entries_sender_unit_id_units"),
            "units",
            ["sender_unit_id"],
            ["id"],
        )

    with op.batch_alter_table("work_files", schema=None) as batch_op:
        batch_op.add_column(_form())

    with op.batch_alter_table("report_obligations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paper_delivered_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("paper_recorded_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_report_obligations_paper_recorded_by_id_users"),
            "users",
            ["paper_recorded_by_id"],
            ["id"],
        )

    op.create_table(
        "hand_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=True),
        sa.Column("signer_name", sa.String(length=255), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("scan_sha256", sa.String(length=64), nullable=True),
        sa.Column("scan_size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_hand_signatures_document_id_documents")
        ),
        sa.ForeignKeyConstraint(
            ["signer_id"], ["users.id"], name=op.f("fk_hand_signatures_signer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hand_signatures")),
        sa.UniqueConstraint("document_id", name=op.f("uq_hand_signatures_document_id")),
    )
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(_form())


def downgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_column("form")
    op.drop_table("hand_signatures")
    with op.batch_alter_table("report_obligations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_report_obligations_paper_recorded_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("paper_recorded_by_id")
        batch_op.drop_column("paper_delivered_on")
    with op.batch_alter_table("work_files", schema=None) as batch_op:
        batch_op.drop_column("form")
    # Paper entries without a scan keep their row (nothing is deleted), with an empty hash.
    op.execute(sa.text("UPDATE incoming_entries SET blob_sha256 = '' WHERE blob_sha256 IS NULL"))
    with op.batch_alter_table("incoming_entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_incoming_entries_sender_unit_id_units"), type_="foreignkey"
        )
        batch_op.alter_column("blob_sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("classification")
        batch_op.drop_column("sender_unit_id")
        batch_op.drop_column("form")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint("uq_documents_symbol", type_="unique")
        batch_op.create_unique_constraint(
            "uq_documents_symbol", ["issuer_unit_id", "year", "symbol"]
        )
        batch_op.drop_column("form")
