"""Profile the signing request end to end: ``python -m bench.profile_sign [N] [--sort cumulative]``
or ``python -m bench.profile_sign [N] --phases`` (CPU and wall time per part, no cProfile).

Builds a throwaway instance (the embedded default at its production level, B-LT),
prepares ``N`` documents awaiting the signer, then signs them through the Flask test
client (``POST /api/v1/tasks/<id>/sign``: token check, key unlock, signature, timestamp
and revocation data, validation before store, blob write, ledger and audit rows, commit)
under cProfile, and prints the functions that cost most. Issue #15 asks for this.
"""

from __future__ import annotations

import cProfile
import functools
import importlib
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import make_pdf_bytes

DEMO_PASSWORD = "Bench-TrinhKy-2026"  # noqa: S105 - throwaway demo instance


def build(instance: Path, count: int, level: str = "B-LT") -> tuple[Any, list[int]]:
    """An initialised app on ``instance`` and ``count`` sign task ids of ``bithu``."""
    from sqlalchemy import select

    from storage.models import Task, User
    from workflow import create_app
    from workflow.documents import usecases
    from workflow.services import EXTENSION_KEY, Services
    from workflow.setup.bootstrap import initialise

    app = create_app(
        {"INSTANCE_PATH": str(instance), "DEMO_PASSWORD": DEMO_PASSWORD, "SIGNATURE_LEVEL": level}
    )
    services: Services = app.extensions[EXTENSION_KEY]
    initialise(services)
    with services.session_factory() as session:
        by_name = {u.username: u for u in session.scalars(select(User))}
        for i in range(count):
            doc = usecases.create_document(
                session,
                services.blobs,
                by_name["chuyenvien"],
                staged=services.blobs.stage(io.BytesIO(make_pdf_bytes(f"Van ban so {i}"))),
                filename="van-ban.pdf",
                subject=f"Văn bản đo hiệu năng số {i}",
                doc_type="CV",
            )
            usecases.submit(session, by_name["chuyenvien"], doc.id)
            session.flush()
            task = session.scalars(
                select(Task).where(Task.document_id == doc.id, Task.state == "open")
            ).one()
            usecases.approve(session, by_name["truongban"], task.id)
        session.commit()
        tasks = session.scalars(
            select(Task.id).where(
                Task.assignee_id == by_name["bithu"].id,
                Task.state == "open",
                Task.action == "sign",
            )
        ).all()
    return app, list(tasks)


PHASES: tuple[tuple[str, str, str], ...] = (
    # (module, attribute "Class.method" or "function", label); nested parts are included
    # in their parents' figures.
    ("workflow.signatures.flow", "prepare", "phase 1: prepare (task, certificate, stamp)"),
    ("workflow.documents.routing", "claim", "  claim + lock_document (phases 1 and 3)"),
    ("workflow.signatures.flow", "personal_placement", "  stamp placement (anchors, free space)"),
    ("workflow.signatures.flow", "unlock_key", "phase 2: key unlock (KDF + key checks)"),
    ("workflow.signatures.flow", "sign_pdf_file", "phase 2: sign_pdf_file (B-LT)"),
    ("signing.pades", "_validation_context", "  revocation data + validation context"),
    ("signing.trust", "build_crl", "    CRL signed"),
    ("signing.revocation", "OcspResponder.response_for", "    OCSP responses"),
    ("pyhanko.sign.signers", "PdfSigner.sign_pdf", "  pyHanko sign_pdf (stamp, CMS, DSS)"),
    ("signing.tsa", "EmbeddedTimeStamper.answer", "    timestamp token"),
    ("workflow.signatures.flow", "_check_signed", "phase 2: validation before store"),
    ("workflow.signatures.flow", "validate_pdf", "  full validation (pyHanko)"),
    ("workflow.signatures.flow", "check_fresh_signature", "  direct check of the fresh signature"),
    ("storage.blobs.filesystem", "FilesystemBlobStore.stage_file", "phase 2: blob staged (hash)"),
    ("workflow.signatures.flow", "record", "phase 3: record (rows, route, audit)"),
    # In its own thread beside phase 3 (flow.run): its wall time overlaps the lines around
    # it, and its CPU column is the whole process's meanwhile.
    ("storage.blobs.filesystem", "FilesystemBlobStore.publish", "blob published (own thread)"),
    ("storage.audit", "append", "  audit row + transparency log"),
    ("workflow.coverage.ledger", "record_signature", "phase 3: coverage ledger"),
    ("sqlalchemy.orm", "Session.commit", "commits (both, with flush hooks)"),
)


def phases(count: int) -> None:
    """Time the parts of ``count`` signing requests (CPU and wall, per request)."""
    totals: dict[str, list[float]] = {label: [0.0, 0.0, 0] for _m, _a, label in PHASES}
    active = [False]

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not active[0]:
                return original(*args, **kwargs)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                entry = totals[label]
                entry[0] += time.process_time() - cpu0
                entry[1] += time.perf_counter() - wall0
                entry[2] += 1

        setattr(owner, name, timed)

    for module_name, attribute, label in PHASES:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        if hasattr(owner, name):
            wrap(owner, name, label)
    with tempfile.TemporaryDirectory(prefix="trinhky-profile-") as tmp:
        app, tasks = build(Path(tmp) / "instance", count + 2)
        sign = _signer(app)
        for task_id in tasks[:2]:
            sign(task_id)
        active[0] = True
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for task_id in tasks[2:]:
            sign(task_id)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        active[0] = False
    print(
        f"{count} signing requests (B-LT) through the test client: "
        f"{1000 * cpu / count:.1f} ms CPU and {1000 * wall / count:.1f} ms wall each"
    )
    for label, (cpu_s, wall_s, calls) in totals.items():
        if calls:
            print(
                f"  {label:<48} {1000 * cpu_s / count:6.2f} ms CPU {1000 * wall_s / count:7.2f}"
                f" ms wall  ({calls / count:.1f} calls)"
            )


def _signer(app: Any) -> Any:
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "bithu", "password": DEMO_PASSWORD}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    def sign(task_id: int) -> None:
        r = client.post(
            f"/api/v1/tasks/{task_id}/sign", json={"passphrase": DEMO_PASSWORD}, headers=headers
        )
        assert r.status_code == 200, r.get_data(as_text=True)  # noqa: S101

    return sign


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv and argv[0].isdigit() else 20
    if "--phases" in argv:
        phases(count)
        return 0
    sort = argv[argv.index("--sort") + 1] if "--sort" in argv else "cumulative"
    with tempfile.TemporaryDirectory(prefix="trinhky-profile-") as tmp:
        app, tasks = build(Path(tmp) / "instance", count + 2)
        sign = _signer(app)
        for task_id in tasks[:2]:  # warm: keys, PKI, fonts
            sign(task_id)
        profiler = cProfile.Profile()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        profiler.enable()
        for task_id in tasks[2:]:
            sign(task_id)
        profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(
        f"{count} signing requests (B-LT) through the test client: "
        f"{1000 * cpu / count:.1f} ms CPU and {1000 * wall / count:.1f} ms wall each"
    )
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
    stats.print_stats(40)
    print("TrinhKy's own functions (workflow/, storage/, signing/):", file=out)
    stats.print_stats(
        r"/wt-[^/]*/(workflow|storage|signing)/|/(workflow|storage|signing)/[a-z_]+\.py", 30
    )
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
