"""Authorisation as one rule set, checked as a table: every operation of the OpenAPI
document (and the pages that show document data) called as every demo role and as an
anonymous caller, on a draft, a document in review, a classified entry, an issued
document dispatched to another unit (and that unit's incoming entry), and the other
objects the paths name; each answer must be the expected one exactly: ``ok`` (the
caller may: any answer but 401/403/404), ``deny`` (403 or 404) or ``auth`` (401, no
credentials). A denied answer must not carry the object's subject.

One app and one database for the module, built once; an operation that writes is called
on a fresh copy of the database (restored with SQLite's backup API), with the denied
callers first."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from storage.models import Certificate, Unit
from tests import factories
from tests.conftest import DEMO_PASSWORD, VN, app_config, closed
from tests.pdfs import simple_pdf
from workflow import create_app
from workflow.registry import issuance
from workflow.services import EXTENSION_KEY

USERS = (
    "chuyenvien",  # drafter, BTG (a board of the bloc committee)
    "truongban",  # approver, BTG
    "bithu",  # signer, TT (Standing Committee)
    "vanthu",  # clerk, VP (keeps the committee's registers)
    "kiemtra",  # auditor, BKT
    "admin",  # administrator, DUK
    "chanhvp",  # approver, VP
    "vanthugd",  # clerk, CS-GDDT (a grassroots committee)
    "bithugd",  # approver, CS-GDDT
)
ANON = "anonymous"
CALLERS = (*USERS, ANON)
SECRET = "BÍ-MẬT-{}"
"""Subjects of the objects: a denied answer must not contain them."""


@dataclass
class World:
    """The module's app, database and objects."""

    app: Flask
    db_path: Path
    snapshot: sqlite3.Connection
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    web: dict[str, FlaskClient] = field(default_factory=dict)

    def restore(self) -> None:
        self.app.extensions[EXTENSION_KEY].engine.dispose()
        target = sqlite3.connect(self.db_path)
        try:
            self.snapshot.backup(target)
        finally:
            target.close()


def _api(client: FlaskClient, token: str, method: str, path: str, **kw: Any) -> Any:
    response = closed(
        client.open(
            "/api/v1" + path,
            method=method,
            headers={"Authorization": f"Bearer {token}"},
            **kw,
        )
    )
    assert response.status_code < 300, (method, path, response.get_json())
    return response.get_json()


