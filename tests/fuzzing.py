"""Property-based fuzzing of the JSON API over its own OpenAPI document (schemathesis):
every operation of ``/api/v1/openapi.json`` gets generated requests, valid and invalid
(positive and negative modes), sent through the WSGI app as a real user (bearer token);
an answer of 5xx, or an error that is not ``application/problem+json``, is a finding.

Used by ``tests/test_api_fuzz.py`` (a small deterministic budget in ``make test``) and
``bench/api_fuzz.py`` (a large campaign, ``TRINHKY_FUZZ_EXAMPLES``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

PROBLEM = "application/problem+json"


@dataclass
class FuzzResult:
    """What one campaign sent and found."""

    requests: int = 0
    """Requests sent."""
    statuses: Counter[int] = field(default_factory=Counter)
    """Answers by status."""
    by_operation: Counter[tuple[str, int]] = field(default_factory=Counter)
    """Answers by operation and status."""
    findings: list[str] = field(default_factory=list)
    """Each 5xx or non-problem error: method, path, status, what was sent."""

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _token(app: Flask, username: str, password: str) -> str:
    response = app.test_client().post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.get_json()["token"]
    return token


def fuzz_api(
    app: Flask,
    username: str,
    password: str,
    *,
    examples: int,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    skip: tuple[str, ...] = (),
) -> FuzzResult:
    """Fuzz every operation of the app's OpenAPI document, ``examples`` cases per
    operation and mode, derandomized (the same cases on every run).

    :param skip: labels (``"POST /auth/logout"``) not to send (they end the session).
    """
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # The caller is authenticated (a real user's token): invalid inputs, not missing auth.
    schema.config.generation.update(with_security_parameters=False)
    result = FuzzResult()
    auth = {"token": _token(app, username, password)}
    for outcome in schema.get_all_operations():
        assert isinstance(outcome, Ok), outcome
        operation = outcome.ok()
        if operation.label in skip:
            continue
        for mode in modes:
            _fuzz_operation(app, operation, mode, examples, auth, username, password, result)
    return result


def _fuzz_operation(
    app: Flask,
    operation: Any,
    mode: GenerationMode,
    examples: int,
    auth: dict[str, str],
    username: str,
    password: str,
    result: FuzzResult,
) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {auth['token']}"})
        result.requests += 1
        result.statuses[response.status_code] += 1
        result.by_operation[(operation.label, response.status_code)] += 1
        media = (response.headers.get("content-type") or [""])[0].split(";")[0]
        if response.status_code >= 500 or (response.status_code >= 400 and media != PROBLEM):
            result.findings.append(
                f"{operation.label} [{mode}] -> {response.status_code} {media}: "
                f"path={case.path_parameters} query={case.query} body={case.body!r:.300}"
            )
        if response.status_code == 401 and operation.label != "POST /auth/token":
            auth["token"] = _token(app, username, password)  # the case revoked it

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
        pass
