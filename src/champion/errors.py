"""One exception hierarchy for champion.

Five categories say whose problem an error is; the gateway maps each to one HTTP status in
one table (``champion.serve.errors``), and the command line turns every one into a message
and exit code 2::

    ChampionError
    ├── InvalidInput (the caller's input is wrong: HTTP 422)
    │   ├── InvalidArgument (also a ValueError: a value outside its range)
    │   ├── SpecError (an experiment spec failed validation; lists every problem)
    │   ├── InvalidFeatures (also a PredictionError and a ValueError: features that do not
    │   │   fit the model)
    │   ├── OutcomeFileError (also a ValueError: an outcome file was refused whole)
    │   └── MetricSqlError (also a ValueError: a warehouse-native metric's SQL was refused)
    ├── NotAllowed (the operator's configuration forbids it: HTTP 403)
    │   └── ModelNotAllowed (a spec from the API names a model kind or module not allowed)
    ├── NotFound (also a LookupError: HTTP 404)
    │   ├── ExperimentNotFound (no experiment by that name; lists what exists)
    │   └── NoExposures (the experiment has no counted exposure in the store)
    ├── Conflict (the request fights the current state: HTTP 409)
    │   ├── ExperimentExists (create was asked for a name the registry already holds)
    │   ├── StaleVersion (a write expected a version the experiment has moved past)
    │   ├── InvalidTransition (the action is not allowed from the current state)
    │   └── StageHeldTooBriefly (a decision would leave a stage before min_stage_hours)
    ├── Unavailable (a store or an experiment cannot be used now; retry later: HTTP 503)
    │   ├── RegistryUnavailable (the registry's database cannot be opened or reached)
    │   ├── ExperimentUnavailable (the experiment failed to load; the others serve)
    │   ├── EventSinkUnavailable (the event store cannot be written now; spilled, retried)
    │   ├── JournalUnavailable (the local event journal cannot make an event durable)
    │   ├── EventWriterClosed (also a RuntimeError: logged after the writer closed)
    │   └── EventStoreUnavailable (the analysis cannot read the events)
    ├── UpstreamError (a model or service behind champion failed: HTTP 502)
    │   └── PredictionError (a loaded model failed to answer one request)
    │       └── UpstreamTimeout (it did not answer in time: HTTP 504)
    ├── ModelLoadError (a model cannot be loaded or fails its check call at start-up)
    │   └── ModelsFailedToLoad (an experiment's models: every one that failed, at once)
    └── ConfigError (the operator's settings are invalid: the gateway refuses to start)

Each class has a ``code``: the machine-readable name the gateway puts in its error body.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ChampionError",
    "ConfigError",
    "Conflict",
    "EventSinkUnavailable",
    "EventStoreUnavailable",
    "EventWriterClosed",
    "ExperimentExists",
    "ExperimentNotFound",
    "ExperimentUnavailable",
    "InvalidArgument",
    "InvalidFeatures",
    "InvalidInput",
    "InvalidTransition",
    "JournalUnavailable",
    "MetricSqlError",
    "ModelLoadError",
    "ModelNotAllowed",
    "ModelsFailedToLoad",
    "NoExposures",
    "NotAllowed",
    "NotFound",
    "OutcomeFileError",
    "PredictionError",
    "RegistryUnavailable",
    "SpecError",
    "StageHeldTooBriefly",
    "StaleVersion",
    "Unavailable",
    "UpstreamError",
    "UpstreamTimeout",
]


class ChampionError(Exception):
    """Base of every error champion raises on purpose."""

    code: ClassVar[str] = "internal_error"


# -- categories: whose problem it is (the gateway maps each to one status) ----------------


class InvalidInput(ChampionError):
    """The caller's input is wrong; fixing the input fixes the call."""

    code = "invalid_request"


class NotAllowed(ChampionError):
    """The operator's configuration forbids this, whoever asks."""

    code = "not_allowed"


class NotFound(ChampionError, LookupError):
    """The thing asked for does not exist."""

    code = "not_found"


class Conflict(ChampionError):
    """The request is valid but fights the current state: re-read and decide again."""

    code = "conflict"


class Unavailable(ChampionError):
    """A store or an experiment cannot be used right now; the same call may work later."""

    code = "unavailable"


class UpstreamError(ChampionError):
    """A model or a service behind champion failed to answer."""

    code = "upstream_error"


# -- the caller's input -------------------------------------------------------------------


class InvalidArgument(InvalidInput, ValueError):
    """A caller's argument is outside its allowed range; the message names it and the range."""

    code = "invalid_argument"

    def __init__(self, name: str, value: object, rule: str) -> None:
        self.name = name
        self.value = value
        self.rule = rule
        super().__init__(f"{name}={value!r} is invalid: {rule}")


class SpecError(InvalidInput):
    """A spec (or one block of it) is invalid; ``problems`` lists each one with its field."""

    code = "invalid_spec"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class ModelNotAllowed(NotAllowed):
    """A spec that came through the API names a model this gateway does not let it load.

    ``field`` is the spec path (``models.NAME.target``); the message names the rule and
    how the operator allows it.
    """

    code = "model_not_allowed"

    def __init__(self, model: str, field: str, problem: str) -> None:
        self.model = model
        self.field = field
        self.problem = problem
        super().__init__(f"model {model!r} is not allowed here: {problem}")


class ConfigError(ChampionError):
    """The operator's settings are invalid; the message names the setting and the fix."""

    code = "config_error"

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        self.problem = problem
        self.fix = fix
        super().__init__(f"{setting} {problem}; {fix}")


