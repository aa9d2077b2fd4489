"""gunicorn: how TrinhKy is served (``make run``, the tests' servers, the benchmarks).

The one place for the serving settings. ``make run`` passes only the address and the
number of workers (``--bind``, ``--workers``); everything else is here.

Why these settings (issue #12, "two slow clients take the server down"): the sync
worker serves one connection at a time per process, so two clients trickling a request
byte by byte held both workers for the full 120 s timeout. Here:

- ``gthread`` workers with :data:`threads` threads each: a connection takes a thread
  only once it has bytes to read (gunicorn's poller holds idle ones), and a slow client
  holds one thread, not a process;
- :class:`GuardedThreadWorker` cuts a client that sends nothing for
  :data:`CLIENT_IDLE_SECONDS`, or that, after :data:`CLIENT_GRACE_SECONDS` spent
  waiting for it, has sent less than :data:`CLIENT_MIN_BYTES_PER_SECOND` on average
  (headers trickled, a body never finished): to the application it looks like a client
  that went away (a 400, never a 500), and its thread is free again within seconds;
- request line and header sizes are bounded, and the body by the application
  (``MAX_UPLOAD_BYTES``).

So the embedded default stands on its own against a few slow or hostile clients: it
would take ``workers × threads`` of them, each renewed every
``CLIENT_GRACE_SECONDS``, to fill it. In production put nginx in front
(``deploy/nginx/trinhky.conf``): it buffers whole requests before they reach gunicorn.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

threads = int(os.environ.get("TRINHKY_THREADS", "16"))
"""Threads per worker: concurrent requests a process serves (one CPU-bound at a time)."""
timeout = 120
"""The worker's heartbeat (the main thread of a gthread worker keeps beating)."""
graceful_timeout = 30
keepalive = 5
worker_connections = 1000
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"

CLIENT_IDLE_SECONDS = 10.0
"""A client that sends nothing for this long (within a request) is cut."""
CLIENT_GRACE_SECONDS = 5.0
"""Time spent waiting on a client before its average rate is checked."""
CLIENT_MIN_BYTES_PER_SECOND = 512
"""The slowest average a client may send at once past the grace time (a 16 MB upload
at this rate would take 9 hours: only a deliberately slow client is cut)."""


class _GuardedSocket:
    """A client socket whose reads give up (as end of stream) on a slow client."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._waited = 0.0
        self._received = 0
        self.cut = False

    def start_request(self) -> None:
        """Measure the next request afresh (keep-alive connections)."""
        self._waited = 0.0
        self._received = 0

    def setblocking(self, flag: bool) -> None:
        # Blocking reads wait at most the idle time (gunicorn sets blocking per request).
        self._sock.settimeout(CLIENT_IDLE_SECONDS if flag else 0.0)

    def recv(self, size: int, *flags: int) -> bytes:
        if self.cut:
            return b""
        started = time.monotonic()
        try:
            data = self._sock.recv(size, *flags)
        except TimeoutError:
            return self._cut()
        self._waited += time.monotonic() - started
        self._received += len(data)
        if (
            self._waited > CLIENT_GRACE_SECONDS
            and self._received < self._waited * CLIENT_MIN_BYTES_PER_SECOND
        ):
            return self._cut()
        return data

    def _cut(self) -> bytes:
        self.cut = True
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        return b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class GuardedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, whose client sockets cut slow clients (see above)."""

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, _GuardedSocket):
            conn.sock = _GuardedSocket(conn.sock)
        conn.sock.start_request()
        return super().handle(conn)


worker_class = GuardedThreadWorker


def post_worker_init(worker: Any) -> None:
    """Serve one health check inside the fresh worker before it takes connections: the
    first request of a worker pays for the lazy set-up (mappers, templates, the first
    connection: about a second), and a user should not."""
    test_client = getattr(worker.wsgi, "test_client", None)
    if test_client is not None:
        test_client().get("/healthz")
    worker.log.info("Worker ready (pid: %s)", worker.pid)