@pytest.fixture(scope="module")
def world(template_instance: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    instance = tmp_path_factory.mktemp("authz") / "instance"
    shutil.copytree(template_instance, instance)
    app = create_app(app_config(instance))
    client = app.test_client()
    tokens = {}
    for user in USERS:
        answer = closed(
            client.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
        )
        tokens[user] = answer.get_json()["token"]

    def call(user: str, method: str, path: str, **kw: Any) -> Any:
        return _api(client, tokens[user], method, path, **kw)

    def upload(subject: str, route: str | None = None) -> int:
        data = {"file": (BytesIO(simple_pdf()), "van-ban.pdf"), "subject": subject}
        data["doc_type"] = "CV"
        if route:
            data["route"] = route
        created = call("chuyenvien", "POST", "/documents", data=data)
        return int(created["id"])

    def task_of(user: str, doc: int) -> int:
        tasks = call(user, "GET", "/tasks")["tasks"]
        return int(next(t["id"] for t in tasks if t["document_id"] == doc))

    ids: dict[str, Any] = {}
    ids["draft"] = upload(SECRET.format("draft"))
    ids["review"] = upload(SECRET.format("review"))
    call("chuyenvien", "POST", f"/documents/{ids['review']}/submit")
    ids["task"] = task_of("truongban", ids["review"])
    # An issued document of the committee, dispatched to the grassroots committee CS-GDDT.
    issued = upload(SECRET.format("issued"), route="thuong-truc-ban-hanh")
    call("chuyenvien", "POST", f"/documents/{issued}/submit")
    call("truongban", "POST", f"/tasks/{task_of('truongban', issued)}/approve", json={})
    call("vanthu", "POST", f"/tasks/{task_of('vanthu', issued)}/approve", json={})
    call(
        "bithu",
        "POST",
        f"/tasks/{task_of('bithu', issued)}/sign",
        json={"passphrase": DEMO_PASSWORD},
    )
    call("vanthu", "POST", f"/tasks/{task_of('vanthu', issued)}/issue", json={})
    ids["issued"] = issued
    services = app.extensions[EXTENSION_KEY]
    with services.session_factory() as session:
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        ids["cert"] = session.scalars(
            select(Certificate.id).where(Certificate.user_id == factories.user(session, "bithu").id)
        ).first()
    call("vanthu", "POST", f"/documents/{issued}/dispatch", json={"recipients": [units["CS-GDDT"]]})
    entries = call("vanthugd", "GET", "/incoming")["incoming"]
    ids["entry"] = int(next(e["id"] for e in entries if e["document_id"] == issued))
    # A classified entry, metadata only, registered by the committee's clerk.
    with services.session_factory() as session:
        doc = issuance.register_classified(
            session,
            factories.user(session, "vanthu"),
            classification="mat",
            doc_type="CV",
            subject=SECRET.format("classified"),
        )
        session.commit()
        ids["classified"] = doc.id
    # A document signed by hand, registered by the committee's clerk with its scan: a T2
    # miss of the committee (its subject is in the coverage drill-down).
    today = datetime.now(VN).date().isoformat()
    paper = call(
        "vanthu",
        "POST",
        "/outgoing/paper",
        data={
            "file": (BytesIO(simple_pdf()), "ban-quet.pdf"),
            "doc_type": "CV",
            "subject": SECRET.format("paper"),
            "signer": "bithu",
            "signed_on": today,
        },
    )
    ids["paper"] = int(paper["id"])
    ids["workfile"] = int(
        call("chuyenvien", "POST", "/workfiles", json={"title": SECRET.format("workfile")})["id"]
    )
    notes = call("chuyenvien", "GET", "/notifications")["notifications"]
    ids["notification"] = int(notes[0]["id"]) if notes else 999999
    obligations = call("bithugd", "GET", "/reports/obligations").get("obligations", [])
    ids["obligation"] = int(obligations[0]["id"]) if obligations else 999999
    ids["token"] = int(call("chuyenvien", "GET", "/me/tokens")["tokens"][0]["id"])
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "k" * 16, "events": ["recalled"]}
    ids["webhook"] = int(call("admin", "POST", "/webhooks", json=hook)["id"])
    ids["gd_unit"] = units["CS-GDDT"]
    app.extensions[EXTENSION_KEY].engine.dispose()
    db_path = instance / "trinhky.sqlite3"
    snapshot = sqlite3.connect(":memory:")
    source = sqlite3.connect(db_path)
    source.backup(snapshot)
    source.close()
    web = {ANON: app.test_client()}
    for name in USERS:
        web[name] = app.test_client()
        page = closed(web[name].get("/login")).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        assert csrf is not None
        form = {"username": name, "password": DEMO_PASSWORD, "csrf_token": csrf.group(1)}
        assert closed(web[name].post("/login", data=form)).status_code == 302
    yield World(app, db_path, snapshot, tokens, ids, web)
    snapshot.close()
    app.extensions[EXTENSION_KEY].engine.dispose()


OBJECTS: dict[str, tuple[str, ...]] = {
    "document_id": ("draft", "review", "classified", "issued", "paper"),
    "task_id": ("task",),
    "entry_id": ("entry",),
    "workfile_id": ("workfile",),
    "notification_id": ("notification",),
    "obligation_id": ("obligation",),
    "cert_id": ("cert",),
    "token_id": ("token",),
    "kind": ("outgoing", "incoming"),
    "username": ("chuyenvien",),
    "job_id": ("nojob",),
    "session_id": ("nosession",),
    "code": ("nocode",),
    "endpoint_id": ("webhook",),
    "witness_id": ("nowitness",),
}
"""The objects each path parameter is tried with."""
LITERAL = {
    "outgoing": "outgoing",
    "incoming": "incoming",
    "chuyenvien": "chuyenvien",
    "nojob": "0" * 32,
    "nosession": "0" * 32,
    "nocode": "KHONGCO",
    "nowitness": "999999",
}


