"""transparency log: Merkle leaves of the audit log and the ledger, perfect subtrees,
signed tree heads, witnesses; the existing entries appended in order

Revision ID: 0026
Revises: 0028
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types
from storage import tlog
from storage.ledger import LEDGER_FIELDS, LedgerEntry, ledger_line

revision: str = "0026"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARDED = ("log_leaves", "log_nodes", "log_tree_heads")
MESSAGE = "transparency log is append-only"
BATCH = 5000


def _create_tables() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_log_leaves")),
    )
    op.create_index(op.f("ix_log_leaves_ref"), "log_leaves", ["ref"], unique=False)
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_state")),
    )
    op.create_table(
        "log_tree_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("signer_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("timestamp_token", sa.LargeBinary(), nullable=True),
        sa.Column("tsa_name", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_tree_heads")),
    )
    op.create_index(op.f("ix_log_tree_heads_size"), "log_tree_heads", ["size"], unique=False)
    op.create_table(
        "log_witnesses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_witnesses")),
    )
    op.create_table(
        "log_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("witness_id", sa.Integer(), nullable=False),
        sa.Column("tree_head_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tree_head_id"],
            ["log_tree_heads.id"],
            name=op.f("fk_log_deliveries_tree_head_id_log_tree_heads"),
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"],
            ["log_witnesses.id"],
            name=op.f("fk_log_deliveries_witness_id_log_witnesses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_deliveries")),
        sa.UniqueConstraint("witness_id", "tree_head_id", name="uq_log_delivery"),
    )
    op.create_index(op.f("ix_log_deliveries_state"), "log_deliveries", ["state"], unique=False)
    op.create_index(
        op.f("ix_log_deliveries_witness_id"), "log_deliveries", ["witness_id"], unique=False
    )


def _backfill() -> None:
    """Append the audit entries (in seq order), then the ledger entries (id order)."""
    bind = op.get_bind()
    tlog.append_rows(bind, [])  # the state row
    last = 0
    while True:
        rows = bind.execute(
            sa.text("SELECT seq, hash FROM audit_events WHERE seq > :last ORDER BY seq LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        tlog.append_rows(bind, [tlog.audit_leaf(int(s), h) for s, h in rows])
        last = int(rows[-1][0])
    columns = [getattr(LedgerEntry, name) for name in LEDGER_FIELDS]  # typed: JSON, dates
    last = 0
    while True:
        chunk = bind.execute(
            sa.select(*columns).where(LedgerEntry.id > last).order_by(LedgerEntry.id).limit(BATCH)
        ).all()
        if not chunk:
            break
        tlog.append_rows(
            bind,
            [
                tlog.ledger_leaf(row[0], ledger_line(dict(zip(LEDGER_FIELDS, row, strict=True))))
                for row in chunk
            ],
        )
        last = int(chunk[-1][0])


def upgrade() -> None:
    _create_tables()
    _backfill()
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in GUARDED:  # the function of migration 0002
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION trinhky_audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION trinhky_audit_append_only()"
            )
    elif dialect == "sqlite":
        for table in GUARDED:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in GUARDED:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif dialect == "sqlite":
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
    for table in (
        "log_deliveries",
        "log_witnesses",
        "log_tree_heads",
        "log_state",
        "log_nodes",
        "log_leaves",
    ):
        op.drop_table(table)
