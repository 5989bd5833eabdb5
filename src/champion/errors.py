"""One exception hierarchy for champion.

    ChampionError
    ├── InvalidArgument (also a ValueError: a caller passed a value outside its range)
    └── SpecError (an experiment spec failed validation; lists every problem)

Later layers add their own leaves here (``ExperimentNotFound``, ``StaleVersion`` ...).
"""

from __future__ import annotations

__all__ = ["ChampionError", "InvalidArgument", "SpecError"]


class ChampionError(Exception):
    """Base of every error champion raises on purpose."""


class InvalidArgument(ChampionError, ValueError):
    """A caller's argument is outside its allowed range; the message names it and the range."""

    def __init__(self, name: str, value: object, rule: str) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        super().__init__(f"{name}={value!r} is invalid: {rule}")


class SpecError(ChampionError):
    """A spec (or one block of it) is invalid; ``problems`` lists each one with its field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")
