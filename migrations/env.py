"""Alembic environment: TrinhKy's models on SQLite or PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import storage.archival_models  # noqa: F401 - registers archival_stamps
import storage.audit_models  # noqa: F401 - registers audit_checkpoints
import storage.external_models  # noqa: F401 - registers external_signing_sessions
import storage.intake_models  # noqa: F401 - registers mail_messages
import storage.job_models  # noqa: F401 - registers bulk_jobs, bulk_job_items
import storage.ledger  # noqa: F401 - registers ledger_entries, ledger_exemptions
import storage.registry_models  # noqa: F401 - registers the workflow tables
import storage.scheduler_models  # noqa: F401 - registers job_runs
import storage.search_models  # noqa: F401 - registers search_entries, text_extracts, document_files
import storage.trust_models  # noqa: F401 - registers trust_anchors, trust_list_changes
import storage.validation_cache  # noqa: F401 - registers trust_state, validation_results
import storage.verification_models  # noqa: F401 - registers verification_codes
import storage.webhook_models  # noqa: F401 - registers webhook_endpoints, webhook_deliveries
from storage import models  # noqa: F401 - registers the tables
from storage.db import Base, normalise_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=...")
    return normalise_url(url)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
