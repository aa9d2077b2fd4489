"""Authentication that cannot be turned against users: throttling by source and by
account from a source (never a lock-out), the same answer for unknown and known
usernames, sessions and API tokens that end on logout and password reset, a new session
at login, and each user's own list of API tokens."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from storage.models import ApiToken, AuditEvent, LoginThrottle
from tests.conftest import DEMO_PASSWORD, app_config, closed
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services

ATTACKER = "127.0.0.1"
OWNER = "127.0.0.2"


def client_from(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from ``address`` (the WSGI ``REMOTE_ADDR``)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def csrf_token(client: FlaskClient, path: str) -> str:
    html = closed(client.get(path)).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def web_login(client: FlaskClient, username: str, password: str = DEMO_PASSWORD) -> Any:
    token = csrf_token(client, "/login")
    return closed(
        client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
    )


def token_request(client: FlaskClient, username: str, password: str, **kw: Any) -> Any:
    return closed(
        client.post("/api/v1/auth/token", json={"username": username, "password": password}, **kw)
    )


def audit_actions(services: Services, action: str) -> list[AuditEvent]:
    with services.session_factory() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


@pytest.mark.both_databases
@pytest.mark.usefixtures("clock")
def test_fifty_wrong_passwords_from_one_source_leave_the_owner_free(
    app: Flask, services: Services
) -> None:
    attacker = client_from(app, ATTACKER)
    statuses = [token_request(attacker, "bithu", "sai-mat-khau").status_code for _ in range(50)]
    # Five free tries, then waits of 1 s, 2 s, 4 s...: a 429 for a try before its time
    # (the clock ticks, so a try or two may land after a wait: one more 401 each).
    assert statuses[:6] == [401] * 5 + [429] and set(statuses) == {401, 429}, statuses
    assert statuses.count(429) >= 40, statuses
    still_blocked = token_request(attacker, "bithu", DEMO_PASSWORD)
    assert still_blocked.status_code == 429 and int(still_blocked.headers["Retry-After"]) >= 1
    # The owner, from their own machine: at once, by API and on the web.
    owner = client_from(app, OWNER)
    assert token_request(owner, "bithu", DEMO_PASSWORD).status_code == 200
    page = web_login(client_from(app, OWNER), "bithu")
    assert page.status_code == 302 and page.headers["Location"] == "/"
    failed = audit_actions(services, "auth:login_failed")
    assert len(failed) == 51
    assert {e.details["source"] for e in failed} == {ATTACKER}


@pytest.mark.usefixtures("clock")
def test_a_source_spraying_many_usernames_is_held_back(app: Flask) -> None:
    settings = app.extensions[EXTENSION_KEY].settings
    sprayer = client_from(app, ATTACKER)
    answers = [
        token_request(sprayer, f"nguoi{i}", "123456").status_code
        for i in range(settings.login_source_max_failures + 1)
    ]
    assert answers[:-1] == [401] * settings.login_source_max_failures
    assert answers[-1] == 429  # a new username, but the source has had its share
    assert token_request(client_from(app, OWNER), "vanthu", DEMO_PASSWORD).status_code == 200


@pytest.mark.both_databases
def test_the_wait_grows_and_passes(app: Flask, clock: Any) -> None:
    client = client_from(app, ATTACKER)
    for _ in range(5):
        assert token_request(client, "vanthu", "sai").status_code == 401
    waits = []
    for _ in range(3):
        throttled = token_request(client, "vanthu", DEMO_PASSWORD)
        assert throttled.status_code == 429
        waits.append(int(throttled.headers["Retry-After"]))
        clock.shift(timedelta(seconds=waits[-1] + 1))
        assert token_request(client, "vanthu", "sai").status_code == 401
    assert waits == [1, 2, 4]
    clock.shift(timedelta(seconds=10))
    assert token_request(client, "vanthu", DEMO_PASSWORD).status_code == 200


def test_quiet_counts_are_forgotten(app: Flask, services: Services, clock: Any) -> None:
    for i in range(3):
        token_request(client_from(app, f"10.1.0.{i}"), f"ai-do-{i}", "sai")
    with services.session_factory() as session:
        assert len(session.scalars(select(LoginThrottle)).all()) == 6  # 3 accounts, 3 sources
    clock.shift(timedelta(hours=1))
    assert token_request(client_from(app, OWNER), "vanthu", DEMO_PASSWORD).status_code == 200
    with services.session_factory() as session:
        assert session.scalars(select(LoginThrottle)).all() == []


@pytest.mark.usefixtures("clock")
def test_unknown_and_known_usernames_get_the_same_answers(app: Flask) -> None:
    def answers(username: str, address: str) -> tuple[list[tuple[int, Any]], float]:
        client = client_from(app, address)
        seen, times = [], []
        for _ in range(8):
            start = time.perf_counter()
            response = token_request(client, username, "sai-mat-khau")
            times.append(time.perf_counter() - start)
            body = response.get_json()
            seen.append((response.status_code, body, response.headers.get("Retry-After")))
        return seen, min(times[:5])  # the tries that verify a password

    known, known_time = answers("bithu", "127.0.0.11")
    unknown, unknown_time = answers("khong-co-ai", "127.0.0.12")
    assert known == unknown
    assert [status for status, *_ in known] == [401] * 5 + [429] * 3
    # The same work (one argon2 verification) either way: the same order of magnitude.
    assert 0.2 < known_time / unknown_time < 5, (known_time, unknown_time)
    web_known = web_login(client_from(app, "127.0.0.13"), "bithu", "sai")
    web_unknown = web_login(client_from(app, "127.0.0.14"), "khong-co-ai", "sai")
    assert web_known.status_code == web_unknown.status_code == 401
    flash = re.compile(r"<div class=\"flash[^>]*>(.*?)</div>", re.S)
    assert flash.findall(web_known.get_data(as_text=True)) == flash.findall(
        web_unknown.get_data(as_text=True)
    )


@pytest.mark.usefixtures("clock")
def test_forwarded_for_is_believed_only_behind_a_trusted_proxy(
    app: Flask, instance: Path, database_url: str
) -> None:
    # No trusted proxy (the default): the header is the client's own claim, ignored.
    client = client_from(app, ATTACKER)
    for i in range(6):
        token_request(client, "vanthu", "sai", headers={"X-Forwarded-For": f"10.0.0.{i}"})
    assert token_request(client, "vanthu", DEMO_PASSWORD).status_code == 429
    # Behind one trusted proxy: the address it saw (the rightmost entry) is the source.
    proxied = create_app(app_config(instance, DATABASE_URL=database_url, TRUSTED_PROXY_HOPS=1))
    try:
        via_proxy = client_from(proxied, "10.9.9.9")
        for _ in range(6):
            token_request(
                via_proxy, "chanhvp", "sai", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
            )
        blocked = token_request(
            via_proxy, "chanhvp", DEMO_PASSWORD, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert blocked.status_code == 429
        other = token_request(
            via_proxy, "chanhvp", DEMO_PASSWORD, headers={"X-Forwarded-For": "198.51.100.2"}
        )
        assert other.status_code == 200
    finally:
        proxied.extensions[EXTENSION_KEY].engine.dispose()


def test_login_starts_a_new_session(app: Flask) -> None:
    client = client_from(app, OWNER)
    anonymous_token = csrf_token(client, "/login")
    before = client.get_cookie("trinhky_session")
    assert before is not None
    assert web_login(client, "chuyenvien").status_code == 302
    after = client.get_cookie("trinhky_session")
    assert after is not None and after.value != before.value
    # The form token of the anonymous session is gone with it.
    logout = closed(client.post("/logout", data={"csrf_token": anonymous_token}))
    assert logout.status_code == 400


def test_logout_ends_every_copy_of_the_session_and_the_tokens(
    app: Flask, services: Services
) -> None:
    client = client_from(app, OWNER)
    api_token = token_request(client, "chuyenvien", DEMO_PASSWORD).get_json()["token"]
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert web_login(client, "chuyenvien").status_code == 302
    stolen = client.get_cookie("trinhky_session")
    assert stolen is not None
    assert closed(client.get("/")).status_code == 200
    token = csrf_token(client, "/")
    assert closed(client.post("/logout", data={"csrf_token": token})).status_code == 302
    # Someone who copied the cookie before the logout.
    thief = client_from(app, ATTACKER)
    thief.set_cookie("trinhky_session", stolen.value)
    answer = closed(thief.get("/"))
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert closed(thief.get("/api/v1/me", headers=bearer)).status_code == 401
    (logout,) = audit_actions(services, "auth:logout")
    assert logout.details == {"tokens_revoked": 1}


def test_password_reset_ends_sessions_and_tokens(app: Flask, services: Services) -> None:
    user_client = client_from(app, OWNER)
    assert web_login(user_client, "truongban").status_code == 302
    api_token = token_request(user_client, "truongban", DEMO_PASSWORD).get_json()["token"]
    admin = client_from(app, "127.0.0.3")
    assert web_login(admin, "admin").status_code == 302
    with services.session_factory() as session:
        from tests.factories import user

        user_id = user(session, "truongban").id
    path = f"/admin/users/{user_id}"
    reset = closed(
        admin.post(
            path,
            data={
                "op": "reset",
                "password": "Mat-khau-moi-2026",
                "csrf_token": csrf_token(admin, path),
            },
        )
    )
    assert reset.status_code in (200, 302), reset.get_data(as_text=True)
    assert "/login" in closed(user_client.get("/")).headers.get("Location", "")
    me = closed(user_client.get("/api/v1/me", headers={"Authorization": f"Bearer {api_token}"}))
    assert me.status_code == 401
    assert token_request(user_client, "truongban", "Mat-khau-moi-2026").status_code == 200


def test_users_list_and_revoke_their_own_tokens(app: Flask, services: Services) -> None:
    client = client_from(app, OWNER)
    first = token_request(client, "vanthu", DEMO_PASSWORD).get_json()["token"]
    second = token_request(client, "vanthu", DEMO_PASSWORD).get_json()["token"]
    other = token_request(client, "kiemtra", DEMO_PASSWORD).get_json()["token"]

    def call(method: str, path: str, token: str) -> Any:
        return closed(
            client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
        )

    listed = call("GET", "/api/v1/me/tokens", first).get_json()["tokens"]
    assert [t["current"] for t in listed] == [False, True]  # newest first
    second_id, first_id = (t["id"] for t in listed)
    # Someone else's token: the same answer as no such token.
    assert call("POST", f"/api/v1/me/tokens/{first_id}/revoke", other).status_code == 404
    assert call("POST", "/api/v1/me/tokens/999999/revoke", other).status_code == 404
    revoked = call("POST", f"/api/v1/me/tokens/{second_id}/revoke", first)
    assert revoked.status_code == 200 and revoked.get_json()["id"] == second_id
    assert call("GET", "/api/v1/me", second).status_code == 401
    assert call("GET", "/api/v1/me", first).status_code == 200

    # The page: the same list, a revoke button with its CSRF token.
    assert web_login(client, "vanthu").status_code == 302
    page = closed(client.get("/account/tokens"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Mã truy cập API" in html and f"/account/tokens/{first_id}/revoke" in html
    assert f"/account/tokens/{second_id}/revoke" not in html
    no_csrf = closed(client.post(f"/account/tokens/{first_id}/revoke"))
    assert no_csrf.status_code == 400
    assert call("GET", "/api/v1/me", first).status_code == 200
    done = closed(
        client.post(
            f"/account/tokens/{first_id}/revoke",
            data={"csrf_token": csrf_token(client, "/account/tokens")},
        )
    )
    assert done.status_code == 302
    assert call("GET", "/api/v1/me", first).status_code == 401
    with services.session_factory() as session:
        row = session.get(ApiToken, first_id)
        assert row is not None and row.revoked_at is not None
    events = audit_actions(services, "auth:token_revoked")
    assert [(e.object_id, e.details["via"]) for e in events] == [
        (str(second_id), "api"),
        (str(first_id), "web"),
    ]
