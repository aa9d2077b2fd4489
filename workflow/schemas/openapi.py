"""workflow: the OpenAPI 3.1 document of ``/api/v1``, assembled from the schemas of each
view (:func:`operation`) and the app's real ``url_map``.

No extension sits between Flask and pydantic: :func:`operation` only records, on the view
function, which models it reads and answers (it wraps nothing); the view itself parses
with :func:`workflow.schemas.base.parse` and answers with ``Model.of(...).dump()``. The
document lists exactly the routes the app serves under ``/api/v1`` (a route without
:func:`operation` is an error, not a hole), and its schemas are pydantic's JSON Schema
2020-12, which OpenAPI 3.1 uses as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import CoreSchema

from workflow.schemas.base import MAX_ID, Form, Problem, Request, Response

PREFIX = "/api/v1"
ATTRIBUTE = "openapi_operation"
"""The view function's attribute that holds its :class:`Operation`."""
ERRORS = (400, 401, 403, 404, 409, 422)
"""The problem+json answers every operation may give."""
_PROBLEM = {"$ref": "#/components/responses/Problem"}


@dataclass(frozen=True)
class File:
    """A response that is a file (not JSON)."""

    media_types: tuple[str, ...]
    """Its possible media types."""
    description: str = "a file"
    """What the file is."""


Answer = type[Response] | File | tuple[type[Response], File]
"""A successful answer: JSON (a model), a file, or either (JSON or an export)."""


@dataclass(frozen=True)
class Operation:
    """What one view reads and answers, for the document."""

    responses: dict[int, Answer]
    """The successful answers by status."""
    body: type[Request] | None = None
    """The JSON request body."""
    form: type[Form] | None = None
    """The ``multipart/form-data`` request body (instead of, or beside, ``body``)."""
    query: type[Request] | None = None
    """The query string's parameters."""
    errors: tuple[int, ...] = ()
    """Error statuses beyond :data:`ERRORS` (413 is added for forms)."""
    description: str | None = None
    """A longer explanation (the view's docstring gives the summary)."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = field(default_factory=list)
    """Every model the operation names, with its JSON Schema mode (filled in)."""


V = TypeVar("V", bound=Callable[..., Any])


def operation(
    *,
    responses: dict[int, Answer],
    body: type[Request] | None = None,
    form: type[Form] | None = None,
    query: type[Request] | None = None,
    errors: Iterable[int] = (),
    description: str | None = None,
) -> Callable[[V], V]:
    """Record on a view the schemas it reads and answers (for :func:`openapi_document`).

    :param responses: each successful status and its model (or :class:`File`).
    :param body: the JSON body's model. :param form: the multipart body's model.
    :param query: the query string's model. (A view marked :func:`workflow.http.public`
        is documented as needing no bearer token.)
    :param errors: error statuses beyond the usual ones.
    """
    # Query and form models are flat: the document inlines them, only bodies are components.
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = (
        [(body, "validation")] if body is not None else []
    )
    for answer in responses.values():
        parts = answer if isinstance(answer, tuple) else (answer,)
        models += [(m, "serialization") for m in parts if not isinstance(m, File)]
    op = Operation(
        responses=responses,
        body=body,
        form=form,
        query=query,
        errors=tuple(errors),
        description=description,
        models=models,
    )

    def mark(view: V) -> V:
        setattr(view, ATTRIBUTE, op)
        return view

    return mark


class _NoAutoTitles(GenerateJsonSchema):
    """Pydantic's generator, without the titles it makes up from field names (an explicit
    ``title``, the Vietnamese name of a field, stays)."""

    def field_title_should_be_set(self, schema: CoreSchema | Any) -> bool:
        return False


_RULE_ARG = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def api_rules(app: Flask) -> list[tuple[str, str, str]]:
    """:returns: every ``(rule, method, endpoint)`` the app serves under ``/api/v1``."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((rule.rule, method, rule.endpoint))
    return sorted(out)


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """:returns: the OpenAPI path of a Flask rule (without the prefix) and its parameters."""
    params = []
    for match in _RULE_ARG.finditer(rule):
        kind = {"int": "integer", "float": "number"}.get(match["converter"] or "", "string")
        schema: dict[str, Any] = {"type": kind}
        if kind == "integer":  # workflow.edge.IdConverter: ASCII digits, the database's range
            schema.update(minimum=0, maximum=MAX_ID)
        params.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule)[len(PREFIX) :], params


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: not given is how a query says null."""
    options = schema.get("anyOf")
    if options:
        rest = [o for o in options if o != {"type": "null"}]
        if len(rest) == 1:
            schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
    return {k: v for k, v in schema.items() if k != "default" or v is not None}


def _query_parameters(model: type[Request]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(
        schema_generator=_NoAutoTitles, ref_template="#/components/schemas/{model}"
    )
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(prop)
        description = prop.pop("description", None)
        param: dict[str, Any] = {"name": name, "in": "query", "schema": prop}
        if description:
            param["description"] = description
        if name in required:
            param["required"] = True
        params.append(param)
    return params


def _form_schema(model: type[Form]) -> dict[str, Any]:
    """A multipart body: the model's text fields and its files, inline (flat, as forms are)."""
    schema = model.model_json_schema(schema_generator=_NoAutoTitles)
    files = {
        name: {"type": "string", "format": "binary", "contentMediaType": media}
        for name, media in model.files.items()
    }
    out: dict[str, Any] = {
        "type": "object",
        "properties": {**files, **schema.get("properties", {})},
    }
    if "description" in schema:
        out["description"] = schema["description"]
    required = sorted(files) + list(schema.get("required", ()))
    if required:
        out["required"] = required
    return out


