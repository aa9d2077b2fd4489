"""bulk signing jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 22:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_bulk_jobs_certificate_id_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_bulk_jobs_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
    )
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_jobs_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "bulk_job_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("revision_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_bulk_job_items_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["bulk_jobs.id"], name=op.f("fk_bulk_job_items_job_id_bulk_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["revisions.id"],
            name=op.f("fk_bulk_job_items_revision_id_revisions"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_bulk_job_items_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job_items")),
        sa.UniqueConstraint("job_id", "task_id", name=op.f("uq_bulk_job_items_job_id")),
    )
    with op.batch_alter_table("bulk_job_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_job_items_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bulk_job_items_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bulk_job_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_job_items_task_id"))
        batch_op.drop_index(batch_op.f("ix_bulk_job_items_job_id"))
    op.drop_table("bulk_job_items")
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_jobs_owner_id"))
    op.drop_table("bulk_jobs")
