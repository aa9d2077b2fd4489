"""Child process of the HTTP benchmark's baseline: loop over ``workflow.documents.usecases.sign``.

``python -m bench._signloop USERNAME`` reads one JSON line on stdin
(``{"warmup": [ids], "tasks": [ids], "passphrase": "..."}``), builds the app with
``workflow.create_app()`` (configured by the same ``TRINHKY_*`` environment as the
server), signs the warm-up tasks, prints ``ready``, waits for ``go`` on stdin, signs
its tasks one by one (fresh session each, committed each) and prints a JSON result.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> int:
    username = sys.argv[1]
    job = json.loads(sys.stdin.readline())
    from sqlalchemy import select

    from storage.models import User
    from workflow import create_app
    from workflow.services import EXTENSION_KEY, Services
    from workflow.signatures import flow as signing_flow

    app = create_app()
    services: Services = app.extensions[EXTENSION_KEY]
    settings = services.settings

    def sign_one(task_id: int) -> None:
        session = services.session_factory()
        try:
            actor = session.scalars(select(User).where(User.username == username)).one()
            signing_flow.sign(
                session,
                services.blobs,
                services.trust,
                actor,
                task_id,
                job["passphrase"],
                key_max_failures=settings.key_max_failures,
                key_lock_seconds=settings.key_lock_seconds,
                level=settings.level_for,
                services=services.trust_services,
            )
            session.commit()
        finally:
            session.close()

    with app.app_context():
        for task_id in job["warmup"]:
            sign_one(task_id)
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        latencies: list[float] = []
        errors: list[str] = []
        t_start = time.time()
        for task_id in job["tasks"]:
            t0 = time.perf_counter()
            try:
                sign_one(task_id)
                latencies.append(time.perf_counter() - t0)
            except Exception as exc:  # count and go on: the result says how many failed
                errors.append(f"{task_id}: {type(exc).__name__}: {exc}")
        t_end = time.time()
    result: dict[str, Any] = {
        "t_start": t_start,
        "t_end": t_end,
        "latencies": latencies,
        "errors": errors,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
