"""Two app hosts, one PostgreSQL, one object store: a journey that hops between hosts,
fifty concurrent issuances spread over both, and a host killed (``kill -9``) under load
losing nothing it acknowledged.

Each host is its own gunicorn on its own instance folder (a copy of the configuration:
PKI, secrets, ``config.py`` naming the shared database); no blob, session or lock lives
on a host's disk or in its memory only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests import servers
from tests.conftest import DEMO_PASSWORD, PgCluster, app_config
from tests.factories import awaiting_issue
from tests.pdfs import simple_pdf
from tests.servers import ObjectStore, move_blobs
from workflow.app import create_app
from workflow.services import EXTENSION_KEY, Services


@pytest.fixture
def db_backend(pg_cluster: PgCluster) -> str:
    """Two hosts share PostgreSQL (skipped without it)."""
    return "pg"


@pytest.fixture
def shared(
    instance: Path, database_url: str, object_store: ObjectStore, s3_client: Any
) -> Iterator[tuple[Flask, dict[str, Any]]]:
    """The shared state: the test database and a fresh bucket holding the instance's
    blobs; :returns: an app on them (for set-up and checks) and the hosts' settings."""
    bucket = f"two-hosts-{hashlib.sha256(str(instance).encode()).hexdigest()[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    settings = object_store.settings(bucket)
    app = create_app(app_config(instance, DATABASE_URL=database_url, **settings))
    services: Services = app.extensions[EXTENSION_KEY]
    move_blobs(instance, services.blobs)
    yield app, settings
    services.engine.dispose()


@pytest.fixture
def hosts(
    instance: Path, tmp_path: Path, shared: tuple[Flask, dict[str, Any]]
) -> Iterator[tuple[str, str]]:
    """Host A on the test's instance folder, host B on a copy of its configuration."""
    _app, settings = shared
    other = tmp_path / "host-b" / "instance"
    shutil.copytree(instance, other)
    with (
        servers.gunicorn(instance, workers=2, **settings) as a,
        servers.gunicorn(other, workers=2, **settings) as b,
    ):
        yield a, b


def token(base: str, user: str) -> dict[str, str]:
    r = requests.post(
        base + "/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD}, timeout=60
    )
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}


def tasks_of(base: str, headers: dict[str, str], doc_id: int) -> dict[str, Any]:
    tasks = requests.get(base + "/api/v1/tasks", headers=headers, timeout=60).json()["tasks"]
    (task,) = [t for t in tasks if t["document_id"] == doc_id]
    return task


def test_a_journey_hopping_between_two_hosts(hosts: tuple[str, str]) -> None:
    a, b = hosts
    drafter, head, signer = token(a, "chuyenvien"), token(b, "truongban"), token(a, "bithu")
    pdf = simple_pdf()
    created = requests.post(
        a + "/api/v1/documents",
        headers=drafter,
        files={"file": ("cong-van.pdf", pdf, "application/pdf")},
        data={"subject": "Về việc vận hành hai máy chủ", "doc_type": "CV"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    doc_id = created.json()["id"]
    # A token issued by A works on B: tokens are rows, not memory.
    assert requests.post(f"{b}/api/v1/documents/{doc_id}/submit", headers=drafter, timeout=60).ok
    task = tasks_of(b, head, doc_id)
    approved = requests.post(
        f"{b}/api/v1/tasks/{task['id']}/approve", headers=head, json={}, timeout=60
    )
    assert approved.status_code == 200, approved.text
    task = tasks_of(a, signer, doc_id)
    signed = requests.post(
        f"{a}/api/v1/tasks/{task['id']}/sign",
        headers=signer,
        json={"passphrase": DEMO_PASSWORD},
        timeout=120,
    )
    assert signed.status_code == 200, signed.text
    auditor = token(b, "kiemtra")
    validation = requests.get(
        f"{b}/api/v1/documents/{doc_id}/validation", headers=auditor, timeout=120
    ).json()
    assert validation["verdict"] == "valid", validation
    from_a = requests.get(f"{a}/api/v1/documents/{doc_id}/file", headers=drafter, timeout=60)
    from_b = requests.get(f"{b}/api/v1/documents/{doc_id}/file", headers=drafter, timeout=60)
    assert from_a.status_code == from_b.status_code == 200
    assert from_a.content == from_b.content and from_a.content.startswith(b"%PDF")
    assert len(from_a.content) > len(pdf)  # the signed revision, not the upload


@pytest.mark.slow
def test_fifty_concurrent_issuances_over_two_hosts_are_gap_free(
    hosts: tuple[str, str], shared: tuple[Flask, dict[str, Any]]
) -> None:
    app, _settings = shared
    services: Services = app.extensions[EXTENSION_KEY]
    tasks = awaiting_issue(services, 50)
    a, b = hosts
    headers = token(a, "vanthu")

    def issue(item: tuple[int, int]) -> requests.Response:
        base = (a, b)[item[0] % 2]
        return requests.post(
            f"{base}/api/v1/tasks/{item[1]}/issue", headers=headers, json={}, timeout=300
        )

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(issue, enumerate(tasks)))
    assert [r.status_code for r in responses] == [200] * 50, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    assert sorted(r.json()["number"] for r in responses) == list(range(1, 51))
    assert max(Counter(r.json()["symbol"] for r in responses).values()) == 1


def test_a_host_killed_under_load_loses_nothing_it_acknowledged(
    hosts: tuple[str, str], shared: tuple[Flask, dict[str, Any]]
) -> None:
    a, b = hosts
    headers = token(a, "chuyenvien")
    acknowledged: list[tuple[int, str]] = []  # (document id, SHA-256 of what was sent)
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            base = (a, b)[(n + i) % 2]
            pdf = simple_pdf(f"Van ban {n}-{i}")
            i += 1
            try:
                r = requests.post(
                    base + "/api/v1/documents",
                    headers=headers,
                    files={"file": ("vb.pdf", pdf, "application/pdf")},
                    data={"subject": f"Văn bản thử tải {n}-{i}", "doc_type": "CV"},
                    timeout=30,
                )
            except requests.RequestException:
                continue  # host A went away mid-request: not acknowledged
            if r.status_code == 201:
                with lock:
                    acknowledged.append((r.json()["id"], hashlib.sha256(pdf).hexdigest()))

    workers = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for w in workers:
        w.start()
    time.sleep(3)
    port = a.rsplit(":", 1)[1]
    subprocess.run(["pkill", "-9", "-f", f"127.0.0.1:{port}"], check=True)  # A: kill -9
    killed_at = len(acknowledged)
    time.sleep(2)
    stop.set()
    for w in workers:
        w.join()
    assert killed_at > 0 and len(acknowledged) > killed_at  # load before and after the kill
    with pytest.raises(requests.ConnectionError):
        requests.get(a + "/healthz", timeout=5)
    assert requests.get(b + "/healthz", timeout=5).ok
    for doc_id, digest in acknowledged:
        r = requests.get(f"{b}/api/v1/documents/{doc_id}/file", headers=headers, timeout=60)
        assert r.status_code == 200, (doc_id, r.text)
        assert hashlib.sha256(r.content).hexdigest() == digest
    app, _settings = shared
    services: Services = app.extensions[EXTENSION_KEY]
    assert all(services.blobs.exists(digest) for _id, digest in acknowledged)