def operations(world: World) -> list[tuple[str, str, str]]:
    """:returns: (method, path template, object) for every operation and object."""
    document = closed(world.app.test_client().get("/api/v1/openapi.json")).get_json()
    cases = []
    for template, item in sorted(document["paths"].items()):
        names = re.findall(r"{(\w+)}", template)
        for method in sorted(m for m in item if m in ("get", "post", "put", "patch", "delete")):
            if not names:
                cases.append((method.upper(), template, "-"))
                continue
            for obj in OBJECTS[names[0]]:
                cases.append((method.upper(), template, obj))
    return cases


def url_for_case(world: World, template: str, obj: str) -> str:
    if obj == "-":
        return template
    value = LITERAL.get(obj) or str(world.ids[obj])
    # No such delivery, no such appended file: a 404 for everybody.
    path = template.replace("{delivery_id}", "999999").replace("{file_id}", "999999")
    return re.sub(r"{\w+}", value, path)


def pdf_form(**fields: Any) -> dict[str, Any]:
    return {"data": {"file": (BytesIO(simple_pdf()), "van-ban.pdf"), **fields}}


BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("POST", "/documents"): lambda w: pdf_form(subject="Về việc thử quyền", doc_type="CV"),
    ("POST", "/documents/{document_id}/revisions"): lambda w: pdf_form(),
    ("POST", "/incoming"): lambda w: pdf_form(sender="Tỉnh ủy", subject="Thử", doc_type="CV"),
    ("POST", "/external/{session_id}/upload"): lambda w: pdf_form(),
    ("POST", "/external/{session_id}/complete"): lambda w: {"json": {"cms_b64": "AAAA"}},
    ("POST", "/bulk-sign"): lambda w: {
        "json": {"task_ids": [w.ids["task"]], "passphrase": DEMO_PASSWORD}
    },
    ("POST", "/delegations"): lambda w: {
        "json": {
            "to": "chanhvp",
            "from": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "until": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            "reason": "Đi công tác",
        }
    },
    ("POST", "/documents/{document_id}/publish"): lambda w: {"json": {"public": True}},
    ("POST", "/log/witnesses"): lambda w: {"json": {"name": "Thử", "url": "http://127.0.0.1:9/w"}},
    ("POST", "/webhooks"): lambda w: {
        "json": {"url": "http://127.0.0.1:9/x", "secret": "k" * 16, "events": ["issued"]}
    },
    ("POST", "/workfiles"): lambda w: {"json": {"title": "Hồ sơ thử quyền"}},
    ("POST", "/workfiles/paper"): lambda w: {"json": {"title": "Hồ sơ giấy thử quyền"}},
    ("POST", "/users/{username}/certificates/personal"): lambda w: {
        "json": {"passphrase": "Mật-khẩu-khóa-mới-2026"}
    },
    ("POST", "/reports/obligations/{obligation_id}/submit"): lambda w: {
        "json": {"document_id": w.ids["issued"]}
    },
    ("POST", "/documents/{document_id}/dispatch"): lambda w: {
        "json": {"recipients": [w.ids["gd_unit"]]}
    },
    ("POST", "/documents/{document_id}/paper-dispatches"): lambda w: {
        "json": {"recipients": [w.ids["gd_unit"]]}
    },
    ("POST", "/documents/{document_id}/comments"): lambda w: {"json": {"body": "Ý kiến thử"}},
    ("POST", "/coverage/exemptions"): lambda w: {
        "json": {"document_id": w.ids["issued"], "reason": "Thử", "decision": "QĐ 1"}
    },
    ("POST", "/tasks/{task_id}/sign"): lambda w: {"json": {"passphrase": DEMO_PASSWORD}},
    ("POST", "/tasks/{task_id}/delegate"): lambda w: {
        "json": {"to": "chanhvp", "until": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    },
    ("POST", "/tasks/{task_id}/reassign"): lambda w: {"json": {"to": "chanhvp"}},
    ("POST", "/tasks/{task_id}/return"): lambda w: {"json": {"comment": "Sửa lại"}},
    ("POST", "/tasks/{task_id}/reject"): lambda w: {"json": {"comment": "Không duyệt"}},
    ("POST", "/workfiles/{workfile_id}/items"): lambda w: {
        "json": {"document_id": w.ids["review"]}
    },
    ("POST", "/incoming/{entry_id}/assign"): lambda w: {"json": {"to": "chanhvp"}},
}
QUERIES = {
    ("GET", "/coverage/misses"): "?target=T2",
    ("GET", "/search"): "?q=BÍ-MẬT",
    ("GET", "/log/proof"): "?entry=0",
    ("GET", "/log/consistency"): "?from=1",
}


