"""What pyHanko logs while the verifier works: kept off the terminal, summarised on the
check it belongs to, and written in full (tracebacks included) to ``--log FILE``.

pyHanko reports the steps it cannot take (a long-term validation without proof of
existence, a missing revocation record) through :mod:`logging`, with tracebacks. With no
handler configured, Python prints them on stderr, between the verifier's own lines, where
an auditor cannot tell them from a failure. The verifier's verdicts are its OK / FAIL /
WARN lines; these notes only explain them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LIBRARY_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
"""The loggers of the validation library."""
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTEXT = re.compile(r"\[cert context: [^\]]*\]")
"""pyHanko's certificate context (the whole subject) in front of a message."""
_SUBJECT = re.compile(
    r"(Common Name: [^,]+)(?:, (?:Title|Organizational Unit|Organization|Country|Locality|"
    r"State/Province|Serial Number|Email Address): [^,]+)+"
)
"""A certificate subject written out in full: its common name is enough here."""


class _Collector(logging.Handler):
    """Keeps the records of one check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def configure(log_file: Path | None) -> None:
    """Route the library's log records to ``log_file`` (full detail) or nowhere, never to
    the terminal. Call once, before any check."""
    target: logging.Handler = logging.NullHandler()
    if log_file is not None:
        target = logging.FileHandler(log_file, encoding="utf-8")
        target.setFormatter(logging.Formatter(_FORMAT))
    for name in (*LIBRARY_LOGGERS, "trinhky_verify"):
        logger = logging.getLogger(name)
        logger.propagate = False
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.DEBUG if log_file else logging.WARNING)
        logger.addHandler(target)


@contextmanager
def collected() -> Iterator[list[str]]:
    """Collect, during the ``with`` block, one line per distinct warning or error the
    library logs (its message and the exception's type, no traceback)."""
    collector = _Collector()
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    for logger in loggers:
        logger.addHandler(collector)
    notes: list[str] = []
    try:
        yield notes
    finally:
        for logger in loggers:
            logger.removeHandler(collector)
        seen: set[str] = set()
        for record in collector.records:
            if record.levelno < logging.WARNING:
                continue
            text = _CONTEXT.sub("", " ".join(record.getMessage().split())).strip(" :")
            text = re.sub(r"\s+:", ":", _SUBJECT.sub(r"\1", text))
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__})"
            if text not in seen:
                seen.add(text)
                notes.append(text)
