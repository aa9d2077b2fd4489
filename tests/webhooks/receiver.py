"""A local HTTP receiver for webhook tests: it records every request and answers from a
script (a status, or a stall longer than the sender's time-out), like the services it
stands in for (a Zalo OA, a Facebook Page, another committee's server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: Any  # an email.message.Message: names are case-insensitive
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Where requests land; ``script`` answers them in turn (then 200 for ever):
    an int is a status, ``"stall"`` sleeps past the sender's time-out."""

    base: str = ""
    requests: list[Received] = field(default_factory=list)
    script: list[int | str] = field(default_factory=list)
    stall_seconds: float = 3.0
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """Serve a :class:`Receiver` on a free loopback port until the block ends."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            answer = state.script.pop(0) if state.script else 200
            state.requests.append(Received(self.path, self.headers, body))
            state.arrived.set()
            if answer == "stall":
                time.sleep(state.stall_seconds)
                answer = 200
            self.send_response(int(answer))
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
