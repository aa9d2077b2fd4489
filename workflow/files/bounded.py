"""workflow: run an outside tool (pdftotext, LibreOffice, ocrmypdf) in a child process
bounded in time and address space, in a session of its own (killed whole on timeout)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


class ToolError(Exception):
    """The tool failed, timed out or is missing (the message is for people)."""


@dataclass(frozen=True)
class Limits:
    """How far a child process may go."""

    seconds: float
    """Wall-clock time before the process group is killed."""
    memory_bytes: int
    """RLIMIT_AS of the child (virtual memory)."""


def _limiter(memory_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run(
    argv: Sequence[str], limits: Limits, *, cwd: Path | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """:returns: the finished process (any exit code).

    :raises ToolError: not installed, or over the time limit (the whole group is killed).
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if home is not None:
        env["HOME"] = str(home)
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_limiter(limits.memory_bytes),  # noqa: PLW1509 - rlimits only
        )
    except FileNotFoundError as exc:
        raise ToolError(f"Chưa cài đặt {argv[0]} trên máy chủ.") from exc
    try:
        out, err = proc.communicate(timeout=limits.seconds)
    except subprocess.TimeoutExpired as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ToolError(f"{Path(argv[0]).name} chạy quá {limits.seconds:.0f} giây.") from exc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group (soffice.bin)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