def _summary(view: Callable[..., Any]) -> tuple[str, str | None]:
    doc = " ".join((view.__doc__ or "").split())
    first, _, rest = doc.partition(". ")
    return (first.rstrip(".") or view.__name__), (rest or None)


def _response(answer: Answer, refs: dict[Any, Any]) -> dict[str, Any]:
    descriptions: list[str] = []
    content: dict[str, Any] = {}
    for part in answer if isinstance(answer, tuple) else (answer,):
        if isinstance(part, File):
            descriptions.append(part.description)
            content.update({media: {} for media in part.media_types})
        else:
            descriptions.append(" ".join((part.__doc__ or part.__name__).split()))
            content["application/json"] = {"schema": refs[(part, "serialization")]}
    return {"description": "; ".join(descriptions), "content": content}


def _operation(
    app: Flask, rule: str, method: str, endpoint: str, refs: dict[Any, Any]
) -> dict[str, Any]:
    view = app.view_functions[endpoint]
    op: Operation | None = getattr(view, ATTRIBUTE, None)
    if op is None:
        raise LookupError(
            f"{method} {rule} ({endpoint}) has no schema: decorate the view with "
            "workflow.schemas.openapi.operation(...)"
        )
    summary, more = _summary(view)
    path, params = _path(rule)
    if op.query is not None:
        params += _query_parameters(op.query)
    out: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": summary,
        "tags": [view.__module__.split(".")[1]],
    }
    if op.description or more:
        out["description"] = op.description or more
    if params:
        out["parameters"] = params
    content: dict[str, Any] = {}
    if op.body is not None:
        content["application/json"] = {"schema": refs[(op.body, "validation")]}
    if op.form is not None:
        content["multipart/form-data"] = {"schema": _form_schema(op.form)}
    if content:
        required = op.form is not None or any(
            f.is_required() for f in (op.body.model_fields.values() if op.body else ())
        )
        out["requestBody"] = {"required": required, "content": content}
    responses = {str(status): _response(m, refs) for status, m in op.responses.items()}
    errors = set(ERRORS) | set(op.errors) | ({413} if op.form is not None else set())
    responses.update({str(status): _PROBLEM for status in sorted(errors)})
    out["responses"] = responses
    if getattr(view, "trinhky_public", False):
        out["security"] = []
    return out


def openapi_document(app: Flask) -> dict[str, Any]:
    """:returns: the OpenAPI 3.1 document of every route ``app`` serves under ``/api/v1``.

    :raises LookupError: a route whose view has no :func:`operation`.
    """
    rules = api_rules(app)
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
    for _rule, _method, endpoint in rules:
        op = getattr(app.view_functions[endpoint], ATTRIBUTE, None)
        for key in op.models if op is not None else ():
            models[key] = None
    refs, defs = models_json_schema(
        list(models),
        schema_generator=_NoAutoTitles,
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, endpoint in rules:
        path, _params = _path(rule)
        paths.setdefault(path, {})[method.lower()] = _operation(app, rule, method, endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TrinhKy API",
            "version": "1.0.0",
            "description": "Document workflow and PAdES signatures for the Party committee "
            "bloc. Send `Authorization: Bearer <token>` from `POST /auth/token`. Errors are "
            "`application/problem+json` (RFC 9457) with a Vietnamese `detail` that says what "
            "to do; a request body that does not fit its schema is a 422 naming the field.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem (Vietnamese detail)",
                    "content": {
                        "application/problem+json": {"schema": refs[(Problem, "serialization")]}
                    },
                }
            },
            "schemas": defs.get("$defs", {}),
        },
    }
