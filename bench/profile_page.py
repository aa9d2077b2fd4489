"""Profile the document page end to end: ``python -m bench.profile_page [N] [--sort tottime]
[--postgres ADMIN_URL] [--dump FILE]``.

Builds a throwaway instance (the embedded default at its production level, B-LT; with
``--postgres URL`` on a fresh PostgreSQL database of that server), a document with three
valid signatures (two made beforehand by a certificate of the instance's CA, the third
by ``bithu`` through the API), logs ``chuyenvien`` in through the login form, then fetches
``GET /documents/<id>`` ``N`` times through the Flask test client under cProfile. Prints
the CPU per page, the SQL statements per page (each one listed once), and the functions
that cost most. Issue #15 asks for this (gunicorn itself is not in it: compare with
``python -m bench --only page``, whose CPU per page includes it).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

DEMO_PASSWORD = "Bench-TrinhKy-2026"  # noqa: S105 - throwaway demo instance


def build(instance: Path, database_url: str | None) -> tuple[Any, int]:
    """An initialised app on ``instance`` and the id of a document with three signatures."""
    from bench.b_page import presigned_pdf
    from workflow import create_app
    from workflow.services import EXTENSION_KEY, Services
    from workflow.setup.bootstrap import initialise

    config: dict[str, Any] = {"INSTANCE_PATH": str(instance), "DEMO_PASSWORD": DEMO_PASSWORD}
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    services: Services = app.extensions[EXTENSION_KEY]
    initialise(services)
    pdf = presigned_pdf(instance, instance.parent, 2)
    client = app.test_client()

    def call(user: str, method: str, path: str, **kwargs: Any) -> Any:
        token = client.post(
            "/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD}
        ).get_json()["token"]
        r = client.open(
            f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        assert r.status_code < 400, r.get_data(as_text=True)  # noqa: S101
        return r.get_json()

    doc = call(
        "chuyenvien",
        "POST",
        "/documents",
        data={
            "file": (io.BytesIO(pdf), "ba-chu-ky.pdf", "application/pdf"),
            "subject": "Văn bản có ba chữ ký",
            "doc_type": "CV",
        },
    )
    call("chuyenvien", "POST", f"/documents/{doc['id']}/submit")
    for user, action, body in (("truongban", "approve", {}), ("bithu", "sign", None)):
        for task in call(user, "GET", "/tasks")["tasks"]:
            if task["action"] == action:
                payload = body if body is not None else {"passphrase": DEMO_PASSWORD}
                call(user, "POST", f"/tasks/{task['id']}/{action}", json=payload)
    report = call("chuyenvien", "GET", f"/documents/{doc['id']}/validation")
    assert len(report["signatures"]) == 3 and report["verdict"] == "valid", report  # noqa: S101
    return app, int(doc["id"])


def login(client: Any, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match  # noqa: S101
    r = client.post(
        "/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": match.group(1)},
    )
    assert r.status_code in (302, 303), r.status_code  # noqa: S101


PHASES = (
    ("workflow.app", "TrinhKyFlask.full_dispatch_request", "the request in Flask"),
    ("flask_login.login_manager", "LoginManager._load_user", "user load (flask-login)"),
    ("workflow.documents.web", "begin_write", "BEGIN (write lock on SQLite)"),
    ("workflow.accounts.access", "check_visible", "access check (write transaction)"),
    ("storage.audit", "append", "audit row (chain, log leaf)"),
    ("sqlalchemy.orm", "Session.commit", "commit"),
    ("workflow.accounts.access", "get_visible_document", "document load (+ authorisation)"),
    ("workflow.documents.page", "document_page", "page model (below)"),
    ("workflow.documents.presenters", "history", "  history (audit rows)"),
    ("workflow.verification.reports", "report_of", "  validation report"),
    ("storage.blobs.filesystem", "FilesystemBlobStore.verify", "    blob re-hash"),
    ("workflow.viewer.geometry", "document_pages", "  page geometry"),
    ("workflow.documents.page", "_exchange", "  comments"),
    ("workflow.documents.page", "_timeline", "  route timeline"),
    ("workflow.documents.page", "_files", "  files"),
    ("workflow.verification.service", "code_of", "  verification code"),
    ("workflow.documents.page", "render_template", "Jinja render (+ context processors)"),
    ("workflow.registry.incoming_queries", "menu_counts", "  menu counts"),
    ("workflow.services", "close_session", "teardown (close session)"),
)
"""(module, attribute, label): the functions timed one by one."""


def timed_phases() -> tuple[dict[str, float], Any]:
    """Wrap each function of :data:`PHASES` with a timer: :returns: the totals (seconds
    by label) and a function that unwraps them."""
    import functools
    import importlib

    totals: dict[str, float] = dict.fromkeys((label for *_, label in PHASES), 0.0)
    undo = []
    for module_name, attribute, label in PHASES:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = owner.__dict__[name]

        def wrapper(*args: Any, _f: Any = original, _l: str = label, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return _f(*args, **kwargs)
            finally:
                totals[_l] += time.thread_time() - t0

        setattr(owner, name, functools.wraps(original)(wrapper))
        undo.append((owner, name, original))

    def restore() -> None:
        for owner, name, original in undo:
            setattr(owner, name, original)

    return totals, restore


def main(argv: list[str]) -> int:
    from sqlalchemy import event

    from bench.served import postgres_database
    from workflow.services import EXTENSION_KEY

    count = int(argv[0]) if argv and argv[0].isdigit() else 200
    sort = argv[argv.index("--sort") + 1] if "--sort" in argv else "tottime"
    server = argv[argv.index("--postgres") + 1] if "--postgres" in argv else None
    dump = argv[argv.index("--dump") + 1] if "--dump" in argv else None
    with tempfile.TemporaryDirectory(prefix="trinhky-profile-") as tmp, ExitStack() as stack:
        url = stack.enter_context(postgres_database(server)) if server else None
        app, doc_id = build(Path(tmp) / "instance", url)
        client = app.test_client()
        login(client, "chuyenvien")
        path = f"/documents/{doc_id}"
        for _ in range(5):  # warm: templates, mappers, the cached report
            r = client.get(path)
            assert r.status_code == 200 and "Hợp lệ" in r.get_data(as_text=True)  # noqa: S101

        statements: Counter[str] = Counter()

        def count_statement(*args: Any) -> None:
            statements[" ".join(str(args[2]).split())[:160]] += 1

        engine = app.extensions[EXTENSION_KEY].engine
        event.listen(engine, "before_cursor_execute", count_statement)
        client.get(path)
        event.remove(engine, "before_cursor_execute", count_statement)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            client.get(path)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0

        totals, restore = timed_phases()
        for _ in range(count):
            client.get(path)
        restore()

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            client.get(path)
        profiler.disable()
        if dump:
            profiler.dump_stats(dump)
    print(
        f"GET {path} x{count} ({'PostgreSQL' if server else 'SQLite'}) through the test "
        f"client: {1000 * cpu / count:.2f} ms CPU and {1000 * wall / count:.2f} ms wall per page"
    )
    print(
        "Where the CPU goes (ms per page of this process's thread, timed one by one, no "
        "profiler; PostgreSQL's own work is not in it):"
    )
    for label, seconds in totals.items():
        print(f"  {1000 * seconds / count:7.2f}  {label}")
    print(f"{sum(statements.values())} SQL statements per page:")
    for text, n in statements.most_common():
        print(f"  {n:3d}  {text}")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
    stats.print_stats(45)
    stats.sort_stats("cumulative").print_stats(
        r"/(workflow|storage|signing|templates)/|flask_login|gunicorn|werkzeug/(test|serving)|jinja2/environment.py.*render",
        50,
    )
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
