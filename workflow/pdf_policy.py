"""workflow: what an uploaded PDF may be (the limits of :mod:`signing.limits` and the
active-content policy), for the request being served. The edge
(:func:`workflow.edge.check_request`) sets it from the settings before every request, so
the upload check of every package (:func:`workflow.documents.usecases.check_pdf`) applies
the configured limits without each use-case carrying the settings; outside a request (the
command line) the defaults apply."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from signing.limits import PdfLimits


@dataclass(frozen=True)
class UploadPolicy:
    """The bounds and the active-content rule of uploads."""

    limits: PdfLimits = field(default_factory=PdfLimits)
    """Pages, objects, nesting, decompressed size, time."""
    refuse_active_content: bool = False
    """Refuse files with JavaScript, XFA, launch actions, embedded files (else: warn)."""


_DEFAULT = UploadPolicy()
_POLICY: ContextVar[UploadPolicy | None] = ContextVar("trinhky_upload_policy", default=None)


def current_policy() -> UploadPolicy:
    """:returns: the policy of the request being served (the defaults outside one)."""
    return _POLICY.get() or _DEFAULT


def use_policy(policy: UploadPolicy) -> None:
    """Apply ``policy`` to the uploads of the current request (or command)."""
    _POLICY.set(policy)
