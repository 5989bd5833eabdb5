"""One exception hierarchy for champion.

    ChampionError
    ├── InvalidArgument (also a ValueError: a caller passed a value outside its range)
    ├── SpecError (an experiment spec failed validation; lists every problem)
    ├── ExperimentNotFound (also a LookupError: no experiment by that name; lists what exists)
    ├── ExperimentExists (create was asked for a name the registry already holds)
    ├── StaleVersion (a write expected a version the experiment has moved past)
    ├── InvalidTransition (the action is not allowed from the experiment's current state)
    ├── RegistryUnavailable (the registry's database cannot be opened or reached)
    ├── ModelLoadError (a model cannot be loaded or fails its check call at start-up)
    │   └── ModelsFailedToLoad (an experiment's models: every one that failed, at once)
    ├── PredictionError (a loaded model failed to answer one request: upstream down, timeout)
    │   └── InvalidFeatures (also a ValueError: the request's features do not fit the model)
    ├── EventSinkUnavailable (the event store cannot be written now; the writer spills and retries)
    ├── JournalUnavailable (the local event journal cannot make an event durable)
    ├── EventWriterClosed (also a RuntimeError: an event was logged after the writer closed)
    ├── OutcomeFileError (also a ValueError: an outcome file was refused whole; lists problems)
    ├── EventStoreUnavailable (the analysis cannot read the events: folder, URL, tables)
    ├── NoExposures (also a LookupError: the experiment has no counted exposure in the store)
    └── MetricSqlError (also a ValueError: a warehouse-native metric's SQL was refused or failed)

Later layers add their own leaves here (``ExperimentNotFound``, ``StaleVersion`` ...).
"""

from __future__ import annotations

__all__ = [
    "ChampionError",
    "EventSinkUnavailable",
    "EventStoreUnavailable",
    "EventWriterClosed",
    "ExperimentExists",
    "ExperimentNotFound",
    "InvalidArgument",
    "InvalidFeatures",
    "InvalidTransition",
    "JournalUnavailable",
    "MetricSqlError",
    "ModelLoadError",
    "ModelsFailedToLoad",
    "NoExposures",
    "OutcomeFileError",
    "PredictionError",
    "RegistryUnavailable",
    "SpecError",
    "StaleVersion",
]


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


class ExperimentNotFound(ChampionError, LookupError):
    """No experiment has this name; the message lists the first few that exist."""

    def __init__(self, name: str, existing: list[str], total: int | None = None) -> None:
        self.name = name
        self.existing = existing
        total = len(existing) if total is None else total
        if total == 0:
            known = "the registry holds no experiments yet"
        else:
            more = f" and {total - len(existing)} more" if total > len(existing) else ""
            known = f"existing: {', '.join(existing)}{more}"
        super().__init__(
            f"no experiment named {name!r} ({known}); check the name or create it "
            "with `champion experiment create -f FILE`"
        )


class ExperimentExists(ChampionError):
    """An experiment with this name is already registered; names are never reused."""

    def __init__(self, name: str, state: str, version: int) -> None:
        self.name = name
        self.state = state
        self.version = version
        super().__init__(
            f"experiment {name!r} already exists (state {state}, version {version}); "
            "give the new spec another name"
        )


class StaleVersion(ChampionError):
    """A write was based on a version someone else has since changed: re-read and retry."""

    def __init__(self, name: str, expected: int, current: int) -> None:
        self.name = name
        self.expected = expected
        self.current = current
        super().__init__(
            f"experiment {name!r} changed: the write expected version {expected} but it is "
            f"at version {current}; re-read and retry"
        )


class InvalidTransition(ChampionError):
    """The lifecycle forbids this action from the current state; names the allowed steps."""

    def __init__(self, name: str, state: str, action: str, allowed: list[str]) -> None:
        self.name = name
        self.state = state
        self.action = action
        self.allowed = allowed
        if allowed:
            steps = f"allowed next: {', '.join(allowed)}"
        else:
            steps = f"{state} is final: create a new experiment to try again"
        super().__init__(f"experiment {name!r} is {state}: cannot {action} it; {steps}")


