"""The in-process Router: assign, call the variant's model, answer, shadow, and log.

Usable inside a user's own service without HTTP; the gateway is a thin shell around it.
It keeps every experiment's plan (runtime and loaded models) in memory and, when built on a
registry, a background thread polls the registry's global version and swaps in new plans
when it moves. An experiment that fails to load is ``unavailable`` on its own; the others
keep serving.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

from champion.assign import Assignment
from champion.errors import ExperimentNotFound, ExperimentUnavailable, PredictionError
from champion.events import EventWriter, Exposure, Shadow, encode_prediction
from champion.events.schema import BANDIT_HOLDOUT_ATTRIBUTE, utc_now
from champion.models import ModelAdapter, load_model
from champion.serve.runtime import Runtime, ShadowTarget, build_runtime
from champion.serve.shadow import ShadowOutcome, ShadowRunner
from champion.serve.sources import StateSource

__all__ = ["Routed", "Router", "RouterObserver"]

log = logging.getLogger("champion.router")

_ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class Routed:
    """The answer to one request, and how it was reached.

    ``prediction_json`` is the prediction as JSON text (what the exposure logs), so the
    gateway writes its answer without serialising the prediction again.
    """

    prediction: Any
    variant: str
    model: str
    request_id: str
    unit_id: str
    exposed: bool
    reason: str
    latency_ms: float
    error: str | None = None
    prediction_json: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "prediction": self.prediction,
            "variant": self.variant,
            "model": self.model,
            "request_id": self.request_id,
        }

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact JSON bytes (the gateway's predict answer)."""
        text = self.prediction_json
        if text is None:
            text = json.dumps(self.prediction, separators=(",", ":"), allow_nan=False)
        return (
            f'{{"prediction":{text},"variant":{_json_text(self.variant)},'
            f'"model":{_json_text(self.model)},"request_id":{_json_text(self.request_id)}}}'
        ).encode()


