"""Experiment states and the actions that move between them.

One table (``ACTIONS``) is the whole lifecycle: each action names the states it may start
from and the state it leads to. Terminal states accept no action, so a finished experiment
is never revived; a new attempt is a new experiment with its own history::

    draft ──► shadow ──► running ──► stopped | completed | rolled_back
      │                    ▲ │  ╰─ ramp: running ──► running
      ╰────────────────────╯ ╰─ pause ──► paused ──► resume: running
    draft and shadow may also be stopped; paused may also be stopped, rolled back,
    completed or promoted (completed with everything to the challenger)

``paused`` serves the allocation it had: a paused rollout holds its stage and nobody (the
monitor included) ramps it until it is resumed.

``archived`` is outside the lifecycle: ``Registry.archive`` takes an experiment in any other
state (a broken one included: it never parses the spec) out of service for good. Gateways
stop serving it and no longer load it at start-up; its row and history stay.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from champion.errors import InvalidTransition

__all__ = [
    "ACTIONS",
    "TERMINAL",
    "TRANSITIONS",
    "Action",
    "State",
    "allowed_actions",
    "check_action",
]


class State(StrEnum):
    DRAFT = "draft"
    SHADOW = "shadow"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    ARCHIVED = "archived"


class Action(NamedTuple):
    sources: tuple[State, ...]
    target: State
    help: str


_LIVE = (State.RUNNING, State.PAUSED)

ACTIONS: dict[str, Action] = {
    "create": Action((), State.DRAFT, "register a spec"),
    "shadow": Action((State.DRAFT,), State.SHADOW, "mirror traffic to the challengers"),
    "start": Action((State.DRAFT, State.SHADOW), State.RUNNING, "serve the spec's allocation"),
    "ramp": Action((State.RUNNING,), State.RUNNING, "change one challenger's share"),
    "reweight": Action((State.RUNNING,), State.RUNNING, "publish a bandit's new weights"),
    "pause": Action((State.RUNNING,), State.PAUSED, "hold the rollout at its stage"),
    "resume": Action((State.PAUSED,), State.RUNNING, "let the rollout move again"),
    "stop": Action(
        (State.DRAFT, State.SHADOW, *_LIVE), State.STOPPED, "end it; champion serves all"
    ),
    "complete": Action(_LIVE, State.COMPLETED, "end it keeping the allocation"),
    "promote": Action(_LIVE, State.COMPLETED, "end it; the challenger serves all"),
    "rollback": Action(_LIVE, State.ROLLED_BACK, "end it; champion serves all"),
}

TERMINAL = frozenset({State.STOPPED, State.COMPLETED, State.ROLLED_BACK})

TRANSITIONS: dict[State, frozenset[State]] = {
    state: frozenset(a.target for a in ACTIONS.values() if state in a.sources) for state in State
}


def allowed_actions(state: State | str) -> list[str]:
    """The actions a person can take from ``state``, in lifecycle order (``reweight`` is left
    out: only a bandit's update makes it)."""
    state = State(state)
    return [n for n, a in ACTIONS.items() if state in a.sources and n != "reweight"]


def check_action(name: str, state: State | str, action: str) -> State:
    """The state ``action`` leads to from ``state``; InvalidTransition names what is allowed."""
    state = State(state)
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    if state not in ACTIONS[action].sources:
        allowed = [f"{a} (-> {ACTIONS[a].target})" for a in allowed_actions(state)]
        raise InvalidTransition(name, state.value, action, allowed)
    return ACTIONS[action].target
