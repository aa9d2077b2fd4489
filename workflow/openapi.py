"""workflow: the OpenAPI 3.1 description of the JSON API."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, jsonify

from workflow.http import api_blueprint, public

PROBLEM = {"$ref": "#/components/responses/Problem"}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    errors = {code: PROBLEM for code in ("400", "401", "403", "404", "409", "413", "422")}
    return {"summary": summary, "responses": {**responses, **errors}, **extra}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def openapi_document(rules: list[tuple[str, set[str], str]] | None = None) -> dict[str, Any]:
    """:returns: the OpenAPI document served at ``/api/v1/openapi.json``.

    :param rules: every ``(path, methods, summary)`` the app serves under ``/api/v1``:
        operations not described in detail below are listed from them, so the
        description never misses an endpoint.
    """
    document = _described()
    paths = document["paths"]
    shapes = {_shape(p): p for p in paths}
    for path, methods, summary in rules or []:
        path = shapes.get(_shape(path), path)
        entry = paths.setdefault(path, {})
        for method in methods:
            if method.lower() not in entry:
                params = [_id(p) for p in _path_params(path)]
                extra: dict[str, Any] = {"parameters": params} if params else {}
                entry[method.lower()] = _op(
                    summary or path, {"200": {"description": "OK"}}, **extra
                )
    return document


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _described() -> dict[str, Any]:
    doc_ref = {"$ref": "#/components/schemas/Document"}
    task_ref = {"$ref": "#/components/schemas/Task"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TrinhKy API",
            "version": "1.0.0",
            "description": "Document workflow and PAdES signatures. Errors are "
            "application/problem+json (RFC 9457) with a Vietnamese 'detail'.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/auth/token": {
                "post": _op(
                    "Exchange username and password for a bearer token",
                    {
                        "200": {
                            "description": "token",
                            **_json({"$ref": "#/components/schemas/Token"}),
                        }
                    },
                    security=[],
                    requestBody=_json(
                        {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                            },
                        }
                    ),
                )
            },
            "/me": {"get": _op("The caller and their roles", {"200": {"description": "user"}})},
            "/documents": {
                "get": _op(
                    "Documents the caller is party to",
                    {"200": {"description": "documents"}},
                    parameters=[
                        {"name": "state", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    ],
                ),
                "post": _op(
                    "Upload a PDF as a draft document",
                    {"201": {"description": "created", **_json(doc_ref)}},
                    requestBody={
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file", "subject", "doc_type"],
                                    "properties": {
                                        "file": {"type": "string", "format": "binary"},
                                        "subject": {"type": "string"},
                                        "doc_type": {"type": "string", "examples": ["CV", "BC"]},
                                        "route": {"type": "string"},
                                        "urgency": {
                                            "type": "string",
                                            "enum": ["khan", "thuong_khan", "hoa_toc"],
                                        },
                                        "recipients": {
                                            "type": "array",
                                            "items": {"type": "integer"},
                                            "description": "Planned recipient units (nơi "
                                            "nhận dự kiến): unit ids, the field repeated or "
                                            "comma-separated. An unknown or deactivated "
                                            "unit is refused (422), nothing is stored. The "
                                            "clerk finds them ticked when dispatching.",
                                        },
                                        "external": {
                                            "type": "string",
                                            "description": "Planned outside recipients: "
                                            "lines `Name; e-mail`, or a JSON array of "
                                            '`{"name", "email"}`.',
                                        },
                                    },
                                }
                            }
                        }
                    },
                ),
            },
            "/documents/{id}": {
                "get": _op(
                    "Metadata, state and history",
                    {"200": {"description": "document", **_json(doc_ref)}},
                    parameters=[_id("id")],
                )
            },
            "/documents/{id}/submit": {
                "post": _op(
                    "Put the document on its route",
                    {"200": {"description": "document", **_json(doc_ref)}},
                    parameters=[_id("id")],
                )
            },
            "/documents/{id}/file": {
                "get": _op(
                    "The current PDF",
                    {"200": {"description": "PDF", "content": {"application/pdf": {}}}},
                    parameters=[_id("id")],
                )
            },
            "/documents/{id}/validation": {
                "get": _op(
                    "Validation of every signature and an overall verdict",
                    {
                        "200": {
                            "description": "report",
                            **_json({"$ref": "#/components/schemas/Validation"}),
                        }
                    },
                    parameters=[_id("id")],
                )
            },
            "/tasks": {
                "get": _op(
                    "The caller's open tasks",
                    {
                        "200": {
                            "description": "tasks",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {"tasks": {"type": "array", "items": task_ref}},
                                }
                            ),
                        }
                    },
                )
            },
            "/tasks/{id}/approve": {
                "post": _op(
                    "Approve a step",
                    {"200": {"description": "done"}},
                    parameters=[_id("id")],
                    requestBody=_json(
                        {"type": "object", "properties": {"comment": {"type": "string"}}}
                    ),
                )
            },
            "/tasks/{id}/sign": {
                "post": _op(
                    "Sign with the key's passphrase (PAdES, visible stamp)",
                    {"200": {"description": "signed"}},
                    parameters=[_id("id")],
                    requestBody=_json(
                        {
                            "type": "object",
                            "required": ["passphrase"],
                            "properties": {"passphrase": {"type": "string"}},
                        }
                    ),
                )
            },
            **_incoming_paths(),
            **_paper_paths(),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem",
                    "content": {
                        "application/problem+json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string"},
                                    "title": {"type": "string"},
                                    "status": {"type": "integer"},
                                    "detail": {"type": "string"},
                                    "code": {"type": "string"},
                                },
                            }
                        }
                    },
                }
            },
            "schemas": {
                "Token": {
                    "type": "object",
                    "properties": {"token": {"type": "string"}, "expires_at": {"type": "string"}},
                },
                "Task": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "document_id": {"type": "integer"},
                        "action": {"type": "string", "enum": ["approve", "sign"]},
                        "step": {"type": "integer"},
                        "step_name": {"type": "string"},
                        "state": {"type": "string"},
                    },
                },
                "Document": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "subject": {"type": "string"},
                        "doc_type": {"type": "string"},
                        "state": {"type": "string"},
                        "tasks": {"type": "array", "items": task_ref},
                        "recipients": {
                            "type": "array",
                            "description": "planned recipient units (nơi nhận dự kiến)",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "code": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            },
                        },
                        "external_recipients": {
                            "type": "array",
                            "description": "planned outside recipients",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "email": {"type": "string"},
                                },
                            },
                        },
                        "history": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Validation": {
                    "type": "object",
                    "properties": {
                        "verdict": {
                            "type": "string",
                            "enum": ["valid", "invalid", "unsigned", "unreadable"],
                        },
                        "signatures": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    }


INCOMING_FLOW = (
    "Incoming documents after receipt (route `van-ban-den`): `POST /incoming/{id}/receive` "
    "(clerk: signature validation, incoming number) puts a valid entry on the incoming "
    "route and gives the receiving unit's leaders an `assign` task (in `GET /tasks`); "
    "`POST /incoming/{id}/assign` closes it and gives `handle` tasks to the lead person, "
    "else to the assigned unit's staff, with the deadline; `POST /incoming/{id}/complete` "
    "marks the entry handled. The tasks' `document_id` is the entry's handling document; "
    "`/tasks/{id}/approve` refuses these tasks (409), `/tasks/{id}/delegate` accepts them."
)


def _incoming_paths() -> dict[str, Any]:
    entry = {"200": {"description": "the entry with its `handling`"}}
    return {
        "/incoming/{entry_id}": {
            "get": _op("An incoming entry and its handling", entry, parameters=[_id("entry_id")])
        },
        "/incoming/{entry_id}/assign": {
            "post": _op(
                "A leader of the receiving unit assigns a received entry (phân công)",
                entry,
                description=INCOMING_FLOW,
                parameters=[_id("entry_id")],
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["unit"],
                        "properties": {
                            "unit": {"type": "integer", "description": "unit in charge"},
                            "assignee": {
                                "type": "integer",
                                "description": "lead person (a member of that unit)",
                            },
                            "deadline_days": {"type": "integer", "minimum": 1, "maximum": 365},
                            "note": {"type": "string"},
                        },
                    }
                ),
            )
        },
        "/incoming/{entry_id}/complete": {
            "post": _op(
                "The assigned unit marks the entry handled (đã xử lý)",
                entry,
                description=INCOMING_FLOW,
                parameters=[_id("entry_id")],
                requestBody=_json(
                    {
                        "type": "object",
                        "properties": {
                            "comment": {"type": "string"},
                            "reply_document": {"type": "integer"},
                            "work_file": {"type": "integer"},
                        },
                    }
                ),
            )
        },
    }


PAPER = (
    "Paper documents are registered like electronic ones (Decree 30) and counted in the "
    "coverage ledger at once: a hand-signed document of the Standing Committee or a board "
    "is a T2 miss; a paper exchange between the bloc committee and another organisation "
    "is a T1 miss (classified: exempt). JSON, or multipart with the same fields plus "
    "`file` (a PDF scan; never for a classified document). A refusal stores nothing."
)


def _paper_paths() -> dict[str, Any]:
    """The paper side of the registers (workflow/registry/paper_api.py)."""

    def body(required: list[str], **fields: str) -> dict[str, Any]:
        schema = {
            "type": "object",
            "required": required,
            "properties": {k: {"type": "string", "description": v} for k, v in fields.items()},
        }
        return {
            "content": {t: {"schema": schema} for t in ("application/json", "multipart/form-data")}
        }

    created = {"201": {"description": "registered"}}
    return {
        "/outgoing/paper": {
            "post": _op(
                "Register an outgoing document signed by hand: numbered in the same yearly "
                "series as electronic ones; 201 {id, number, symbol, issued_at, ...}",
                created,
                description=PAPER,
                requestBody=body(
                    ["doc_type", "subject", "signer", "signed_on"],
                    doc_type="NQ, QĐ, CV...",
                    subject="trích yếu",
                    signer="username, or the signer's name",
                    signed_on="YYYY-MM-DD, not after today",
                    unit="unit code (default: the clerk's issuer)",
                    copies="số lượng bản (integer)",
                ),
            )
        },
        "/outgoing/paper/{document_id}/scan": {
            "get": _op(
                "The scan of a document signed by hand",
                {"200": {"description": "PDF", "content": {"application/pdf": {}}}},
                parameters=[_id("document_id")],
            )
        },
        "/incoming/paper": {
            "post": _op(
                "Register a document received on paper: received now, next number of the "
                "unit's incoming register; 201 with the incoming entry (form: paper)",
                created,
                description=PAPER,
                requestBody=body(
                    [],
                    sender="outside organisation's name (or sender_unit)",
                    sender_unit="code of the sending unit of the bloc",
                    original_symbol="their number and symbol",
                    original_date="YYYY-MM-DD",
                    subject="trích yếu (empty for tuyet_mat)",
                    doc_type="type code",
                    classification="mat, toi_mat or tuyet_mat",
                    unit="receiving register: unit id or code (default: the clerk's)",
                ),
            )
        },
        "/documents/{document_id}/paper-dispatches": {
            "get": _op(
                "The paper recipients of a document",
                {"200": {"description": "paper_dispatches"}},
                parameters=[_id("document_id")],
            ),
            "post": _op(
                "Record that an issued document was sent on paper (a T1 miss per exchange)",
                created,
                description=PAPER,
                parameters=[_id("document_id")],
                requestBody=_json(
                    {
                        "type": "object",
                        "properties": {
                            "recipients": {"type": "array", "items": {"type": "integer"}},
                            "external": {"type": "array", "items": {"type": "string"}},
                            "sent_on": {"type": "string", "format": "date"},
                        },
                    }
                ),
            ),
        },
        "/reports/obligations/{obligation_id}/paper": {
            "post": _op(
                "A clerk who receives the unit's reports records it delivered on paper (a T4 miss)",
                {"200": {"description": "the obligation, status `paper`"}},
                parameters=[_id("obligation_id")],
                requestBody=_json(
                    {"type": "object", "properties": {"delivered_on": {"type": "string"}}}
                ),
            )
        },
        "/workfiles/paper": {
            "post": _op(
                "Register a work file kept on paper; with closed_on it is closed that day "
                "(a T3 miss)",
                created,
                requestBody=_json(
                    {
                        "type": "object",
                        "required": ["title"],
                        "properties": {
                            "title": {"type": "string"},
                            "code": {"type": "string"},
                            "unit": {"type": "string"},
                            "classified": {"type": "boolean"},
                            "closed_on": {"type": "string", "format": "date"},
                        },
                    }
                ),
            )
        },
    }


bp = api_blueprint("openapi", __name__)


@bp.get("/openapi.json")
@public
def openapi() -> Any:
    """The OpenAPI 3.1 description of this API."""
    rules = []
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "static":
            continue
        path = rule.rule[len("/api/v1") :]
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "{" + arg + "}").replace(
                f"<{arg}>", "{" + arg + "}"
            )
        view = current_app.view_functions[rule.endpoint]
        summary = (view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else ""
        rules.append((path, set(rule.methods or ()) - {"HEAD", "OPTIONS"}, summary))
    return jsonify(openapi_document(rules))
