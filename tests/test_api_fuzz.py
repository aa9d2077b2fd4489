"""Property-based fuzzing of the whole JSON API (see :mod:`tests.fuzzing`): on SQLite and
PostgreSQL, no generated request (valid or not) gets a 5xx, and every error is
``application/problem+json``. A small, deterministic budget; ``bench/api_fuzz.py`` runs
the large campaign."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import DEMO_PASSWORD
from tests.fuzzing import fuzz_api


@pytest.mark.both_databases
def test_fuzzing_the_openapi_document_finds_no_5xx(app: Flask) -> None:
    result = fuzz_api(app, "vanthu", DEMO_PASSWORD, examples=2)
    assert result.requests > 100
    assert result.server_errors == 0 and result.findings == [], "\n".join(result.findings)
