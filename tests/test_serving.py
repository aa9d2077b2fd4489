"""Real HTTP: `make run` (init + gunicorn on loopback) and the journey over the network."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import DEMO_PASSWORD, REPO, server_environment
from tests.pdfs import simple_pdf
from tests.servers import free_port


class Server:
    """A `make run` process serving on a free loopback port."""

    def __init__(self, instance: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.instance = instance
        self.log = instance.parent / f"server-{port}.log"
        env = server_environment(
            instance, DEMO_PASSWORD=DEMO_PASSWORD, MAX_UPLOAD_BYTES=1024 * 1024
        )
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["make", "--no-print-directory", "run", f"PORT={port}", "WORKERS=2"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + self.log.read_text())
            try:
                if requests.get(self.base + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make run` on an empty folder (it creates everything), shared by this module."""
    srv = Server(tmp_path_factory.mktemp("make-run") / "instance", free_port())
    try:
        srv.wait()
        yield srv
    finally:
        srv.stop()


def token(base: str, username: str) -> dict[str, str]:
    r = requests.post(
        base + "/api/v1/auth/token",
        json={"username": username, "password": DEMO_PASSWORD},
        timeout=30,
    )
    r.raise_for_status()
    return {"Authorization": "Bearer " + r.json()["token"]}


def test_make_run_serves_and_the_journey_works_over_http(server: Server, tmp_path: Path) -> None:
    base = server.base
    login_page = requests.get(base + "/login", timeout=10)
    assert login_page.status_code == 200 and "Đăng nhập" in login_page.text
    log = server.log.read_text()
    assert "chuyenvien" in log and DEMO_PASSWORD in log and f"{base.split('//')[1]}" in log

    drafter, head, signer = (
        token(base, "chuyenvien"),
        token(base, "truongban"),
        token(base, "bithu"),
    )
    created = requests.post(
        base + "/api/v1/documents",
        headers=drafter,
        files={"file": ("bao-cao.pdf", simple_pdf(), "application/pdf")},
        data={"subject": "Báo cáo kết quả công tác quý IV", "doc_type": "BC"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    assert requests.post(f"{base}/api/v1/documents/{doc_id}/submit", headers=drafter, timeout=30).ok
    (task,) = [
        t
        for t in requests.get(base + "/api/v1/tasks", headers=head, timeout=30).json()["tasks"]
        if t["document_id"] == doc_id
    ]
    assert requests.post(
        f"{base}/api/v1/tasks/{task['id']}/approve", headers=head, json={}, timeout=30
    ).ok
    (task,) = [
        t
        for t in requests.get(base + "/api/v1/tasks", headers=signer, timeout=30).json()["tasks"]
        if t["document_id"] == doc_id
    ]
    signed = requests.post(
        f"{base}/api/v1/tasks/{task['id']}/sign",
        headers=signer,
        json={"passphrase": DEMO_PASSWORD},
        timeout=60,
    )
    assert signed.status_code == 200, signed.text
    validation = requests.get(
        f"{base}/api/v1/documents/{doc_id}/validation", headers=drafter, timeout=30
    ).json()
    assert validation["verdict"] == "valid"
    pdf = requests.get(f"{base}/api/v1/documents/{doc_id}/file", headers=drafter, timeout=30)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert requests.get(base + "/pki/root.pem", timeout=10).text.startswith(
        "-----BEGIN CERTIFICATE-----"
    )
    spec = requests.get(base + "/api/v1/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.") and "/tasks/{task_id}/sign" in spec["paths"]


def test_oversized_upload_over_http_is_413_and_leaves_nothing(server: Server) -> None:
    blobs = server.instance / "blobs"
    before = sorted(p for p in blobs.rglob("*") if p.is_file())
    drafter = token(server.base, "chuyenvien")
    big = simple_pdf() + b"%" + b"x" * (2 * 1024 * 1024)
    response = requests.post(
        server.base + "/api/v1/documents",
        headers=drafter,
        files={"file": ("big.pdf", big, "application/pdf")},
        data={"subject": "Tệp lớn", "doc_type": "CV"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "MB" in response.json()["detail"]
    assert sorted(p for p in blobs.rglob("*") if p.is_file()) == before


def test_second_make_run_reuses_everything(template_instance: Path, tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    shutil.copytree(template_instance, instance)  # what a first `make run` left behind
    root = (instance / "pki" / "root.pem").read_bytes()
    second = Server(instance, free_port())
    try:
        second.wait()
        assert "already present (reused)" in second.log.read_text()
        assert (instance / "pki" / "root.pem").read_bytes() == root
        assert requests.post(
            second.base + "/api/v1/auth/token",
            json={"username": "bithu", "password": DEMO_PASSWORD},
            timeout=30,
        ).ok
    finally:
        second.stop()


def test_demo_refused_on_a_public_address(tmp_path: Path) -> None:
    env = server_environment(tmp_path / "instance")
    result = subprocess.run(
        [str(REPO / ".venv/bin/flask"), "--app", "wsgi", "init", "--host", "0.0.0.0"],  # noqa: S104
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "demo accounts are for loopback only" in result.stderr
