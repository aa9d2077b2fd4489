"""The OpenAPI description covers every /api/v1 endpoint the app serves."""

from __future__ import annotations

import re

from flask import Flask

from tests.conftest import closed


def test_every_api_route_is_described(app: Flask) -> None:
    spec = closed(app.test_client().get("/api/v1/openapi.json")).get_json()
    assert spec["openapi"] == "3.1.0"
    described = {
        (re.sub(r"\{[^}]+\}", "{}", path), method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        shape = re.sub(r"<[^>]+>", "{}", rule.rule[len("/api/v1") :])
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (shape, method) in described, (rule.rule, method)
    for path in ("/documents", "/tasks/{id}/sign", "/tasks/{task_id}/issue", "/coverage"):
        assert path in spec["paths"], path
