"""The in-process Router: assign, call the variant's model, answer, shadow, and log.

Usable inside a user's own service without HTTP; the gateway is a thin shell around it.
It keeps every experiment's runtime in memory and, when built on a registry, a background
thread polls the registry's global version and swaps in new runtimes when it moves.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from champion.assign import Assignment
from champion.errors import ExperimentNotFound, ModelLoadError
from champion.events import EventWriter, Exposure, Shadow, encode_prediction
from champion.events.schema import utc_now
from champion.models import ModelAdapter, load_model
from champion.serve.runtime import Runtime, build_runtime
from champion.serve.shadow import ShadowOutcome, ShadowRunner
from champion.serve.sources import StateSource
from champion.spec import Experiment

__all__ = ["Routed", "Router", "RouterObserver"]

log = logging.getLogger("champion.router")


@dataclass(frozen=True, slots=True)
class Routed:
    """The answer to one request, and how it was reached."""

    prediction: Any
    variant: str
    model: str
    request_id: str
    unit_id: str
    exposed: bool
    reason: str
    latency_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "prediction": self.prediction,
            "variant": self.variant,
            "model": self.model,
            "request_id": self.request_id,
        }


class RouterObserver:
    """Hooks for metrics; the gateway's Prometheus collector implements them."""

    def served(self, experiment: str, variant: str, latency_ms: float, error: bool) -> None: ...

    def shadowed(
        self, experiment: str, model: str, latency_ms: float, error: str | None,
        divergence: float | None,
    ) -> None: ...  # fmt: skip

    def shadow_dropped(self, experiment: str, model: str) -> None: ...


