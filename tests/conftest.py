"""Shared fixtures: a TrinhKy app on a per-test SQLite file, blob folder and PKI."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from workflow import create_app
from workflow.bootstrap import initialise
from workflow.services import EXTENSION_KEY, Services

DEMO_PASSWORD = "Mật-khẩu-thử-nghiệm-2026"
REPO = Path(__file__).resolve().parent.parent


def app_config(instance: Path, **extra: Any) -> dict[str, Any]:
    """Config of a test app living in ``instance``."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "MAX_UPLOAD_BYTES": 2 * 1024 * 1024,
        **extra,
    }


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised instance (schema, PKI, demo data), made once and copied per test."""
    instance = tmp_path_factory.mktemp("template") / "instance"
    app = create_app(app_config(instance))
    initialise(app.extensions[EXTENSION_KEY])
    app.extensions[EXTENSION_KEY].engine.dispose()
    return instance


@pytest.fixture
def instance(tmp_path: Path, template_instance: Path) -> Path:
    """A fresh copy of the initialised instance for one test."""
    target = tmp_path / "instance"
    shutil.copytree(template_instance, target)
    return target


@pytest.fixture
def app(instance: Path) -> Iterator[Flask]:
    """The application on this test's instance."""
    application = create_app(app_config(instance))
    yield application
    application.extensions[EXTENSION_KEY].engine.dispose()


@pytest.fixture
def services(app: Flask) -> Services:
    """The app's service container."""
    svc: Services = app.extensions[EXTENSION_KEY]
    return svc


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept between requests)."""
    return app.test_client()


def closed(response: Any) -> Any:
    """Buffer a test response's body and close it (file responses hold a handle)."""
    response.get_data()
    response.close()
    return response


class Api:
    """A small JSON API client over Flask's test client, one bearer token per user."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}

    def login(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        token: str = response.get_json()["token"]
        self.tokens[username] = token
        return token

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.login(user)
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **kw: Any) -> Any:
        return closed(self.client.get("/api/v1" + path, headers=self.headers(user), **kw))

    def post(self, user: str, path: str, **kw: Any) -> Any:
        return closed(self.client.post("/api/v1" + path, headers=self.headers(user), **kw))

    def upload(
        self,
        user: str,
        data: bytes,
        subject: str = "Về việc tổ chức hội nghị học tập Nghị quyết",
        doc_type: str = "CV",
        filename: str = "cong-van.pdf",
    ) -> Any:
        from io import BytesIO

        return self.post(
            user,
            "/documents",
            data={"file": (BytesIO(data), filename), "subject": subject, "doc_type": doc_type},
            content_type="multipart/form-data",
        )

    def task_for(self, user: str, document_id: int) -> dict[str, Any]:
        tasks = self.get(user, "/tasks").get_json()["tasks"]
        mine = [t for t in tasks if t["document_id"] == document_id]
        assert len(mine) == 1, tasks
        return mine[0]


@pytest.fixture
def api(app: Flask) -> Api:
    """A JSON API client."""
    return Api(app)


@pytest.fixture
def submitted_document(api: Api) -> Callable[..., int]:
    """Upload and submit a document as the drafter; returns its id."""
    from tests.pdfs import simple_pdf

    def _make(**kw: Any) -> int:
        created = api.upload("chuyenvien", simple_pdf(), **kw)
        assert created.status_code == 201, created.get_json()
        doc_id: int = created.get_json()["id"]
        submitted = api.post("chuyenvien", f"/documents/{doc_id}/submit")
        assert submitted.status_code == 200, submitted.get_json()
        return doc_id

    return _make


def blob_files(instance: Path) -> list[Path]:
    """Every file under the blob folder (published or temporary)."""
    return sorted(p for p in (instance / "blobs").rglob("*") if p.is_file())


@pytest.fixture
def count_rows(services: Services) -> Callable[[Any], int]:
    """Count the rows of a model."""
    from sqlalchemy import func, select

    def _count(model: Any) -> int:
        with services.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return _count


__all__ = ["REPO", "blob_files"]
