"""A large property-based fuzzing campaign over the OpenAPI document (the same harness as
``tests/test_api_fuzz.py``, :mod:`tests.fuzzing`, with a bigger budget): every operation,
valid and invalid inputs, as a real user (bearer token), on a fresh initialised instance.
Prints the number of requests, the answers by status, the 5xx count and each finding
(a 5xx, or an error that is not problem+json); exits 1 if there is any.

    TRINHKY_FUZZ_EXAMPLES=100 .venv/bin/python -m bench.api_fuzz
    TRINHKY_FUZZ_EXAMPLES=100 TRINHKY_TEST_POSTGRES_URL=postgresql://... \\
        .venv/bin/python -m bench.api_fuzz       # also on PostgreSQL

``TRINHKY_FUZZ_EXAMPLES``: cases per operation and mode (default 50);
``TRINHKY_FUZZ_USERS``: comma-separated demo users to fuzz as (default ``vanthu,admin``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.conftest import (
    DEMO_PASSWORD,
    POSTGRES_URL,
    PgCluster,
    app_config,
    make_template,
    write_database_config,
)
from tests.fuzzing import FuzzResult, fuzz_api
from workflow import create_app
from workflow.services import EXTENSION_KEY


def campaign(instance: Path, database_url: str | None, users: list[str], examples: int) -> int:
    """Fuzz as each user on a copy of ``instance``; :returns: findings."""
    app = create_app(
        app_config(instance, **({"DATABASE_URL": database_url} if database_url else {}))
    )
    total = FuzzResult()
    started = time.monotonic()
    for user in users:
        result = fuzz_api(app, user, DEMO_PASSWORD, examples=examples)
        total.requests += result.requests
        total.statuses.update(result.statuses)
        total.findings += result.findings
    app.extensions[EXTENSION_KEY].engine.dispose()
    seconds = time.monotonic() - started
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"{where}: {total.requests} requests in {seconds:.0f} s as {', '.join(users)}")
    print(f"  answers by status: {dict(sorted(total.statuses.items()))}")
    print(
        f"  5xx: {total.server_errors}; findings (5xx or not problem+json): {len(total.findings)}"
    )
    for finding in total.findings[:50]:
        print("  -", finding[:300])
    return len(total.findings)


def main() -> None:
    logging.disable(logging.CRITICAL)  # the app logs each refused request
    examples = int(os.environ.get("TRINHKY_FUZZ_EXAMPLES", "50"))
    users = os.environ.get("TRINHKY_FUZZ_USERS", "vanthu,admin").split(",")
    print(f"load average at start: {os.getloadavg()}; {examples} examples per operation/mode")
    findings = 0
    with tempfile.TemporaryDirectory() as folder:
        template = make_template(Path(folder) / "template" / "instance")
        copy = Path(folder) / "sqlite" / "instance"
        shutil.copytree(template, copy)
        findings += campaign(copy, None, users, examples)
        if POSTGRES_URL:
            cluster = PgCluster(POSTGRES_URL)
            name = f"trinhky_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            try:
                url = cluster.create(name)
                pg_instance = Path(folder) / "pg" / "instance"
                write_database_config(pg_instance, url)
                make_template(pg_instance, url)
                findings += campaign(pg_instance, url, users, examples)
            finally:
                cluster.drop(name)
                cluster.close()
    print(f"load average at end: {os.getloadavg()}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
