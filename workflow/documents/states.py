"""workflow: the pure state machine of a document on its route."""

from __future__ import annotations

import enum


class DocState(enum.StrEnum):
    """Where a document stands."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    AWAITING_SIGNATURE = "awaiting_signature"
    AWAITING_ISSUE = "awaiting_issue"
    APPROVED = "approved"
    SIGNED = "signed"
    ISSUED = "issued"
    RETURNED = "returned"
    REJECTED = "rejected"
    RECALLED = "recalled"
    # An incoming document (văn bản đến) after receipt: a leader assigns it, a unit handles it.
    AWAITING_ASSIGNMENT = "awaiting_assignment"
    IN_HANDLING = "in_handling"
    HANDLED = "handled"


class StageAction(enum.StrEnum):
    """What a stage asks of its assignees."""

    REVIEW = "review"
    APPROVE = "approve"
    CONSULT = "consult"
    SIGN = "sign"
    ISSUE = "issue"
    # Incoming documents: the clerk receives, a leader assigns, the assigned unit handles.
    RECEIVE = "receive"
    ASSIGN = "assign"
    HANDLE = "handle"


class Event(enum.StrEnum):
    """What happens to a document."""

    SUBMIT = "submit"
    APPROVE = "approve"
    SIGN = "sign"
    ISSUE = "issue"
    RETURN = "return"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    RECALL = "recall"
    ASSIGN = "assign"
    HANDLE = "handle"


class TaskState(enum.StrEnum):
    """Life of one task."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class InvalidTransitionError(Exception):
    """The event is not allowed in the current state."""

    def __init__(self, state: DocState, event: Event) -> None:
        super().__init__(f"{event} is not allowed in state {state}")
        self.state = state
        self.event = event


# The state a document is in while a stage of this action is current.
STAGE_STATE: dict[StageAction, DocState] = {
    StageAction.REVIEW: DocState.IN_REVIEW,
    StageAction.APPROVE: DocState.IN_REVIEW,
    StageAction.CONSULT: DocState.IN_REVIEW,
    StageAction.SIGN: DocState.AWAITING_SIGNATURE,
    StageAction.ISSUE: DocState.AWAITING_ISSUE,
    # A receipt stage is done when the document is created (it never waits).
    StageAction.RECEIVE: DocState.AWAITING_ASSIGNMENT,
    StageAction.ASSIGN: DocState.AWAITING_ASSIGNMENT,
    StageAction.HANDLE: DocState.IN_HANDLING,
}

# Which event completes a stage of which action.
EVENT_FOR_STAGE: dict[StageAction, Event] = {
    StageAction.REVIEW: Event.APPROVE,
    StageAction.APPROVE: Event.APPROVE,
    StageAction.CONSULT: Event.APPROVE,
    StageAction.SIGN: Event.SIGN,
    StageAction.ISSUE: Event.ISSUE,
    StageAction.RECEIVE: Event.SUBMIT,
    StageAction.ASSIGN: Event.ASSIGN,
    StageAction.HANDLE: Event.HANDLE,
}

_ON_ROUTE = frozenset({Event.RETURN, Event.REJECT, Event.WITHDRAW})

# Allowed events per state; the target is computed by next_state().
ALLOWED: dict[DocState, frozenset[Event]] = {
    DocState.DRAFT: frozenset({Event.SUBMIT}),
    DocState.RETURNED: frozenset({Event.SUBMIT}),
    DocState.IN_REVIEW: frozenset({Event.APPROVE}) | _ON_ROUTE,
    DocState.AWAITING_SIGNATURE: frozenset({Event.SIGN}) | _ON_ROUTE,
    DocState.AWAITING_ISSUE: frozenset({Event.ISSUE, Event.RETURN, Event.REJECT}),
    DocState.APPROVED: frozenset(),
    DocState.SIGNED: frozenset(),
    DocState.ISSUED: frozenset({Event.RECALL}),
    DocState.REJECTED: frozenset(),
    DocState.RECALLED: frozenset(),
    # Incoming documents are neither returned to a drafter nor rejected on their route.
    DocState.AWAITING_ASSIGNMENT: frozenset({Event.ASSIGN}),
    DocState.IN_HANDLING: frozenset({Event.HANDLE}),
    DocState.HANDLED: frozenset(),
}

TERMINAL = frozenset(
    {DocState.APPROVED, DocState.SIGNED, DocState.REJECTED, DocState.RECALLED, DocState.HANDLED}
)

_FIXED_TARGET: dict[Event, DocState] = {
    Event.RETURN: DocState.RETURNED,
    Event.REJECT: DocState.REJECTED,
    Event.WITHDRAW: DocState.DRAFT,
    Event.RECALL: DocState.RECALLED,
}


def next_state(
    state: DocState,
    event: Event,
    *,
    next_stage: StageAction | None,
    signed: bool = False,
) -> DocState:
    """Decide the state after ``event``.

    :param state: the current state.
    :param event: what happened.
    :param next_stage: the action of the stage that becomes current after a submit,
        approval, signature or issuance, or ``None`` when the route ends there.
    :param signed: whether the document carries a signature made on its route.
    :returns: the new state.
    :raises InvalidTransitionError: the event is not allowed in ``state``, or a submit
        onto an empty route.
    """
    if event not in ALLOWED[state]:
        raise InvalidTransitionError(state, event)
    if event in _FIXED_TARGET:
        return _FIXED_TARGET[event]
    if next_stage is not None:
        return STAGE_STATE[next_stage]
    if event is Event.SUBMIT:
        raise InvalidTransitionError(state, event)
    if event is Event.ISSUE:
        return DocState.ISSUED
    if event in (Event.ASSIGN, Event.HANDLE):
        return DocState.HANDLED
    return DocState.SIGNED if (signed or event is Event.SIGN) else DocState.APPROVED


def event_for(stage: StageAction) -> Event:
    """:returns: the event that completes a stage of ``stage``'s action."""
    return EVENT_FOR_STAGE[stage]
