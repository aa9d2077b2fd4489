"""external signing sessions

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "external_signing_sessions"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("document_version", sa.Integer(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("prepared_sha256", sa.String(length=64), nullable=True),
        sa.Column("field_name", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("document_digest", sa.LargeBinary(), nullable=True),
        sa.Column("reserved_start", sa.Integer(), nullable=True),
        sa.Column("reserved_end", sa.Integer(), nullable=True),
        sa.Column("signed_attrs", sa.LargeBinary(), nullable=True),
        sa.Column("signature_mechanism", sa.String(length=32), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_external_signing_sessions_certificate_id_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_external_signing_sessions_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_external_signing_sessions_task_id_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_external_signing_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_signing_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_external_signing_sessions_token_sha256")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_external_signing_sessions_document_id"), ["document_id"])
        batch_op.create_index(batch_op.f("ix_external_signing_sessions_task_id"), ["task_id"])
        batch_op.create_index(batch_op.f("ix_external_signing_sessions_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_signing_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_external_signing_sessions_task_id"))
        batch_op.drop_index(batch_op.f("ix_external_signing_sessions_document_id"))
    op.drop_table(TABLE)