class RegistryUnavailable(ChampionError):
    """The registry database cannot be opened; the message shows the URL (no password)."""

    def __init__(self, url: str, problem: str, fix: str) -> None:
        self.url = url
        self.problem = problem
        self.fix = fix
        super().__init__(f"registry {url} is unavailable: {problem}; {fix}")


class EventSinkUnavailable(ChampionError):
    """The event store refused a write (disk, permissions, database down); names the fix."""

    def __init__(self, target: str, problem: str, fix: str) -> None:
        self.target = target
        self.problem = problem
        self.fix = fix
        super().__init__(f"event store {target} is unavailable: {problem}; {fix}")


class JournalUnavailable(ChampionError):
    """The local journal could not make an event durable, so the event was not acknowledged."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"event journal {path} cannot take the event: {problem}; {fix}")


class EventWriterClosed(ChampionError, RuntimeError):
    """An event was logged after ``close()``: the writer no longer accepts events."""

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(
            f"the event writer for {target} is closed; open a new writer to log more events"
        )


class OutcomeFileError(ChampionError, ValueError):
    """An outcome file was refused whole; ``problems`` names each column (and rows) at fault."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{source}: refused, nothing was loaded ({len(problems)} problem(s))\n{lines}"
        )


class ModelLoadError(ChampionError):
    """A model cannot be served: raised at start-up, never at the first request."""

    def __init__(self, model: str, problem: str) -> None:
        self.model = model
        self.problem = problem
        super().__init__(f"model {model!r} failed to load: {problem}")


class ModelsFailedToLoad(ModelLoadError):
    """Some of an experiment's models failed to load; ``errors`` holds one per model."""

    def __init__(self, errors: list[ModelLoadError]) -> None:
        self.errors = errors
        self.model = ", ".join(e.model for e in errors)
        self.problem = "; ".join(e.problem for e in errors)
        lines = "\n".join(f"  - {e.model}: {e.problem}" for e in errors)
        ChampionError.__init__(self, f"{len(errors)} model(s) failed to load\n{lines}")


class PredictionError(ChampionError):
    """A loaded model failed to answer a request; the message names the model and the cause."""

    def __init__(self, model: str, problem: str) -> None:
        self.model = model
        self.problem = problem
        super().__init__(f"model {model!r} failed to predict: {problem}")


class InvalidFeatures(PredictionError, ValueError):
    """The request's features do not fit the model (a feature is missing or not a number)."""


class EventStoreUnavailable(ChampionError):
    """The analysis cannot read the event store; the target is shown without its password."""

    def __init__(self, target: str, problem: str, fix: str) -> None:
        self.target = target
        self.problem = problem
        self.fix = fix
        super().__init__(f"event store {target} cannot be read: {problem}; {fix}")


class NoExposures(ChampionError, LookupError):
    """The experiment has no counted exposure in the store; lists experiments that have some."""

    def __init__(self, experiment: str, target: str, known: list[str]) -> None:
        self.experiment = experiment
        self.target = target
        self.known = known
        seen = (
            f"experiments with exposures there: {', '.join(known)}"
            if known
            else ("it holds no exposures at all")
        )
        super().__init__(
            f"no exposures for experiment {experiment!r} in {target} ({seen}); check the name "
            "and that the gateway serving it logs events to this store"
        )


class MetricSqlError(ChampionError, ValueError):
    """A metric's ``sql`` was refused or failed in the database; names the metric and the fix."""

    def __init__(self, metric: str, problem: str, fix: str) -> None:
        self.metric = metric
        self.problem = problem
        self.fix = fix
        super().__init__(f"metric {metric!r}: sql {problem}; {fix}")
