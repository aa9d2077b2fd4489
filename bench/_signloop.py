"""Child process of the HTTP benchmark's in-process baselines.

``python -m bench._signloop MODE USERNAME`` reads one JSON line on stdin
(``{"warmup": [ids], "tasks": [ids], "passphrase": "..."}``), builds the app with
``workflow.create_app()`` (configured by the same ``TRINHKY_*`` environment as the
server), runs the warm-up, prints ``ready``, waits for ``go`` on stdin, runs its tasks
one by one and prints a JSON result (wall and CPU time of each).

MODE ``service``: ``workflow.signatures.flow.run`` per task, the unit of work of the
``POST /api/v1/tasks/<id>/sign`` view with everything it does (phase 1 read and commit,
key unlock, signature with timestamp and revocation data, validation before store, blob
write, rows, ledger, audit, commit), in a session like a request's.

MODE ``function``: the signing function alone: ``signing.pades.sign_pdf_file`` of the
task's current file, with the profile (stamp, level) the flow would use, the key
decrypted once, and the embedded timestamp and revocation services, file to file. The
tasks are only read (nothing is stored).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> int:
    mode, username = sys.argv[1], sys.argv[2]
    job = json.loads(sys.stdin.readline())
    from sqlalchemy import select

    from signing.pades import sign_pdf_file
    from storage.models import User
    from workflow import create_app
    from workflow.services import EXTENSION_KEY, Services
    from workflow.signatures import flow as signing_flow

    app = create_app()
    services: Services = app.extensions[EXTENSION_KEY]
    settings = services.settings
    factory = getattr(services, "request_session_factory", None) or services.session_factory
    signers: dict[int, Any] = {}

    def service_one(task_id: int) -> None:
        with factory() as session:
            actor = session.scalars(select(User).where(User.username == username)).one()
            signing_flow.run(
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

    plans: dict[int, Any] = {}

    def plan_of(task_id: int) -> Any:
        if task_id not in plans:
            with factory() as session:
                actor = session.scalars(select(User).where(User.username == username)).one()
                plans[task_id] = signing_flow.prepare(
                    session, actor, task_id, settings.level_for, services.blobs
                )
        return plans[task_id]

    def function_one(task_id: int) -> None:
        plan = plan_of(task_id)
        if plan.certificate_id not in signers:
            signers[plan.certificate_id] = signing_flow.unlock_key(
                plan, job["passphrase"], services.trust
            )
        trust = services.trust_services
        out = services.blobs.new_temp_path(".pdf")
        try:
            with services.blobs.local_copy(plan.source_sha256) as source:
                sign_pdf_file(
                    source,
                    out,
                    signers[plan.certificate_id],
                    plan.profile,
                    timestamper=trust.timestamper,
                    revocation=trust.revocation_source(),
                    allow_empty_password=True,
                )
        finally:
            out.unlink(missing_ok=True)

    one = service_one if mode == "service" else function_one
    with app.app_context():
        for task_id in job["warmup"]:
            one(task_id)
        if mode == "function":
            for task_id in job["tasks"]:
                plan_of(task_id)  # read before timing: only the signature is measured
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        latencies: list[float] = []
        cpu: list[float] = []
        errors: list[str] = []
        t_start = time.time()
        for task_id in job["tasks"]:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                one(task_id)
                latencies.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            except Exception as exc:  # count and go on: the result says how many failed
                errors.append(f"{task_id}: {type(exc).__name__}: {exc}")
        t_end = time.time()
    result: dict[str, Any] = {
        "t_start": t_start,
        "t_end": t_end,
        "latencies": latencies,
        "cpu": cpu,
        "errors": errors,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
