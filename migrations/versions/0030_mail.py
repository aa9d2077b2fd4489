"""mail: e-mails read from the office mailboxes (intake), notice preferences per user

Revision ID: 0030
Revises: 0021
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0030"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("reply_to", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("sent_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("fetched_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("handled_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["handled_by_id"], ["users.id"], name=op.f("fk_mail_messages_handled_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_mail_messages_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_messages")),
        sa.UniqueConstraint("message_id", "sha256", name=op.f("uq_mail_messages_message_id")),
    )
    op.create_index("ix_mail_messages_unit_state", "mail_messages", ["unit_id", "state"])
    with op.batch_alter_table("incoming_entries") as batch:
        batch.add_column(sa.Column("mail_message_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_incoming_entries_mail_message_id"), ["mail_message_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_incoming_entries_mail_message_id_mail_messages"),
            "mail_messages",
            ["mail_message_id"],
            ["id"],
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("notify_mode", sa.String(length=8), server_default="each", nullable=False)
        )
        batch.add_column(
            sa.Column("language", sa.String(length=8), server_default="vi", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
        batch.drop_column("notify_mode")
    with op.batch_alter_table("incoming_entries") as batch:
        batch.drop_constraint(
            batch.f("fk_incoming_entries_mail_message_id_mail_messages"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_incoming_entries_mail_message_id"))
        batch.drop_column("mail_message_id")
    op.drop_index("ix_mail_messages_unit_state", table_name="mail_messages")
    op.drop_table("mail_messages")