PAGES: tuple[tuple[str, str], ...] = (
    ("/documents/{document_id}", "document_id"),
    ("/documents/{document_id}/file", "document_id"),
    ("/documents/{document_id}/pages/0.png", "document_id"),
    ("/documents/{document_id}/dispatch", "document_id"),
    ("/documents/{document_id}/scan", "document_id"),
    ("/incoming/handling/{document_id}", "document_id"),
    ("/incoming/{entry_id}", "entry_id"),
    ("/incoming/{entry_id}/file", "entry_id"),
    ("/tasks/{task_id}/stamp-preview", "task_id"),
    ("/workfiles/{workfile_id}", "workfile_id"),
    ("/registers/{kind}", "kind"),
    ("/registers/{kind}?format=csv", "kind"),
    ("/registers/{kind}?format=xlsx", "kind"),
    ("/coverage/misses?target=T2", ""),
    ("/coverage/export.csv", ""),
    ("/coverage/export.xlsx", ""),
    ("/audit", ""),
)
"""The HTML pages (and their files and exports) that show document data."""


def cases(world: World) -> list[tuple[str, str, str]]:
    """:returns: (method, path template, object): every API operation and every page
    (``PAGE``), on each object its path names."""
    found = operations(world)
    for template, name in PAGES:
        for obj in OBJECTS[name] if name else ("-",):
            found.append(("PAGE", template, obj))
    return found


def call_case(world: World, caller: str, method: str, template: str, obj: str) -> Any:
    path = url_for_case(world, template, obj)
    if method == "PAGE":
        return closed(world.web[caller].get(path))
    path += QUERIES.get((method, template), "")
    headers = {} if caller == ANON else {"Authorization": f"Bearer {world.tokens[caller]}"}
    body = BODIES.get((method, template))
    kw: dict[str, Any] = body(world) if body else ({"json": {}} if method == "POST" else {})
    client = world.web[ANON]
    return closed(client.open("/api/v1" + path, method=method, headers=headers, **kw))


def outcome(response: Any, method: str) -> str:
    """``o`` allowed, ``-`` denied (403, 404), ``a`` not authenticated (401, or a page's
    redirect to the login form)."""
    status = response.status_code
    if status == 401 or (
        method == "PAGE" and status == 302 and "/login" in response.headers["Location"]
    ):
        return "a"
    return "-" if status in (403, 404) else "o"


VISIBLE = {
    "draft": {"chuyenvien", "kiemtra"},
    "review": {"chuyenvien", "truongban", "kiemtra"},
    "classified": {"vanthu", "kiemtra"},
    "issued": {"chuyenvien", "truongban", "bithu", "vanthu", "kiemtra", "vanthugd", "bithugd"},
    "workfile": {"chuyenvien", "truongban", "kiemtra"},
    "paper": {"vanthu", "kiemtra"},
}
"""Who may read each object's subject (the document rule: party to it, or an auditor)."""
OVERSIGHT = {
    # The administrator keeps every unit's registers in view (incoming entries included).
    ("admin", "GET", "/incoming/{entry_id}", "issued"),
    ("admin", "PAGE", "/incoming/{entry_id}", "issued"),
    ("admin", "GET", "/search", "issued"),  # that incoming entry, found by search
    # ...and reassigns a task of someone absent (the answer names the document).
    ("admin", "POST", "/tasks/{task_id}/reassign", "review"),
    # The coverage drill-down: leaders of the committee, its Standing Committee, auditors
    # and administrators oversee every unit (grassroots and board leaders: their own).
    ("admin", "GET", "/coverage/misses", "paper"),
    ("admin", "PAGE", "/coverage/misses?target=T2", "paper"),
    ("bithu", "GET", "/coverage/misses", "paper"),
    ("bithu", "PAGE", "/coverage/misses?target=T2", "paper"),
}
"""Where a role sees a subject beyond :data:`VISIBLE`, on purpose."""

