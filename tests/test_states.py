"""The pure state machine of a document on its route."""

from __future__ import annotations

import pytest

from workflow.documents.states import (
    ALLOWED,
    DocState,
    Event,
    InvalidTransitionError,
    StageAction,
    next_state,
)


def test_submit_enters_the_first_stage() -> None:
    assert (
        next_state(DocState.DRAFT, Event.SUBMIT, next_stage=StageAction.APPROVE)
        is DocState.IN_REVIEW
    )
    assert (
        next_state(DocState.DRAFT, Event.SUBMIT, next_stage=StageAction.SIGN)
        is DocState.AWAITING_SIGNATURE
    )
    assert (
        next_state(DocState.RETURNED, Event.SUBMIT, next_stage=StageAction.APPROVE)
        is DocState.IN_REVIEW
    )


def test_submit_onto_an_empty_route_is_refused() -> None:
    with pytest.raises(InvalidTransitionError):
        next_state(DocState.DRAFT, Event.SUBMIT, next_stage=None)


def test_approval_moves_on_or_ends_approved() -> None:
    assert (
        next_state(DocState.IN_REVIEW, Event.APPROVE, next_stage=StageAction.SIGN)
        is DocState.AWAITING_SIGNATURE
    )
    assert (
        next_state(DocState.IN_REVIEW, Event.APPROVE, next_stage=StageAction.APPROVE)
        is DocState.IN_REVIEW
    )
    assert next_state(DocState.IN_REVIEW, Event.APPROVE, next_stage=None) is DocState.APPROVED
    assert (
        next_state(DocState.IN_REVIEW, Event.APPROVE, next_stage=None, signed=True)
        is DocState.SIGNED
    )


def test_signature_ends_signed() -> None:
    assert next_state(DocState.AWAITING_SIGNATURE, Event.SIGN, next_stage=None) is DocState.SIGNED


@pytest.mark.parametrize(
    "state", [DocState.IN_REVIEW, DocState.AWAITING_SIGNATURE, DocState.AWAITING_ISSUE]
)
def test_return_and_reject(state: DocState) -> None:
    assert next_state(state, Event.RETURN, next_stage=None) is DocState.RETURNED
    assert next_state(state, Event.REJECT, next_stage=None) is DocState.REJECTED


@pytest.mark.parametrize("state", list(DocState))
@pytest.mark.parametrize("event", list(Event))
def test_every_disallowed_pair_raises(state: DocState, event: Event) -> None:
    if event in ALLOWED[state]:
        return
    with pytest.raises(InvalidTransitionError):
        next_state(state, event, next_stage=StageAction.APPROVE)


def test_signing_while_in_review_is_refused() -> None:
    with pytest.raises(InvalidTransitionError):
        next_state(DocState.IN_REVIEW, Event.SIGN, next_stage=None)


def test_terminal_states_accept_nothing() -> None:
    for state in (DocState.SIGNED, DocState.REJECTED, DocState.APPROVED, DocState.RECALLED):
        assert ALLOWED[state] == frozenset()


def test_issue_stage_and_recall() -> None:
    assert (
        next_state(DocState.AWAITING_SIGNATURE, Event.SIGN, next_stage=StageAction.ISSUE)
        is DocState.AWAITING_ISSUE
    )
    assert next_state(DocState.AWAITING_ISSUE, Event.ISSUE, next_stage=None) is DocState.ISSUED
    assert next_state(DocState.ISSUED, Event.RECALL, next_stage=None) is DocState.RECALLED
    with pytest.raises(InvalidTransitionError):
        next_state(DocState.SIGNED, Event.RECALL, next_stage=None)


def test_withdraw_before_anyone_acted_goes_back_to_draft() -> None:
    assert next_state(DocState.IN_REVIEW, Event.WITHDRAW, next_stage=None) is DocState.DRAFT
    with pytest.raises(InvalidTransitionError):
        next_state(DocState.AWAITING_ISSUE, Event.WITHDRAW, next_stage=None)


@pytest.mark.parametrize("action", [StageAction.REVIEW, StageAction.CONSULT, StageAction.APPROVE])
def test_review_like_stages_are_in_review(action: StageAction) -> None:
    assert next_state(DocState.DRAFT, Event.SUBMIT, next_stage=action) is DocState.IN_REVIEW
