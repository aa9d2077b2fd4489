"""The application on an S3-compatible object store: the whole journey with no blob on
the local disk, every revision an object checked against its key."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from storage.blobs import S3BlobStore
from tests.conftest import Api, app_config
from tests.servers import ObjectStore, move_blobs
from tests.test_journey_api import run_journey
from workflow.app import create_app
from workflow.services import EXTENSION_KEY, Services
from workflow.settings import DEFAULTS, Settings, SettingsError


@pytest.fixture
def s3_app(
    instance: Path, database_url: str, object_store: ObjectStore, s3_client: Any
) -> Iterator[Flask]:
    """The test instance with its blobs moved into a fresh bucket."""
    bucket = f"trinhky-app-{instance.parent.name[-20:].lower().replace('_', '-')}"
    s3_client.create_bucket(Bucket=bucket)
    application = create_app(
        app_config(instance, DATABASE_URL=database_url, **object_store.settings(bucket))
    )
    services: Services = application.extensions[EXTENSION_KEY]
    assert isinstance(services.blobs, S3BlobStore)
    move_blobs(instance, services.blobs)
    yield application
    services.engine.dispose()


def test_the_journey_runs_on_the_object_store(s3_app: Flask, s3_client: Any) -> None:
    services: Services = s3_app.extensions[EXTENSION_KEY]
    doc_id, data = run_journey(Api(s3_app))
    store = services.blobs
    assert isinstance(store, S3BlobStore)
    keys = {
        o["Key"].rsplit("/", 1)[1]
        for o in s3_client.list_objects_v2(Bucket=store.location.bucket)["Contents"]
    }
    assert store.put(io.BytesIO(data)) in keys  # the downloaded PDF is an object
    local = [
        p for p in (services.settings.blob_dir).rglob("*") if p.is_file() and p.parent.name != "tmp"
    ]
    assert local == []  # nothing on the local disk but staging
    assert list((services.settings.blob_dir / "tmp").iterdir()) == []
    assert doc_id > 0


def test_blob_settings_are_checked(tmp_path: Path) -> None:
    base = {**app_config(tmp_path)}
    for url in ("s3://", "ftp://host/x", "s3://bucket?x=1", "file://host/x"):
        with pytest.raises(SettingsError, match="BLOB_URL"):
            Settings.from_mapping({**_defaults(), **base, "BLOB_URL": url}, tmp_path)
    settings = Settings.from_mapping(
        {
            **_defaults(),
            **base,
            "BLOB_URL": "s3://archive/tinh-uy",
            "S3_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-secret",
        },
        tmp_path,
    )
    assert settings.blob_url == "s3://archive/tinh-uy" and "wJalrXUtnFEMI" not in repr(settings)
    plain = Settings.from_mapping({**_defaults(), **base}, tmp_path)
    assert plain.blob_url == (tmp_path / "blobs").resolve().as_uri()


def _defaults() -> dict[str, Any]:
    return dict(DEFAULTS)
