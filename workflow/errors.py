"""workflow: the domain errors that views map to HTTP statuses."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class: ``message`` is for the person who acted, in the request's language
    (Vietnamese by default; a page translates a Vietnamese text it has in its catalogue)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInputError(WorkflowError):
    """The request's content cannot be accepted (a bad PDF, a missing field)."""

    status = 422
    code = "invalid_input"


class NotFoundError(WorkflowError):
    """No such object, or the actor is not party to it (indistinguishable on purpose)."""

    status = 404
    code = "not_found"


class ForbiddenError(WorkflowError):
    """The actor may see the object but may not perform this action."""

    status = 403
    code = "forbidden"


class ConflictError(WorkflowError):
    """The action does not fit the current state (already acted, a concurrent change)."""

    status = 409
    code = "conflict"


class AuthenticationError(WorkflowError):
    """Wrong credentials, or a locked account."""

    status = 401
    code = "unauthenticated"


class LockedError(WorkflowError):
    """Too many failed attempts: try again later."""

    status = 429
    code = "locked"


class TooLargeError(WorkflowError):
    """The upload exceeds the configured limit."""

    status = 413
    code = "too_large"