class RouterObserver:
    """Hooks for metrics; the gateway's Prometheus collector implements them."""

    def served(self, experiment: str, variant: str, latency_ms: float, error: bool) -> None: ...

    def shadowed(
        self, experiment: str, model: str, latency_ms: float, error: str | None,
        divergence: float | None,
    ) -> None: ...  # fmt: skip

    def shadow_dropped(self, experiment: str, model: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _Plan:
    """One experiment as served now: its runtime and the models it can route to."""

    runtime: Runtime
    models: Mapping[str, ModelAdapter]
    shadows: tuple[tuple[ShadowTarget, ModelAdapter], ...]
    segments: tuple[str, ...] | None


@dataclass(slots=True)
class _Call:
    """One request in flight: what was decided and which model answers."""

    plan: _Plan
    assignment: Assignment
    request_id: str
    unit: str
    attributes: Mapping[str, Any] | None
    model: str
    start: float
    ts: datetime
    error: str | None = None
    served_score: float | None = None


@dataclass(frozen=True, slots=True)
class _ShadowContext:
    experiment: str
    unit_id: str
    request_id: str
    served_score: float | None
    ts: datetime


class Router:
    """Routes requests for every experiment a :class:`StateSource` provides.

    ``clock`` stamps the events: the wall clock by default; a simulation or a backfill
    passes its own so exposures land on the days they describe. ``shadow_concurrency``
    bounds the shadow calls waiting per shadow model (past it they are dropped and counted).
    """

    def __init__(
        self,
        source: StateSource,
        *,
        events: EventWriter | None = None,
        models_dir: str | Path = ".",
        models: Mapping[str, ModelAdapter] | None = None,
        poll_interval: float = 0.5,
        shadow_concurrency: int = 64,
        observer: RouterObserver | None = None,
        fallback_to_champion: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._source = source
        self._clock = clock
        self._events = events
        self._models_dir = Path(models_dir)
        self._given_models = dict(models or {})
        self._models: dict[tuple[str, str], ModelAdapter] = {}
        self.observer = observer or RouterObserver()
        self._fallback = fallback_to_champion
        self._plans: dict[str, _Plan] = {}
        self._unavailable: dict[str, str] = {}
        self._shadows = ShadowRunner(self._shadow_done, max_queue=shadow_concurrency)
        self._random = random.Random()
        self._ids = count()
        self._id_prefix = os.urandom(8).hex()
        self._stop = threading.Event()
        self._version = -1
        self._version_at: datetime | None = None  # when this process took that version
        self._refresh_lock = threading.Lock()
        # Spec files are the operator's own: a broken one stops the start. A registry may
        # hold a broken experiment: it is unavailable, and the others serve.
        self.refresh(strict=not source.dynamic)
        self._poller: threading.Thread | None = None
        if source.dynamic and poll_interval > 0:
            self._poller = threading.Thread(
                target=self._poll, args=(poll_interval,), name="champion-router-poll", daemon=True
            )
            self._poller.start()

    # -- state -------------------------------------------------------------------------------

    @property
    def experiments(self) -> dict[str, Runtime]:
        return {name: plan.runtime for name, plan in self._plans.items()}

    @property
    def version(self) -> int:
        return self._version

    @property
    def version_at(self) -> datetime | None:
        """When this process began serving :attr:`version`: its lag behind a change."""
        return self._version_at

    @property
    def source(self) -> StateSource:
        return self._source

    def unavailable(self) -> dict[str, str]:
        """Experiments that failed to load, with why; the others serve meanwhile."""
        return dict(self._unavailable)

    def runtime(self, experiment: str) -> Runtime:
        return self._plan(experiment).runtime

    def _plan(self, experiment: str) -> _Plan:
        plan = self._plans.get(experiment)
        if plan is None:
            problem = self._unavailable.get(experiment)
            if problem is not None:
                raise ExperimentUnavailable(experiment, problem)
            raise ExperimentNotFound(experiment, sorted(self._plans))
        return plan

    def _model(self, spec: Any, name: str) -> ModelAdapter:
        key = (spec.name, name)
        adapter = self._models.get(key)
        if adapter is None:
            adapter = self._given_models.get(name)
            if adapter is None:
                adapter = load_model(name, spec.models[name], self._models_dir)
            inline = adapter.decide_inline()
            took = "" if adapter.check_us is None else f" (check call {adapter.check_us:.0f} µs)"
            where = "on the event loop" if inline else "off the event loop"
            log.info("model %s of %s runs %s%s", name, spec.name, where, took)
            self._models[key] = adapter
        return adapter

    def _build(self, state: Any) -> _Plan:
        runtime = build_runtime(
            state.spec, state=state.state, allocation=state.allocation, version=state.version
        )
        spec = runtime.spec
        # Only models that can get traffic in this state are loaded: the champion always (it
        # answers everyone outside running/completed, and on a challenger's failure), the
        # variants with a share or a QA override while the split is live, and the shadows.
        names = {runtime.champion}
        if runtime.splits_traffic:
            shares = runtime.assigner.probabilities
            names.update(v for v in spec.challengers if shares.get(v, 0.0) > 0.0)
            names.update(v for v in (spec.overrides or {}).values() if v in spec.models)
        models = {name: self._model(spec, name) for name in sorted(names)}
        shadows = tuple((t, self._model(spec, t.model)) for t in runtime.shadows)
        segments = tuple(spec.segments) if spec.segments else None
        return _Plan(runtime, models, shadows, segments)

    def refresh(self, *, strict: bool = False) -> bool:
        """Reload changed experiments; True when anything changed.

        Each experiment is built on its own: whatever fails (a spec the assigner refuses, a
        model that does not load) makes that experiment unavailable, with the reason, and
        the others keep serving. ``strict`` raises the first failure instead.
        """
        with self._refresh_lock:
            version, states = self._source.changes(self._version)
            if not states and version == self._version:
                return False
            plans = dict(self._plans)
            for state in states:
                name = state.name
                try:
                    if state.state == _ARCHIVED:
                        plans.pop(name, None)
                        self._unavailable.pop(name, None)
                        self._forget_models(name)
                        continue
                    plans[name] = self._build(state)
                    self._unavailable.pop(name, None)
                except Exception as e:
                    if strict:
                        raise
                    plans.pop(name, None)
                    self._unavailable[name] = str(e) or type(e).__name__
                    log.error("experiment %s cannot be served: %s", name, e)
            self._plans = plans
            self._version = version
            self._version_at = utc_now()
            return True

    def _forget_models(self, experiment: str) -> None:
        for key in [k for k in self._models if k[0] == experiment]:
            adapter = self._models.pop(key)
            if adapter not in self._given_models.values():
                adapter.close()
                adapter.stop_threads()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception as e:  # the registry may be briefly unreachable: keep serving
                log.warning("registry poll failed (serving the last known state): %s", e)

    # -- requests ----------------------------------------------------------------------------

    def assign(
        self, experiment: str, unit_id: str, attributes: Mapping[str, Any] | None = None
    ) -> Assignment:
        """The variant for a unit, for callers that run the model themselves."""
        return self._plan(experiment).runtime.assigner.assign(unit_id, attributes)

    def _begin(
        self, experiment: str, unit_id: str | None, request_id: str | None,
        attributes: Mapping[str, Any] | None,
    ) -> _Call:  # fmt: skip
        plan = self._plan(experiment)
        request_id = request_id or f"{self._id_prefix}{next(self._ids):012x}"
        unit = unit_id if unit_id is not None else request_id
        assignment = plan.runtime.assigner.assign(unit, attributes)
        model = assignment.variant
        if model not in plan.models:  # a variant without traffic in this state
            model = plan.runtime.champion
        return _Call(plan, assignment, request_id, unit, attributes, model,
                     time.perf_counter(), self._clock())  # fmt: skip

    def predict(
        self,
        experiment: str,
        unit_id: str | None,
        features: Mapping[str, Any],
        attributes: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> Routed:
        """Serve one request; shadow calls start after the answer is ready.

        Whatever happens, the request is logged and counted once: a model that fails (and a
        champion fallback that fails too) is an exposure with its error.
        """
        call = self._begin(experiment, unit_id, request_id, attributes)
        prediction: Any = None
        try:
            try:
                prediction = call.plan.models[call.model].predict(features)
            except Exception as e:
                if not self._switch_to_champion(call, e):
                    raise
                try:
                    prediction = call.plan.models[call.model].predict(features)
                except Exception as fallback:
                    self._fallback_failed(call, fallback)
                    raise
        finally:
            exposure, routed = self._served(call, prediction)
            if exposure is not None and self._events is not None:
                self._events.log(exposure)
        self._shadow(call, routed, features)
        return routed

    async def apredict(
        self,
        experiment: str,
        unit_id: str | None,
        features: Mapping[str, Any],
        attributes: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> Routed:
        """:meth:`predict` for an event loop (the gateway's hot path).

        A model measured fast at load time runs right here; others run on their own thread
        pool, natively async ones are awaited. The exposure is logged with
        :meth:`EventWriter.alog`: in sync mode the wait for its fsync leaves the loop free.
        """
        call = self._begin(experiment, unit_id, request_id, attributes)
        prediction: Any = None
        try:
            try:
                adapter = call.plan.models[call.model]
                if adapter.inline and not adapter.is_async:
                    prediction = adapter.predict(features)
                else:
                    prediction = await adapter.apredict(features)
            except Exception as e:
                if not self._switch_to_champion(call, e):
                    raise
                try:
                    prediction = await call.plan.models[call.model].apredict(features)
                except Exception as fallback:
                    self._fallback_failed(call, fallback)
                    raise
        finally:
            exposure, routed = self._served(call, prediction)
            if exposure is not None and self._events is not None:
                await self._events.alog(exposure)
        self._shadow(call, routed, features)
        return routed

    def _switch_to_champion(self, call: _Call, error: Exception) -> bool:
        """Record a model's failure; False when there is no champion to fall back to."""
        call.error = f"{type(error).__name__}: {error}"
        if not self._fallback or call.model == call.plan.runtime.champion:
            return False
        call.model = call.plan.runtime.champion
        return True

    def _fallback_failed(self, call: _Call, error: Exception) -> None:
        failed = f"{type(error).__name__}: {error}"
        call.error = f"{call.error}; the champion {call.model} failed too: {failed}"

    def _served(self, call: _Call, prediction: Any) -> tuple[Exposure | None, Routed]:
        """The request's exposure event (None without an event store) and its answer."""
        plan, assignment = call.plan, call.assignment
        runtime = plan.runtime
        latency_ms = (time.perf_counter() - call.start) * 1000.0
        text: str | None = None
        score: float | None = None
        if prediction is not None:
            try:
                text, score = _encode(prediction)
                call.served_score = score
            except Exception as e:
                call.error = f"{type(e).__name__}: {e}"
                prediction = None
        exposed = assignment.exposed and runtime.splits_traffic
        self.observer.served(runtime.name, assignment.variant, latency_ms, call.error is not None)
        routed = Routed(prediction, assignment.variant, call.model, call.request_id, call.unit,
                        exposed, assignment.reason, latency_ms, call.error, text)  # fmt: skip
        if self._events is None:
            return None, routed
        attributes = call.attributes
        logged = _segment_attributes(plan.segments, attributes) if attributes else {}
        if assignment.reason == "bandit_holdout":  # its data never trains the bandit
            logged = {**logged, BANDIT_HOLDOUT_ATTRIBUTE: "holdout"}
        # The router made every name and number itself: only the request's values are checked.
        exposure = Exposure.trusted(
            runtime.name, call.unit, assignment.variant, call.model, runtime.version,
            assignment.probability, call.request_id, latency_ms, call.error, text, score,
            logged, exposed, call.ts,
        )  # fmt: skip
        return exposure, routed

    def _shadow(self, call: _Call, routed: Routed, features: Mapping[str, Any]) -> None:
        """Start the shadows once the answer is ready (and its exposure logged)."""
        if routed.prediction is None and routed.error is not None:
            raise PredictionError(routed.model, routed.error)  # an answer that is not JSON
        shadows = call.plan.shadows
        if not shadows:
            return
        runtime = call.plan.runtime
        context = None
        for target, adapter in shadows:
            if target.sample < 1.0 and self._random.random() >= target.sample:
                continue
            if context is None:
                context = _ShadowContext(runtime.name, call.unit, call.request_id,
                                         call.served_score, call.ts)  # fmt: skip
            if not self._shadows.submit(
                adapter, features, timeout_ms=target.timeout_ms, context=context
            ):
                self.observer.shadow_dropped(runtime.name, target.model)

    # -- shadows -----------------------------------------------------------------------------

    def _shadow_done(self, outcome: ShadowOutcome) -> None:
        ctx: _ShadowContext = outcome.context
        text, value = (None, None) if outcome.error else _encode(outcome.prediction)
        event = Shadow.trusted(
            ctx.experiment, ctx.unit_id, outcome.model, ctx.request_id, text, value,
            outcome.latency_ms, outcome.error, ctx.served_score, ctx.ts,
        )  # fmt: skip
        self.observer.shadowed(
            ctx.experiment, outcome.model, outcome.latency_ms, outcome.error, event.divergence
        )
        if self._events is not None:
            self._events.log(event)

    @property
    def shadow_stats(self) -> dict[str, int]:
        return self._shadows.stats.as_dict()

    def drain_shadows(self, timeout: float = 5.0) -> bool:
        return self._shadows.drain(timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        self._shadows.close()
        for adapter in self._models.values():
            adapter.close()
            adapter.stop_threads()
        self._source.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _encode(prediction: Any) -> tuple[str, float | None]:
    """:func:`encode_prediction`, with the common plain answers written without a round trip."""
    kind = type(prediction)
    if kind is float:
        if math.isfinite(prediction):
            return float.__repr__(prediction), prediction
    elif kind is int:
        return int.__repr__(prediction), float(prediction)
    elif kind is str:
        return _json_text(prediction), None
    return encode_prediction(prediction)


def _json_text(text: str) -> str:
    """A str as a JSON string, as ``json.dumps`` writes it; plain ASCII without a call."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text)


def _segment_attributes(
    segments: tuple[str, ...] | None, attributes: Mapping[str, Any]
) -> dict[str, str]:
    """The request attributes the analysis segments by (all of them when none are declared)."""
    keys = segments if segments is not None else attributes.keys()
    out = {}
    for k in keys:
        v = attributes.get(k)
        if v is not None:
            out[k] = v if type(v) is str else str(v)
    return out
