"""One printed result of the offline verifier."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One printed result."""

    status: str
    """``OK``, ``FAIL``, ``WARN`` or ``INFO``."""
    check: str
    """What was checked (``manifest``, ``signatures``, ``ledger``, ``audit``...)."""
    message: str

    def render(self) -> str:
        return f"[{self.status:^4}] {self.check}: {self.message}"
