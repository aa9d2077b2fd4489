"""Lock-out is not a weapon, over real HTTP: gunicorn (as `make run` serves, the session's
server) sees two real source addresses on the loopback network (127.0.0.3 guessing,
127.0.0.4 the owner); after 50 wrong passwords from one, the owner logs in from the
other at once."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import DEMO_PASSWORD
from tests.servers import Served

ATTACKER = "127.0.0.3"
OWNER = "127.0.0.4"


def token_from(server: Served, source: str, username: str, password: str) -> tuple[int, Any]:
    """``POST /api/v1/auth/token`` over a TCP connection bound to ``source``."""
    address = urlsplit(server.base)
    connection = http.client.HTTPConnection(
        address.hostname or "127.0.0.1", address.port, timeout=30, source_address=(source, 0)
    )
    try:
        body = json.dumps({"username": username, "password": password})
        connection.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_fifty_wrong_passwords_from_one_address_leave_the_owner_free(server: Served) -> None:
    statuses = [token_from(server, ATTACKER, "chanhvp", "doan-mo")[0] for _ in range(50)]
    assert statuses[:5] == [401] * 5 and statuses.count(429) >= 40, statuses
    status, _body = token_from(server, ATTACKER, "chanhvp", DEMO_PASSWORD)
    assert status == 429  # the guessing address waits, even with the right password
    status, body = token_from(server, OWNER, "chanhvp", DEMO_PASSWORD)
    assert status == 200 and body["token_type"] == "Bearer"
