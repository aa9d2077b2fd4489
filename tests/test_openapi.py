"""The OpenAPI document comes from the schemas and the app's real url_map: it is valid
OpenAPI 3.1, it lists exactly the routes served under /api/v1, and real answers of the API
fit the schemas it documents; a body that does not fit its schema is a Vietnamese 422."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from storage.types import utcnow
from tests.conftest import DEMO_PASSWORD, Api, closed
from tests.test_dispatch_registers import add_clerk, unit_id
from tests.test_workflow_routes import upload_on
from workflow.schemas.openapi import openapi_document
from workflow.services import Services
from workflow.vocab import VN_TZ

PREFIX = "/api/v1"


def document_of(app: Flask) -> dict[str, Any]:
    """The document as served (no token needed)."""
    response = closed(app.test_client().get(PREFIX + "/openapi.json"))
    assert response.status_code == 200, response.get_data(as_text=True)
    spec: dict[str, Any] = response.get_json()
    return spec


def test_the_document_is_valid_openapi_3_1(app: Flask) -> None:
    spec = document_of(app)
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on any error of the OpenAPI 3.1 schema


def test_exactly_the_routes_served_are_described(app: Flask) -> None:
    spec = document_of(app)
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
            served |= {(path, m.lower()) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert described == served
    assert len(served) > 60
    for path, ops in spec["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == names, (method, path)
            ok = [s for s in op["responses"] if s.startswith("2")]
            assert ok, (method, path)
            for status in ok:  # every success says what it is: a schema, or a file type
                assert op["responses"][status]["content"], (method, path, status)
            assert op["responses"]["422"] == {"$ref": "#/components/responses/Problem"}


def test_request_schemas_are_documented(app: Flask) -> None:
    spec = document_of(app)
    schemas = spec["components"]["schemas"]
    delegate = spec["paths"]["/tasks/{task_id}/delegate"]["post"]["requestBody"]
    ref = delegate["content"]["application/json"]["schema"]["$ref"]
    body = schemas[ref.rsplit("/", 1)[1]]
    # ``to`` is canonical; the older names are documented as deprecated.
    assert body["required"] == ["to", "until"]
    assert body["properties"]["to_user"]["deprecated"] is True
    assert body["properties"]["username"]["deprecated"] is True
    upload = spec["paths"]["/documents"]["post"]["requestBody"]["content"]
    form = upload["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["contentMediaType"] == "application/pdf"
    assert {"subject", "doc_type", "recipients", "external"} <= set(form["properties"])
    assert "application/json" in upload  # classified documents: metadata only, as JSON
    token = spec["paths"]["/auth/token"]["post"]
    assert token["security"] == [] and "429" in token["responses"]
    assert spec["paths"]["/verify/{code}"]["get"]["security"] == []
    registers = spec["paths"]["/registers/{kind}"]["get"]
    assert {"json", "csv"} <= set(
        next(p for p in registers["parameters"] if p["name"] == "format")["schema"]["enum"]
    )
    assert "text/csv" in registers["responses"]["200"]["content"]


def test_a_route_without_a_schema_is_an_error(app: Flask) -> None:
    app.add_url_rule(PREFIX + "/undocumented", "undocumented", lambda: {})
    with pytest.raises(LookupError, match="undocumented"):
        openapi_document(app)


class Answers:
    """Checks real answers against the operation of the document they come from."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, path: str, response: Any, status: int) -> Any:
        assert response.status_code == status, response.get_data(as_text=True)
        op = self.spec["paths"][path][method]
        answer = op["responses"][str(status)]
        if "$ref" in answer:
            answer = self.spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        assert response.mimetype in answer["content"], (path, response.mimetype)
        schema = answer["content"][response.mimetype].get("schema")
        if schema is not None:
            validator = Draft202012Validator({**schema, "components": self.spec["components"]})
            errors = [
                f"{list(e.absolute_path)}: {e.message}"
                for e in validator.iter_errors(response.get_json())
            ]
            assert not errors, (method, path, errors)
        self.seen.add((method, path, status))
        return response.get_json()