@dataclass(slots=True)
class _Call:
    """One request in flight: what was decided and which model answers."""

    runtime: Runtime
    assignment: Assignment
    request_id: str
    unit: str
    attributes: Mapping[str, Any] | None
    features: Mapping[str, Any]
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
    passes its own so exposures land on the days they describe.
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
        self._runtimes: dict[str, Runtime] = {}
        self.unavailable: dict[str, str] = {}
        self._shadows = ShadowRunner(self._shadow_done, max_concurrency=shadow_concurrency)
        self._random = random.Random()
        self._stop = threading.Event()
        self._version = -1
        self._refresh_lock = threading.Lock()
        self.refresh(strict=True)
        self._poller: threading.Thread | None = None
        if source.dynamic and poll_interval > 0:
            self._poller = threading.Thread(
                target=self._poll, args=(poll_interval,), name="champion-router-poll", daemon=True
            )
            self._poller.start()

    # -- state -------------------------------------------------------------------------------

    @property
    def experiments(self) -> dict[str, Runtime]:
        return self._runtimes

    @property
    def version(self) -> int:
        return self._version

    def runtime(self, experiment: str) -> Runtime:
        runtime = self._runtimes.get(experiment)
        if runtime is None:
            raise ExperimentNotFound(experiment, sorted(self._runtimes))
        return runtime

    def _model(self, spec: Experiment, name: str) -> ModelAdapter:
        key = (spec.name, name)
        adapter = self._models.get(key)
        if adapter is None:
            adapter = self._given_models.get(name)
            if adapter is None:
                adapter = load_model(name, spec.models[name], self._models_dir)
            self._models[key] = adapter
        return adapter

    def _build(self, state: Any) -> Runtime:
        runtime = build_runtime(
            state.spec, state=state.state, allocation=state.allocation, version=state.version
        )
        for name in {
            runtime.champion,
            *runtime.spec.challengers,
            *(t.model for t in runtime.shadows),
        }:
            self._model(runtime.spec, name)
        return runtime

    def refresh(self, *, strict: bool = False) -> bool:
        """Reload changed experiments; True when anything changed."""
        with self._refresh_lock:
            version, states = self._source.changes(self._version)
            if not states and version == self._version:
                return False
            runtimes = dict(self._runtimes)
            for state in states:
                try:
                    runtimes[state.name] = self._build(state)
                    self.unavailable.pop(state.name, None)
                except ModelLoadError as e:
                    if strict:
                        raise
                    self.unavailable[state.name] = str(e)
                    log.error("experiment %s cannot be served: %s", state.name, e)
            self._runtimes = runtimes
            self._version = version
            return True

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
        runtime = self.runtime(experiment)
        return runtime.assigner.assign(unit_id, attributes)

    def _begin(
        self, experiment: str, unit_id: str | None, request_id: str | None,
        attributes: Mapping[str, Any] | None, features: Mapping[str, Any],
    ) -> _Call:  # fmt: skip
        runtime = self.runtime(experiment)
        request_id = request_id or uuid.uuid4().hex
        unit = unit_id if unit_id is not None else request_id
        assignment = runtime.assigner.assign(unit, attributes)
        return _Call(runtime, assignment, request_id, unit, attributes, features,
                     assignment.variant, time.perf_counter(), self._clock())  # fmt: skip

    def predict(
        self,
        experiment: str,
        unit_id: str | None,
        features: Mapping[str, Any],
        attributes: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> Routed:
        """Serve one request; shadow calls start after the answer is ready."""
        call = self._begin(experiment, unit_id, request_id, attributes, features)
        try:
            prediction = self._model(call.runtime.spec, call.model).predict(features)
        except Exception as e:
            self._fall_back(call, e)
            prediction = self._model(call.runtime.spec, call.model).predict(features)
        return self._finish(call, prediction)

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

        The exposure is logged with :meth:`EventWriter.alog`: in sync mode the wait for its
        fsync leaves the loop free for other requests.
        """
        call = self._begin(experiment, unit_id, request_id, attributes, features)
        try:
            prediction = await self._model(call.runtime.spec, call.model).apredict(features)
        except Exception as e:
            if not self._switch_to_champion(call, e):
                await self._alog(self._served(call, None)[0])
                raise
            prediction = await self._model(call.runtime.spec, call.model).apredict(features)
        exposure, routed = self._served(call, prediction)
        await self._alog(exposure)
        self._shadow(call, routed)
        return routed

    async def _alog(self, event: Exposure | None) -> None:
        if self._events is not None and event is not None:
            await self._events.alog(event)

    def _fall_back(self, call: _Call, error: Exception) -> None:
        """Record a model's failure; switch to the champion, or log and re-raise."""
        if not self._switch_to_champion(call, error):
            self._finish(call, None)
            raise error

    def _switch_to_champion(self, call: _Call, error: Exception) -> bool:
        """Record a model's failure; False when there is no champion to fall back to."""
        call.error = f"{type(error).__name__}: {error}"
        if not self._fallback or call.model == call.runtime.champion:
            return False
        call.model = call.runtime.champion
        return True

    def _finish(self, call: _Call, prediction: Any) -> Routed:
        exposure, routed = self._served(call, prediction)
        if self._events is not None and exposure is not None:
            self._events.log(exposure)
        self._shadow(call, routed)
        return routed

    def _served(self, call: _Call, prediction: Any) -> tuple[Exposure | None, Routed]:
        """The request's exposure event (None without an event store) and its answer."""
        runtime, assignment = call.runtime, call.assignment
        latency_ms = (time.perf_counter() - call.start) * 1000.0
        exposed = assignment.exposed and runtime.splits_traffic
        served_json, served_score = encode_prediction(prediction)
        call.served_score = served_score
        self.observer.served(runtime.name, assignment.variant, latency_ms, call.error is not None)
        exposure = None
        if self._events is not None:
            exposure = Exposure(
                experiment=runtime.name,
                unit_id=call.unit,
                variant=assignment.variant,
                model=call.model,
                allocation_version=runtime.version,
                probability=assignment.probability,
                request_id=call.request_id,
                latency_ms=latency_ms,
                error=call.error,
                prediction=served_json if prediction is not None else None,
                score=served_score,
                attributes=_segment_attributes(runtime, call.attributes),
                exposed=exposed,
                ts=call.ts,
            )
        routed = Routed(prediction, assignment.variant, call.model, call.request_id, call.unit,
                        exposed, assignment.reason, latency_ms, call.error)  # fmt: skip
        return exposure, routed

    def _shadow(self, call: _Call, routed: Routed) -> None:
        """Start the shadows once the answer is ready (and its exposure logged)."""
        if routed.prediction is not None:
            self._start_shadows(
                call.runtime, call.unit, call.request_id, call.served_score, call.features, call.ts
            )

    # -- shadows -----------------------------------------------------------------------------

    def _start_shadows(
        self, runtime: Runtime, unit: str, request_id: str, served_score: float | None,
        features: Mapping[str, Any], ts: datetime,
    ) -> None:  # fmt: skip
        for target in runtime.shadows:
            if target.sample < 1.0 and self._random.random() >= target.sample:
                continue
            context = _ShadowContext(runtime.name, unit, request_id, served_score, ts)
            adapter = self._model(runtime.spec, target.model)
            if not self._shadows.submit(
                adapter, features, timeout_ms=target.timeout_ms, context=context
            ):
                self.observer.shadow_dropped(runtime.name, target.model)

    def _shadow_done(self, outcome: ShadowOutcome) -> None:
        ctx: _ShadowContext = outcome.context
        text, value = (None, None) if outcome.error else encode_prediction(outcome.prediction)
        event = Shadow(
            experiment=ctx.experiment,
            unit_id=ctx.unit_id,
            model=outcome.model,
            request_id=ctx.request_id,
            prediction=text,
            score=value,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            served_score=ctx.served_score,
            ts=ctx.ts,
        )
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
        self._source.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _segment_attributes(runtime: Runtime, attributes: Mapping[str, Any] | None) -> dict[str, str]:
    """The request attributes the analysis segments by (all of them when none are declared)."""
    if not attributes:
        return {}
    keys = runtime.spec.segments or attributes.keys()
    return {k: str(attributes[k]) for k in keys if k in attributes and attributes[k] is not None}