# fmt: off
EXPECTED: dict[tuple[str, str, str], str] = {
    # One letter per caller, in the order of CALLERS: chuyenvien truongban bithu vanthu
    # kiemtra admin chanhvp vanthugd bithugd anonymous. o: allowed (any answer but
    # 401/403/404: a 409 or 422 is the operation refusing the input or the state, after
    # the caller was let in), -: denied (403/404), a: authentication needed (401, or the
    # login page). A page of a document without such a page (no page image of a metadata
    # or hand-signed entry, no scan of an electronic one) is a 404 for everybody.
    ("GET", "/audit/events", "-"): "----oo---a",
    ("GET", "/audit/verify", "-"): "----oo---a",
    ("POST", "/auth/token", "-"): "oooooooooo",
    ("POST", "/bulk-sign", "-"): "oooooooooa",
    ("GET", "/bulk-sign/{job_id}", "nojob"): "---------a",
    ("POST", "/bundles", "-"): "----oo---a",
    ("GET", "/certificates", "-"): "oooooooooa",
    ("POST", "/certificates/{cert_id}/revoke", "cert"): "-----o---a",
    ("GET", "/coverage", "-"): "-oo-ooo-oa",
    ("POST", "/coverage/exemptions", "-"): "----oo---a",
    ("GET", "/coverage/misses", "-"): "-oo-ooo-oa",
    ("POST", "/coverage/revalidate", "-"): "----oo---a",
    ("POST", "/delegations", "-"): "oooooooooa",
    ("GET", "/documents", "-"): "oooooooooa",
    ("POST", "/documents", "-"): "o--------a",
    ("GET", "/documents/{document_id}", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}", "paper"): "---oo----a",
    ("GET", "/documents/{document_id}/comments", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}/comments", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}/comments", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}/comments", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}/comments", "paper"): "---oo----a",
    ("POST", "/documents/{document_id}/comments", "draft"): "o--------a",
    ("POST", "/documents/{document_id}/comments", "review"): "oo-------a",
    ("POST", "/documents/{document_id}/comments", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/comments", "issued"): "oooo-----a",
    ("POST", "/documents/{document_id}/comments", "paper"): "---o-----a",
    ("POST", "/documents/{document_id}/dispatch", "draft"): "---------a",
    ("POST", "/documents/{document_id}/dispatch", "review"): "---------a",
    ("POST", "/documents/{document_id}/dispatch", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/dispatch", "issued"): "---o-----a",
    ("POST", "/documents/{document_id}/dispatch", "paper"): "---o-----a",
    ("GET", "/documents/{document_id}/dispatches", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}/dispatches", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}/dispatches", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}/dispatches", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}/dispatches", "paper"): "---oo----a",
    ("GET", "/documents/{document_id}/file", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}/file", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}/file", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}/file", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}/file", "paper"): "---oo----a",
    ("GET", "/documents/{document_id}/paper-dispatches", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}/paper-dispatches", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}/paper-dispatches", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}/paper-dispatches", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}/paper-dispatches", "paper"): "---oo----a",
    ("POST", "/documents/{document_id}/paper-dispatches", "draft"): "---------a",
    ("POST", "/documents/{document_id}/paper-dispatches", "review"): "---------a",
    ("POST", "/documents/{document_id}/paper-dispatches", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/paper-dispatches", "issued"): "---o-----a",
    ("POST", "/documents/{document_id}/paper-dispatches", "paper"): "---o-----a",
    ("POST", "/documents/{document_id}/recall", "draft"): "---------a",
    ("POST", "/documents/{document_id}/recall", "review"): "---------a",
    ("POST", "/documents/{document_id}/recall", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/recall", "issued"): "--oo-----a",
    ("POST", "/documents/{document_id}/recall", "paper"): "---o-----a",
    ("POST", "/documents/{document_id}/revisions", "draft"): "o--------a",
    ("POST", "/documents/{document_id}/revisions", "review"): "o--------a",
    ("POST", "/documents/{document_id}/revisions", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/revisions", "issued"): "o--------a",
    ("POST", "/documents/{document_id}/revisions", "paper"): "---o-----a",
    ("POST", "/documents/{document_id}/submit", "draft"): "o--------a",
    ("POST", "/documents/{document_id}/submit", "review"): "o--------a",
    ("POST", "/documents/{document_id}/submit", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/submit", "issued"): "o--------a",
    ("POST", "/documents/{document_id}/submit", "paper"): "---o-----a",
    ("GET", "/documents/{document_id}/validation", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}/validation", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}/validation", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}/validation", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}/validation", "paper"): "---oo----a",
    ("POST", "/documents/{document_id}/withdraw", "draft"): "o--------a",
    ("POST", "/documents/{document_id}/withdraw", "review"): "o--------a",
    ("POST", "/documents/{document_id}/withdraw", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/withdraw", "issued"): "o--------a",
    ("POST", "/documents/{document_id}/withdraw", "paper"): "---o-----a",
    ("GET", "/external/{session_id}", "nosession"): "---------a",
    ("POST", "/external/{session_id}/complete", "nosession"): "---------a",
    ("GET", "/external/{session_id}/document", "nosession"): "---------a",
    ("POST", "/external/{session_id}/upload", "nosession"): "---------a",
    ("GET", "/incoming", "-"): "---ooo-o-a",
    ("POST", "/incoming", "-"): "---o---o-a",
    ("POST", "/incoming/paper", "-"): "---o---o-a",
    ("GET", "/incoming/{entry_id}", "entry"): "----oo-ooa",
    ("POST", "/incoming/{entry_id}/assign", "entry"): "----oo-ooa",
    ("POST", "/incoming/{entry_id}/complete", "entry"): "----oo-ooa",
    ("GET", "/incoming/{entry_id}/file", "entry"): "-------o-a",
    ("POST", "/incoming/{entry_id}/receive", "entry"): "-------o-a",
    ("GET", "/jobs", "-"): "----oo---a",
    ("GET", "/me", "-"): "oooooooooa",
    ("POST", "/me/signature-image", "-"): "oooooooooa",
    ("GET", "/me/tokens", "-"): "oooooooooa",
    ("POST", "/me/tokens/{token_id}/revoke", "token"): "o--------a",
    ("GET", "/notifications", "-"): "oooooooooa",
    ("POST", "/notifications/{notification_id}/read", "notification"): "---------a",
    ("GET", "/openapi.json", "-"): "oooooooooo",
    ("POST", "/outgoing/paper", "-"): "---o---o-a",
    ("GET", "/outgoing/paper/{document_id}/scan", "draft"): "---------a",
    ("GET", "/outgoing/paper/{document_id}/scan", "review"): "---------a",
    ("GET", "/outgoing/paper/{document_id}/scan", "classified"): "---------a",
    ("GET", "/outgoing/paper/{document_id}/scan", "issued"): "---------a",
    ("GET", "/outgoing/paper/{document_id}/scan", "paper"): "---oo----a",
    ("GET", "/registers/{kind}", "outgoing"): "---ooo-o-a",
    ("GET", "/registers/{kind}", "incoming"): "---ooo-o-a",
    ("POST", "/reminders/run", "-"): "-----o---a",
    ("GET", "/reports/obligations", "-"): "oooooooooa",
    ("POST", "/reports/obligations/{obligation_id}/paper", "obligation"): "---------a",
    ("POST", "/reports/obligations/{obligation_id}/submit", "obligation"): "---------a",
    ("GET", "/routes", "-"): "oooooooooa",
    ("POST", "/routes", "-"): "-----o---a",
    ("GET", "/tasks", "-"): "oooooooooa",
    ("POST", "/tasks/{task_id}/approve", "task"): "-o-------a",
    ("POST", "/tasks/{task_id}/delegate", "task"): "-o-------a",
    ("POST", "/tasks/{task_id}/external/prepare", "task"): "-o-------a",
    ("POST", "/tasks/{task_id}/issue", "task"): "-o-------a",
    ("POST", "/tasks/{task_id}/reassign", "task"): "-----o---a",
    ("POST", "/tasks/{task_id}/reject", "task"): "-o-------a",
    ("POST", "/tasks/{task_id}/return", "task"): "-o-------a",
    ("POST", "/tasks/{task_id}/sign", "task"): "-o-------a",
    ("POST", "/users/{username}/certificates", "chuyenvien"): "-----o---a",
    ("POST", "/users/{username}/certificates/personal", "chuyenvien"): "o----o---a",
    ("POST", "/validate", "-"): "---oo--o-a",
    ("GET", "/verify/{code}", "nocode"): "----------",
    ("GET", "/workfiles", "-"): "oooooooooa",
    ("POST", "/workfiles", "-"): "oooo-ooooa",
    ("POST", "/workfiles/paper", "-"): "oooo-ooooa",
    ("GET", "/workfiles/{workfile_id}", "workfile"): "oo--o----a",
    ("POST", "/workfiles/{workfile_id}/close", "workfile"): "oo-------a",
    ("POST", "/workfiles/{workfile_id}/items", "workfile"): "oo-------a",
    ("GET", "/public/documents", "-"): "oooooooooo",
    ("POST", "/documents/{document_id}/publish", "draft"): "---------a",
    ("POST", "/documents/{document_id}/publish", "review"): "---------a",
    ("POST", "/documents/{document_id}/publish", "classified"): "---o-----a",
    ("POST", "/documents/{document_id}/publish", "issued"): "--oo-----a",
    ("POST", "/documents/{document_id}/publish", "paper"): "---o-----a",
    ("GET", "/search", "-"): "oooooooooa",
    # The transparency log is public; with no signed tree head yet, a 404 for everybody.
    ("GET", "/log/head", "-"): "----------",
    ("GET", "/log/proof", "-"): "----------",
    ("GET", "/log/consistency", "-"): "----------",
    ("GET", "/log/witnesses", "-"): "-----o---a",
    ("POST", "/log/witnesses", "-"): "-----o---a",
    ("DELETE", "/log/witnesses/{witness_id}", "nowitness"): "---------a",
    ("GET", "/documents/{document_id}/files", "draft"): "o---o----a",
    ("GET", "/documents/{document_id}/files/{file_id}", "draft"): "---------a",
    ("GET", "/documents/{document_id}/files", "review"): "oo--o----a",
    ("GET", "/documents/{document_id}/files/{file_id}", "review"): "---------a",
    ("GET", "/documents/{document_id}/files", "classified"): "---oo----a",
    ("GET", "/documents/{document_id}/files/{file_id}", "classified"): "---------a",
    ("GET", "/documents/{document_id}/files", "issued"): "ooooo----a",
    ("GET", "/documents/{document_id}/files/{file_id}", "issued"): "---------a",
    ("GET", "/documents/{document_id}/files", "paper"): "---oo----a",
    ("GET", "/documents/{document_id}/files/{file_id}", "paper"): "---------a",
    ("GET", "/webhooks", "-"): "-----o---a",
    ("POST", "/webhooks", "-"): "-----o---a",
    ("DELETE", "/webhooks/{endpoint_id}", "webhook"): "-----o---a",
    ("GET", "/webhooks/{endpoint_id}/deliveries", "webhook"): "-----o---a",
    # No such delivery (the path's second id): a 404 for everybody.
    ("POST", "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", "webhook"): "---------a",
    ("PAGE", "/documents/{document_id}", "draft"): "o---o----a",
    ("PAGE", "/documents/{document_id}", "review"): "oo--o----a",
    ("PAGE", "/documents/{document_id}", "classified"): "---oo----a",
    ("PAGE", "/documents/{document_id}", "issued"): "ooooo----a",
    ("PAGE", "/documents/{document_id}", "paper"): "---oo----a",
    ("PAGE", "/documents/{document_id}/file", "draft"): "o---o----a",
    ("PAGE", "/documents/{document_id}/file", "review"): "oo--o----a",
    ("PAGE", "/documents/{document_id}/file", "classified"): "---oo----a",
    ("PAGE", "/documents/{document_id}/file", "issued"): "ooooo----a",
    ("PAGE", "/documents/{document_id}/file", "paper"): "---oo----a",
    ("PAGE", "/documents/{document_id}/pages/0.png", "draft"): "o---o----a",
    ("PAGE", "/documents/{document_id}/pages/0.png", "review"): "oo--o----a",
    ("PAGE", "/documents/{document_id}/pages/0.png", "classified"): "---------a",
    ("PAGE", "/documents/{document_id}/pages/0.png", "issued"): "ooooo----a",
    ("PAGE", "/documents/{document_id}/pages/0.png", "paper"): "---------a",
    ("PAGE", "/documents/{document_id}/dispatch", "draft"): "o---o----a",
    ("PAGE", "/documents/{document_id}/dispatch", "review"): "oo--o----a",
    ("PAGE", "/documents/{document_id}/dispatch", "classified"): "---oo----a",
    ("PAGE", "/documents/{document_id}/dispatch", "issued"): "ooooo----a",
    ("PAGE", "/documents/{document_id}/dispatch", "paper"): "---oo----a",
    ("PAGE", "/documents/{document_id}/scan", "draft"): "---------a",
    ("PAGE", "/documents/{document_id}/scan", "review"): "---------a",
    ("PAGE", "/documents/{document_id}/scan", "classified"): "---------a",
    ("PAGE", "/documents/{document_id}/scan", "issued"): "---------a",
    ("PAGE", "/documents/{document_id}/scan", "paper"): "---oo----a",
    ("PAGE", "/incoming/handling/{document_id}", "draft"): "---------a",
    ("PAGE", "/incoming/handling/{document_id}", "review"): "---------a",
    ("PAGE", "/incoming/handling/{document_id}", "classified"): "---------a",
    ("PAGE", "/incoming/handling/{document_id}", "issued"): "---------a",
    ("PAGE", "/incoming/handling/{document_id}", "paper"): "---------a",
    ("PAGE", "/incoming/{entry_id}", "entry"): "----oo-ooa",
    ("PAGE", "/incoming/{entry_id}/file", "entry"): "-------o-a",
    ("PAGE", "/tasks/{task_id}/stamp-preview", "task"): "-o-------a",
    ("PAGE", "/workfiles/{workfile_id}", "workfile"): "oo--o----a",
    ("PAGE", "/registers/{kind}", "outgoing"): "---ooo-o-a",
    ("PAGE", "/registers/{kind}", "incoming"): "---ooo-o-a",
    ("PAGE", "/registers/{kind}?format=csv", "outgoing"): "---ooo-o-a",
    ("PAGE", "/registers/{kind}?format=csv", "incoming"): "---ooo-o-a",
    ("PAGE", "/registers/{kind}?format=xlsx", "outgoing"): "---ooo-o-a",
    ("PAGE", "/registers/{kind}?format=xlsx", "incoming"): "---ooo-o-a",
    ("PAGE", "/coverage/misses?target=T2", "-"): "-oo-ooo-oa",
    ("PAGE", "/coverage/export.csv", "-"): "-oo-ooo-oa",
    ("PAGE", "/coverage/export.xlsx", "-"): "-oo-ooo-oa",
    ("PAGE", "/audit", "-"): "----oo---a",
}
# fmt: on


def test_every_operation_as_every_role(world: World) -> None:
    found = cases(world)
    missing, stale = set(found) - set(EXPECTED), set(EXPECTED) - set(found)
    assert not missing and not stale, ("not in the table", missing, "no longer served", stale)
    mismatches, leaks = [], []
    for method, template, obj in found:
        dirty = False
        for caller, want in zip(CALLERS, EXPECTED[(method, template, obj)], strict=True):
            if dirty:
                world.restore()
            response = call_case(world, caller, method, template, obj)
            dirty = method in ("POST", "DELETE") and response.status_code < 300
            got = outcome(response, method)
            if got != want:
                mismatches.append((method, template, obj, caller, want, response.status_code))
            text = response.get_data().decode("utf-8", "replace")
            for name, readers in VISIBLE.items():
                if SECRET.format(name) not in text or caller in readers:
                    continue
                if got == "o" and (caller, method, template, name) in OVERSIGHT:
                    continue
                leaks.append((method, template, obj, caller, name))
        if dirty:
            world.restore()
    print(
        f"authorisation table: {len(found)} operation x object cases x {len(CALLERS)} callers"
        f" = {len(found) * len(CALLERS)} calls"
    )
    assert not mismatches
    assert not leaks


def test_a_grassroots_leader_drills_down_into_their_own_unit_only(world: World) -> None:
    client = world.web[ANON]

    def misses(user: str, query: str) -> Any:
        headers = {"Authorization": f"Bearer {world.tokens[user]}"}
        return closed(client.get(f"/api/v1/coverage/misses?target=T2{query}", headers=headers))

    own = misses("bithugd", "")
    assert own.status_code == 200
    assert SECRET.format("paper") not in own.get_data(as_text=True)
    assert misses("bithugd", "&unit=DUK").status_code == 403
    assert misses("bithugd", "&unit=CS-GDDT").status_code == 200
    assert misses("truongban", "&unit=DUK").status_code == 403
    overseen = misses("kiemtra", "").get_json()
    assert SECRET.format("paper") in [item["subject"] for item in overseen["items"]]