def test_real_answers_fit_the_documented_schemas(app: Flask, api: Api, services: Services) -> None:
    check = Answers(document_of(app))
    token = closed(
        api.client.post(
            PREFIX + "/auth/token", json={"username": "chuyenvien", "password": DEMO_PASSWORD}
        )
    )
    check("post", "/auth/token", token, 200)
    check("get", "/me", api.get("chuyenvien", "/me"), 200)

    # A document through its whole route, each answer checked.
    doc_id = upload_on(api)
    check("get", "/documents", api.get("chuyenvien", "/documents"), 200)
    comment = api.post("chuyenvien", f"/documents/{doc_id}/comments", json={"body": "Góp ý"})
    check("post", "/documents/{document_id}/comments", comment, 201)
    comments = api.get("chuyenvien", f"/documents/{doc_id}/comments")
    check("get", "/documents/{document_id}/comments", comments, 200)
    tasks = check("get", "/tasks", api.get("truongban", "/tasks"), 200)["tasks"]
    task = next(t for t in tasks if t["document_id"] == doc_id)
    approved = api.post("truongban", f"/tasks/{task['id']}/approve", json={"comment": "Đồng ý"})
    check("post", "/tasks/{task_id}/approve", approved, 200)
    task = api.task_for("vanthu", doc_id)
    check(
        "post", "/tasks/{task_id}/approve", api.post("vanthu", f"/tasks/{task['id']}/approve"), 200
    )
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    check("post", "/tasks/{task_id}/sign", signed, 200)
    task = api.task_for("vanthu", doc_id)
    issued = check(
        "post", "/tasks/{task_id}/issue", api.post("vanthu", f"/tasks/{task['id']}/issue"), 200
    )
    assert issued["document"]["state"] == "issued"
    document = check(
        "get", "/documents/{document_id}", api.get("vanthu", f"/documents/{doc_id}"), 200
    )
    assert document["history"] and document["register"]
    validation = api.get("vanthu", f"/documents/{doc_id}/validation")
    assert (
        check("get", "/documents/{document_id}/validation", validation, 200)["verdict"] == "valid"
    )
    pdf = api.get("vanthu", f"/documents/{doc_id}/file")
    check("get", "/documents/{document_id}/file", pdf, 200)

    # Dispatch, receipt, registers.
    add_clerk(services, "vanthu_btc", "BTC")
    btc = unit_id(services, "BTC")
    sent = api.post(
        "vanthu",
        f"/documents/{doc_id}/dispatch",
        json={"recipients": [btc], "external": [{"name": "Sở Nội vụ", "email": "snv@example.vn"}]},
    )
    check("post", "/documents/{document_id}/dispatch", sent, 201)
    dispatches = api.get("vanthu", f"/documents/{doc_id}/dispatches")
    check("get", "/documents/{document_id}/dispatches", dispatches, 200)
    incoming = check("get", "/incoming", api.get("vanthu_btc", "/incoming"), 200)["incoming"]
    entry = incoming[0]["id"]
    received = api.post("vanthu_btc", f"/incoming/{entry}/receive")
    assert check("post", "/incoming/{entry_id}/receive", received, 200)["state"] == "received"
    check("get", "/incoming/{entry_id}", api.get("vanthu_btc", f"/incoming/{entry}"), 200)
    for kind in ("outgoing", "incoming"):
        user = "vanthu" if kind == "outgoing" else "vanthu_btc"
        check("get", "/registers/{kind}", api.get(user, f"/registers/{kind}"), 200)
    csv = api.get("vanthu", "/registers/outgoing?format=csv")
    check("get", "/registers/{kind}", csv, 200)

    # Records, certificates, routes, notifications, coverage, audit.
    workfile = api.post("chuyenvien", "/workfiles", json={"title": "Hồ sơ hội nghị"})
    wf = check("post", "/workfiles", workfile, 201)
    attached = api.post("chuyenvien", f"/workfiles/{wf['id']}/items", json={"document_id": doc_id})
    check("post", "/workfiles/{workfile_id}/items", attached, 201)
    check("get", "/workfiles", api.get("chuyenvien", "/workfiles"), 200)
    check("get", "/reports/obligations", api.get("kiemtra", "/reports/obligations"), 200)
    check("get", "/certificates", api.get("admin", "/certificates"), 200)
    check("get", "/routes", api.get("admin", "/routes"), 200)
    check("get", "/notifications", api.get("chuyenvien", "/notifications"), 200)
    check("get", "/coverage", api.get("kiemtra", "/coverage?by=doc_type"), 200)
    check("get", "/coverage/misses", api.get("kiemtra", "/coverage/misses?target=T2"), 200)
    check("get", "/audit/verify", api.get("kiemtra", "/audit/verify"), 200)
    check("get", "/audit/events", api.get("kiemtra", "/audit/events?limit=5"), 200)

    start = utcnow().astimezone(VN_TZ).replace(microsecond=0)
    standing = api.post(
        "truongban",
        "/delegations",
        json={
            "to": "kiemtra",
            "from": start.isoformat(),
            "until": (start + timedelta(days=7)).isoformat(),
            "reason": "Nghỉ phép",
        },
    )
    delegation = check("post", "/delegations", standing, 201)
    assert delegation["to"] == "kiemtra" and delegation["from"] == start.isoformat()

    # Errors: problem+json, documented as such.
    missing = api.get("vanthu", "/documents/999999")
    assert check("get", "/documents/{document_id}", missing, 404)["code"] == "not_found"
    assert len(check.seen) >= 30


