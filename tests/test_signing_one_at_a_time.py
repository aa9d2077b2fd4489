"""flow.run signs one document at a time per process: a gthread worker's threads signing
side by side only slowed each other (the CPU work runs under the GIL anyway)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from storage.models import Task
from tests import factories
from workflow.services import Services
from workflow.signatures import flow


def test_two_threads_sign_one_after_the_other(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = factories.awaiting_signature(services, 2)
    produce = flow.produce
    inside = [0]
    most = [0]
    lock = threading.Lock()

    def watched(*args: Any, **kwargs: Any) -> Any:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.2)  # long enough for the other thread to arrive
            return produce(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(flow, "produce", watched)
    errors: list[BaseException] = []

    def sign(task_id: int) -> None:
        try:
            factories.run_signing(services, task_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign, args=(t,)) for t in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert most[0] == 1
    with services.session_factory() as session:
        for task_id in tasks:
            task = session.get(Task, task_id)
            assert task is not None and task.state != "open"
