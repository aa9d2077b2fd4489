"""Fixtures of the storage tests: the S3-protocol server, started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servers import ObjectStore, s3_server


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """moto's standalone S3 server on a loopback port (real HTTP, its own process)."""
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_client(object_store: ObjectStore) -> Any:
    """One boto3 client of that server for the session (a client costs a second to make)."""
    return object_store.client()
