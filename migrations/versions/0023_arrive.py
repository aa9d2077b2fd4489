"""documents as they arrive: a repaired or decrypted revision keeps the uploaded file
beside it; the administrators' trust list (roots and intermediates, versioned)

Revision ID: 0023
Revises: 0030
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0023"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trust_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("not_before", storage.types.UTCDateTime(), nullable=False),
        sa.Column("not_after", storage.types.UTCDateTime(), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["users.id"], name=op.f("fk_trust_anchors_added_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_anchors")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_trust_anchors_fingerprint")),
    )
    op.create_table(
        "trust_list_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("list_name", sa.String(length=120), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_trust_list_changes_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_list_changes")),
    )
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(sa.Column("original_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("conversion", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("conversion_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_table("trust_list_changes")
    op.drop_table("trust_anchors")
    with op.batch_alter_table("revisions") as batch:
        batch.drop_column("conversion_note")
        batch.drop_column("conversion")
        batch.drop_column("original_sha256")
