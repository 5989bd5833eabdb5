"""The registry: the control plane that holds each experiment's state, allocation and history.

SQLite file by default (``champion.db``, or $CHAMPION_DB), PostgreSQL by URL. Writers use
optimistic concurrency (``expected_version``); readers poll ``global_version()`` and load
``snapshot()`` or ``poll_changes()`` only when it moves.
"""

from champion.errors import (
    ExperimentExists,
    ExperimentNotFound,
    InvalidTransition,
    RegistryUnavailable,
    StaleVersion,
)
from champion.registry.allocation import AllocationCheck, layout_check, no_layout_check
from champion.registry.connection import DEFAULT_URL, ENV_VAR, redact, resolve_url
from champion.registry.lifecycle import (
    ACTIONS,
    TERMINAL,
    TRANSITIONS,
    State,
    allowed_actions,
    check_action,
)
from champion.registry.looks import DECISIONS
from champion.registry.records import AuditEntry, Changes, ExperimentState, LookRecord, Snapshot
from champion.registry.store import Registry, default_actor

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "DEFAULT_URL",
    "ENV_VAR",
    "TERMINAL",
    "TRANSITIONS",
    "AllocationCheck",
    "AuditEntry",
    "Changes",
    "ExperimentExists",
    "ExperimentNotFound",
    "ExperimentState",
    "InvalidTransition",
    "LookRecord",
    "Registry",
    "RegistryUnavailable",
    "Snapshot",
    "StaleVersion",
    "State",
    "allowed_actions",
    "check_action",
    "default_actor",
    "layout_check",
    "no_layout_check",
    "redact",
    "resolve_url",
]
