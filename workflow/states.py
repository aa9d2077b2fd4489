"""workflow: the pure state machine of a document on its route."""

from __future__ import annotations

import enum


class DocState(enum.StrEnum):
    """Where a document stands."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    AWAITING_SIGNATURE = "awaiting_signature"
    APPROVED = "approved"
    SIGNED = "signed"
    RETURNED = "returned"
    REJECTED = "rejected"


class StageAction(enum.StrEnum):
    """What a stage asks of its assignees."""

    APPROVE = "approve"
    SIGN = "sign"


class Event(enum.StrEnum):
    """What happens to a document."""

    SUBMIT = "submit"
    APPROVE = "approve"
    SIGN = "sign"
    RETURN = "return"
    REJECT = "reject"


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
    StageAction.APPROVE: DocState.IN_REVIEW,
    StageAction.SIGN: DocState.AWAITING_SIGNATURE,
}

# Which event completes a stage of which action.
EVENT_FOR_STAGE: dict[StageAction, Event] = {
    StageAction.APPROVE: Event.APPROVE,
    StageAction.SIGN: Event.SIGN,
}

# Allowed events per state; the target is computed by next_state().
ALLOWED: dict[DocState, frozenset[Event]] = {
    DocState.DRAFT: frozenset({Event.SUBMIT}),
    DocState.RETURNED: frozenset({Event.SUBMIT}),
    DocState.IN_REVIEW: frozenset({Event.APPROVE, Event.RETURN, Event.REJECT}),
    DocState.AWAITING_SIGNATURE: frozenset({Event.SIGN, Event.RETURN, Event.REJECT}),
    DocState.APPROVED: frozenset(),
    DocState.SIGNED: frozenset(),
    DocState.REJECTED: frozenset(),
}

TERMINAL = frozenset({DocState.APPROVED, DocState.SIGNED, DocState.REJECTED})


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
        approval or signature, or ``None`` when the route ends there.
    :param signed: whether the document carries a signature made on its route.
    :returns: the new state.
    :raises InvalidTransitionError: the event is not allowed in ``state``, or a submit
        onto an empty route.
    """
    if event not in ALLOWED[state]:
        raise InvalidTransitionError(state, event)
    if event is Event.RETURN:
        return DocState.RETURNED
    if event is Event.REJECT:
        return DocState.REJECTED
    if next_stage is not None:
        return STAGE_STATE[next_stage]
    if event is Event.SUBMIT:
        raise InvalidTransitionError(state, event)
    return DocState.SIGNED if (signed or event is Event.SIGN) else DocState.APPROVED


def event_for(stage: StageAction) -> Event:
    """:returns: the event that completes a stage of ``stage``'s action."""
    return EVENT_FOR_STAGE[stage]