def test_validation_errors_are_vietnamese_problems_naming_the_field(
    app: Flask, api: Api, submitted_document: Any
) -> None:
    check = Answers(document_of(app))
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    path = f"/tasks/{task['id']}/delegate"
    cases = [
        ({"until": "2030-01-01T17:00:00"}, "Cần 'to': tên đăng nhập của người nhận ủy quyền."),
        ({"to": 5, "until": "2030-01-01T17:00:00"}, "'to' phải là chuỗi."),
        ({"to": "kiemtra"}, "Cần 'until'"),
        ({"to": "kiemtra", "until": "mai"}, "'until' không phải thời điểm ISO 8601 hợp lệ."),
        ({"to": "kiemtra", "until": 17}, "'until' phải là thời điểm ISO 8601"),
    ]
    for body, message in cases:
        refused = check(
            "post", "/tasks/{task_id}/delegate", api.post("truongban", path, json=body), 422
        )
        assert message in refused["detail"], (body, refused)
        assert refused["code"] == "invalid_input" and refused["title"]
    not_an_object = api.post("truongban", path, json=[1, 2])
    assert (
        "đối tượng JSON" in check("post", "/tasks/{task_id}/delegate", not_an_object, 422)["detail"]
    )
    bad_stage = api.post("truongban", f"/tasks/{task['id']}/return", json={"to_stage": True})
    assert "'to_stage' phải là một số nguyên." in bad_stage.get_json()["detail"]
    route = api.post("admin", "/routes", json={"code": "x", "name": "x", "stages": [{"when": 3}]})
    assert "'stages[0].when' phải là một đối tượng JSON." in route.get_json()["detail"]


@pytest.mark.parametrize("name", ["to", "to_user", "username"])
def test_the_delegate_may_be_named_by_each_of_its_three_names(
    app: Flask, api: Api, submitted_document: Any, name: str
) -> None:
    check = Answers(document_of(app))
    doc_id = submitted_document()
    task = api.task_for("truongban", doc_id)
    until = (utcnow() + timedelta(days=3)).astimezone(VN_TZ).replace(tzinfo=None).isoformat()
    response = api.post(
        "truongban",
        f"/tasks/{task['id']}/delegate",
        json={name: "kiemtra", "until": until, "reason": "Đi họp"},
    )
    delegated = check("post", "/tasks/{task_id}/delegate", response, 201)["task"]
    assert delegated["assignee"] == "kiemtra" and delegated["on_behalf_of"] == "truongban"
    # A time without an offset is Vietnam time.
    assert delegated["state"] == "open"