# -- what does not exist ------------------------------------------------------------------


class ExperimentNotFound(NotFound):
    """No experiment has this name; the message lists the first few that exist."""

    code = "experiment_not_found"

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


# -- the current state --------------------------------------------------------------------


class ExperimentExists(Conflict):
    """An experiment with this name is already registered; names are never reused."""

    code = "experiment_exists"

    def __init__(self, name: str, state: str, version: int) -> None:
        self.name = name
        self.state = state
        self.version = version
        super().__init__(
            f"experiment {name!r} already exists (state {state}, version {version}); "
            "give the new spec another name"
        )


class StaleVersion(Conflict):
    """A write was based on a version someone else has since changed: re-read and retry."""

    code = "stale_version"

    def __init__(self, name: str, expected: int, current: int) -> None:
        self.name = name
        self.expected = expected
        self.current = current
        super().__init__(
            f"experiment {name!r} changed: the write expected version {expected} but it is "
            f"at version {current}; re-read and retry"
        )


class InvalidTransition(Conflict):
    """The lifecycle forbids this action from the current state; names the allowed steps."""

    code = "invalid_transition"

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


class StageHeldTooBriefly(Conflict):
    """Applying a decision would leave the current rollout stage before the spec's
    ``rollout.min_stage_hours``; forcing it needs a reason."""

    code = "stage_held_too_briefly"

    def __init__(self, name: str, move: str, held_hours: float, min_stage_hours: float) -> None:
        self.name = name
        self.move = move
        self.held_hours = held_hours
        self.min_stage_hours = min_stage_hours
        wait = min_stage_hours - held_hours
        super().__init__(
            f"{move}: refused, the current stage of {name!r} has been served {held_hours:.1f} h "
            f"and the spec holds each stage {min_stage_hours:g} h (rollout.min_stage_hours); "
            f"apply again in {wait:.1f} h, or now with --force --reason 'why' (in the admin API: "
            '"force": true and a "reason")'
        )


# -- stores and experiments that cannot be used now ---------------------------------------


class RegistryUnavailable(Unavailable):
    """The registry database cannot be opened; the message shows the URL (no password)."""

    code = "registry_unavailable"

    def __init__(self, url: str, problem: str, fix: str) -> None:
        self.url = url
        self.problem = problem
        self.fix = fix
        super().__init__(f"registry {url} is unavailable: {problem}; {fix}")


class ExperimentUnavailable(Unavailable):
    """The experiment is registered but this gateway could not load it; the others serve."""

    code = "experiment_unavailable"

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(
            f"experiment {name!r} cannot be served here: {problem}; fix it and register a new "
            "experiment, or archive it (champion experiment archive NAME --reason ...)"
        )


class EventSinkUnavailable(Unavailable):
    """The event store refused a write (disk, permissions, database down); names the fix."""

    code = "events_unavailable"

    def __init__(self, target: str, problem: str, fix: str) -> None:
        self.target = target
        self.problem = problem
        self.fix = fix
        super().__init__(f"event store {target} is unavailable: {problem}; {fix}")


class JournalUnavailable(Unavailable):
    """The local journal could not make an event durable, so the event was not acknowledged."""

    code = "events_unavailable"

    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"event journal {path} cannot take the event: {problem}; {fix}")


class EventWriterClosed(Unavailable, RuntimeError):
    """An event was logged after ``close()``: the writer no longer accepts events."""

    code = "events_unavailable"

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(
            f"the event writer for {target} is closed; open a new writer to log more events"
        )


class OutcomeFileError(InvalidInput, ValueError):
    """An outcome file was refused whole; ``problems`` names each column (and rows) at fault."""

    code = "invalid_outcomes"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{source}: refused, nothing was loaded ({len(problems)} problem(s))\n{lines}"
        )


# -- models -------------------------------------------------------------------------------


class ModelLoadError(ChampionError):
    """A model cannot be served: raised at start-up, never at the first request."""

    code = "model_load_error"

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


class PredictionError(UpstreamError):
    """A loaded model failed to answer a request; the message names the model and the cause."""

    code = "model_error"

    def __init__(self, model: str, problem: str) -> None:
        self.model = model
        self.problem = problem
        super().__init__(f"model {model!r} failed to predict: {problem}")


class UpstreamTimeout(PredictionError):
    """A model (or the service behind it) did not answer within its timeout."""

    code = "model_timeout"


class InvalidFeatures(InvalidInput, PredictionError, ValueError):
    """The request's features do not fit the model (a feature is missing or not a number)."""

    code = "invalid_features"


# -- the analysis -------------------------------------------------------------------------


class EventStoreUnavailable(Unavailable):
    """The analysis cannot read the event store; the target is shown without its password."""

    code = "event_store_unavailable"

    def __init__(self, target: str, problem: str, fix: str) -> None:
        self.target = target
        self.problem = problem
        self.fix = fix
        super().__init__(f"event store {target} cannot be read: {problem}; {fix}")


class NoExposures(NotFound):
    """The experiment has no counted exposure in the store; lists experiments that have some."""

    code = "no_exposures"

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


class MetricSqlError(InvalidInput, ValueError):
    """A metric's ``sql`` was refused or failed in the database; names the metric and the fix."""

    code = "invalid_metric_sql"

    def __init__(self, metric: str, problem: str, fix: str) -> None:
        self.metric = metric
        self.problem = problem
        self.fix = fix
        super().__init__(f"metric {metric!r}: sql {problem}; {fix}")
