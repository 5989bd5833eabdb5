"""The lifecycle table: what each state allows, checked against a table written out by hand."""

import pytest

from champion.errors import InvalidTransition
from champion.registry.lifecycle import (
    ACTIONS,
    TERMINAL,
    TRANSITIONS,
    State,
    allowed_actions,
    check_action,
)

# Oracle: the lifecycle as the project's issue states it, written independently of ACTIONS.
EXPECTED = {
    ("draft", "shadow"): "shadow",
    ("draft", "start"): "running",
    ("draft", "stop"): "stopped",
    ("shadow", "start"): "running",
    ("shadow", "stop"): "stopped",
    ("running", "ramp"): "running",
    ("running", "stop"): "stopped",
    ("running", "complete"): "completed",
    ("running", "rollback"): "rolled_back",
    ("running", "pause"): "paused",
    ("running", "promote"): "completed",
    ("paused", "resume"): "running",
    ("paused", "stop"): "stopped",
    ("paused", "complete"): "completed",
    ("paused", "promote"): "completed",
    ("paused", "rollback"): "rolled_back",
}
WRITES = ["shadow", "start", "ramp", "pause", "resume", "stop", "complete", "promote", "rollback"]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", WRITES)
def test_each_state_and_action_is_allowed_exactly_as_specified(state, action):
    expected = EXPECTED.get((state.value, action))
    if expected is None:
        with pytest.raises(InvalidTransition, match=f"is {state.value}: cannot {action} it"):
            check_action("exp", state, action)
    else:
        assert check_action("exp", state, action) == State(expected)


def test_terminal_states_accept_nothing_and_say_so():
    assert {State.STOPPED, State.COMPLETED, State.ROLLED_BACK} == TERMINAL
    for state in TERMINAL:
        assert allowed_actions(state) == []
        assert TRANSITIONS[state] == frozenset()
        with pytest.raises(InvalidTransition, match=f"{state.value} is final: create a new"):
            check_action("exp", state, "start")


def test_refusal_names_the_current_state_and_the_allowed_next_steps():
    with pytest.raises(InvalidTransition) as info:
        check_action("fraud", "draft", "ramp")
    assert str(info.value) == (
        "experiment 'fraud' is draft: cannot ramp it; allowed next: shadow (-> shadow), "
        "start (-> running), stop (-> stopped)"
    )
    assert info.value.state == "draft"
    assert info.value.allowed == ["shadow (-> shadow)", "start (-> running)", "stop (-> stopped)"]


def test_transitions_graph_matches_the_action_table():
    graph = {s: {EXPECTED[k] for k in EXPECTED if k[0] == s.value} for s in State}
    assert {s: {t.value for t in targets} for s, targets in TRANSITIONS.items()} == graph


def test_create_leads_to_draft_from_nowhere():
    assert ACTIONS["create"].target == State.DRAFT
    assert ACTIONS["create"].sources == ()


def test_unknown_action_is_refused_with_the_list():
    with pytest.raises(ValueError, match="unknown action 'launch'; actions: create, shadow"):
        check_action("exp", "draft", "launch")
