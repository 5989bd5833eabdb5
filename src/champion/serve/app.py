"""The HTTP gateway: a thin FastAPI shell around the Router (and the registry for admin).

Predict routes stay on the event loop; admin routes run their registry calls, spec parsing
and model loading in the threadpool, so a slow or locked registry never holds a predict.
Every body is capped (413) before it is parsed; errors come from one table (serve/errors).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import yaml
from fastapi import Depends, FastAPI, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from champion.errors import (
    InvalidArgument,
)
from champion.events import EventWriter, Outcome, open_writer
from champion.models.loader import check_untrusted_models
from champion.models.oip import InferenceRequest, InferenceResponse, ResponseOutput
from champion.serve.auth import principal, require_scope
from champion.serve.decide_routes import decide_routes
from champion.serve.errors import ApiError, error_responses, install_error_handlers
from champion.serve.hot_path import (
    PredictFastPath,
    serve_predict,
    serving_runtime,
    unavailable_experiments,
)
from champion.serve.limits import BodyLimit, refuse_yaml_aliases
from champion.serve.metrics import CONTENT_TYPE_LATEST, GatewayMetrics, render
from champion.serve.router import Router, RouterObserver
from champion.serve.schemas import (
    MAX_FEATURES,
    MAX_ID_LENGTH,
    ArchiveRequest,
    AssignRequest,
    AssignResponse,
    OutcomesRequest,
    OutcomesResponse,
    PredictRequest,
    PredictResponse,
    RampRequest,
    StartRequest,
    StopRequest,
)
from champion.serve.settings import GatewaySettings, load_settings
from champion.serve.sources import RegistrySource, SpecSource, StateSource
from champion.serve.verdict_routes import verdict_routes
from champion.spec import load_spec, parse_spec
from champion.spec.outcome_names import spec_outcome_names, unknown_metric_lines
from champion.ui import mount_ui

__all__ = ["app_from_env", "build_router", "create_app"]

log = logging.getLogger("champion.gateway")

# After the event journal refused an event, readiness reports it for this many seconds.
EVENTS_FAILED_SECONDS = 10.0

# Documents the scheme in OpenAPI; require_scope does the checking (on the raw header).
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="CHAMPION_ADMIN_TOKEN for admin routes (it also grants predict); "
    "CHAMPION_PREDICT_TOKEN for serving routes when one is set (open otherwise)",
)
_SERVING_ERRORS = error_responses(401, 403, 404, 413, 422, 502, 503, 504)
_ADMIN_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 503)


Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]


async def _predict_scope(request: Request, _: Bearer) -> None:
    # async: a sync dependency would cost every predict a hop to the threadpool and back.
    require_scope(request, "predict")


def _admin_scope(request: Request, _: Bearer) -> None:
    require_scope(request, "admin")


def build_router(
    settings: GatewaySettings, events: EventWriter | None, metrics: GatewayMetrics
) -> tuple[Router, Any]:
    """The router the settings describe, and the registry it follows (or None)."""
    registry = None
    if settings.db:
        from champion.registry import Registry

        # An admin write waits registry_timeout for the write lock, then answers 503.
        registry = Registry(settings.db, busy_timeout=settings.registry_timeout)
        source: Any = RegistrySource(registry)
    else:
        source = SpecSource([load_spec(path) for path in settings.specs])
    router = Router(
        source,
        events=events,
        models_dir=settings.models_dir,
        poll_interval=settings.poll_interval,
        shadow_concurrency=settings.shadow_concurrency,
        observer=metrics,
    )
    return router, registry


def create_app(
    settings: GatewaySettings | None = None,
    *,
    router: Router | None = None,
    registry: Any = None,
    events: EventWriter | None = None,
    metrics: GatewayMetrics | None = None,
) -> FastAPI:
    """The gateway; builds its router, event writer and registry from ``settings`` if not given."""
    settings = settings or load_settings()
    metrics = metrics or GatewayMetrics()
    owned: list[Any] = []
    if router is None:
        if events is None and settings.events:
            events = open_writer(settings.events, sync=settings.events_sync)
            owned.append(events)
        router, registry = build_router(settings, events, metrics)
        owned[:0] = [router] + ([registry] if registry is not None else [])
    elif type(router.observer) is RouterObserver:
        router.observer = metrics  # a router built without metrics reports to this app's

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for thing in owned:  # router first (stops shadows), then registry, then events flush
            thing.close()

    app = FastAPI(
        title="champion gateway",
        version="1",
        description="Champion/challenger serving: deterministic assignment, shadow calls, "
        "exposure logging and an admin API over the experiment registry.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.router = router
    app.state.registry = registry
    app.state.events = events
    app.state.metrics = metrics
    app.state.source = _source_of(router)
    app.add_middleware(PredictFastPath, router=router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # outermost: first
    install_error_handlers(app)
    _serving_routes(app, router)
    _admin_routes(app, router)
    _ops_routes(app, router)
    verdict_routes(app, _predict_scope)
    decide_routes(app, _admin_scope)
    mount_ui(app)
    return app


def _source_of(router: Router) -> StateSource | None:
    source = getattr(router, "source", None) or getattr(router, "_source", None)
    return source if isinstance(source, StateSource) else None


async def _predict_scope_fast(request: Request) -> None:
    """The predict scope for the hottest route: the same check, without the sub-dependency
    that only documents the scheme (its security is declared in the schema directly)."""
    require_scope(request, "predict")


def _serving_routes(app: FastAPI, router: Router) -> None:
    predict_deps = [Depends(_predict_scope)]

    @app.post(
        "/v1/experiments/{name}/predict", response_model=PredictResponse,
        dependencies=[Depends(_predict_scope_fast)], tags=["serving"],
        responses=_SERVING_ERRORS, openapi_extra={"security": [{"bearer": []}]},
    )  # fmt: skip
    async def predict(name: str, body: PredictRequest) -> Response:
        """Assign the unit, call its variant's model, answer; shadows run afterwards."""
        routed = await serve_predict(router, name, body.unit_id, body.features, body.attributes,
                                 body.request_id)  # fmt: skip
        # Written once by the router (the prediction's JSON is the exposure's): no second
        # serialisation and no re-validation against PredictResponse, which documents it.
        return Response(routed.to_json(), media_type="application/json")

    @app.post(
        "/v2/models/{name}/infer", response_model=InferenceResponse, dependencies=predict_deps,
        tags=["serving"], response_model_exclude_none=True, responses=_SERVING_ERRORS,
    )  # fmt: skip
    async def infer(name: str, body: InferenceRequest) -> InferenceResponse:
        """Open Inference Protocol v2: one row; inputs become features by name.

        Pass the unit id as ``parameters.unit_id`` and segment attributes as
        ``parameters.attributes``; the variant and model come back in ``parameters``.
        """
        params = body.parameters or {}
        if len(body.inputs) > MAX_FEATURES:
            raise ApiError(422, "invalid_request", f"at most {MAX_FEATURES} inputs",
                           "body.inputs")  # fmt: skip
        features: dict[str, Any] = {}
        for tensor in body.inputs:
            data = tensor.data
            while isinstance(data, list) and len(data) == 1:
                data = data[0]
            features[tensor.name] = data
        attributes = params.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise ApiError(422, "invalid_request", "must be an object",
                           "body.parameters.attributes")  # fmt: skip
        unit = params.get("unit_id")
        for value, where in ((unit, "body.parameters.unit_id"), (body.id, "body.id")):
            if value is not None and not 0 < len(str(value)) <= MAX_ID_LENGTH:
                raise ApiError(422, "invalid_request",
                               f"must be 1 to {MAX_ID_LENGTH} characters", where)  # fmt: skip
        routed = await serve_predict(router, name, None if unit is None else str(unit), features,
                                 attributes, body.id)  # fmt: skip
        value = routed.prediction
        data = value if isinstance(value, list) else [value]
        datatype = "BYTES" if any(isinstance(v, str | dict) for v in data) else "FP64"
        if datatype == "BYTES":
            data = [v if isinstance(v, str) else json.dumps(v) for v in data]
        return InferenceResponse(
            model_name=name,
            id=routed.request_id,
            parameters={"variant": routed.variant, "model": routed.model,
                        "request_id": routed.request_id},
            outputs=[ResponseOutput(name="prediction", shape=[1, len(data)], datatype=datatype,
                                    data=data)],
        )  # fmt: skip

    @app.post(
        "/v1/experiments/{name}/assign", response_model=AssignResponse,
        dependencies=predict_deps, tags=["serving"],
        responses=error_responses(401, 403, 404, 413, 422, 503),
    )  # fmt: skip
    async def assign(name: str, body: AssignRequest) -> dict[str, Any]:
        """The variant for a unit, for callers that run the model themselves (nothing logged).

        ``exposed`` is false whenever the experiment does not split traffic (draft, shadow,
        stopped, rolled back): the unit sees the champion and does not count.
        """
        runtime = serving_runtime(router, name)
        a = router.assign(name, body.unit_id, body.attributes)
        exposed = a.exposed and runtime.splits_traffic
        return {"unit": a.unit_id, "variant": a.variant, "bucket": a.bucket, "reason": a.reason,
                "exposed": exposed, "probability": a.probability, "model": a.variant}  # fmt: skip

    @app.post(
        "/v1/outcomes", response_model=OutcomesResponse, dependencies=predict_deps,
        tags=["serving"], responses=error_responses(401, 403, 409, 413, 422, 503),
    )  # fmt: skip
    async def outcomes(body: OutcomesRequest, request: Request) -> dict[str, Any]:
        """Labels, conversions, revenue: joined to exposures later by unit and time."""
        writer: EventWriter | None = request.app.state.events
        if writer is None:
            raise ApiError(
                409, "no_event_store", "this gateway has no event store: start it with --events"
            )
        now = datetime.now(UTC)
        events = []
        for i, o in enumerate(body.outcomes):
            try:
                events.append(Outcome(unit_id=o.unit_id, metric=o.metric, value=o.value,
                                      ts=_utc(o.ts or now)))  # fmt: skip
            except (InvalidArgument, OverflowError) as e:  # located by the request's path
                where = e.name.rsplit(".", 1)[-1] if isinstance(e, InvalidArgument) else "ts"
                raise ApiError(422, "invalid_request", str(e),
                               f"body.outcomes.{i}.{where}") from None  # fmt: skip
        kept = await writer.alog_many(events)  # in sync mode: one fsync, off the event loop
        return {"accepted": kept, "warnings": _unknown_metrics(router, events)}


def _unknown_metrics(router: Router, events: list[Outcome]) -> list[str]:
    """Warnings for metric names no experiment served here reads (none without any)."""
    known: set[str] = set()
    for runtime in router.experiments.values():
        known |= spec_outcome_names(runtime.spec)
    if not known:
        return []
    where = "experiment this gateway serves"
    return unknown_metric_lines((e.metric for e in events), known, where)


def _utc(ts: datetime) -> datetime:
    """Timestamps without a zone are taken as UTC, as the outcome schema documents."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _registry(request: Request) -> Any:
    registry = request.app.state.registry
    if registry is None:
        raise ApiError(
            409, "no_registry", "this gateway serves spec files: start it with --registry URL|PATH"
        )
    return registry


async def _refresh(router: Router) -> None:
    """Pick up the change just written; if that fails the poller picks it up later."""
    try:
        await run_in_threadpool(router.refresh)
    except Exception as e:
        log.warning("refresh after an admin change failed (the poller retries): %s", e)


def _parse_spec_body(raw: bytes, content_type: str, settings: GatewaySettings) -> Any:
    """The spec a create request carries (YAML, or the same as JSON), checked for the API."""
    if len(raw) > settings.max_spec_bytes:
        raise ApiError(413, "spec_too_large", f"a spec may be at most {settings.max_spec_bytes:,} "
                       "bytes (CHAMPION_MAX_SPEC_BYTES)", "body")  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(422, "invalid_spec", f"the body is not UTF-8: {e}", "body") from None
    try:
        if "json" in content_type:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ApiError(422, "invalid_spec", "a spec is a JSON object", "body")
            text = yaml.safe_dump(data, sort_keys=False)
        else:
            refuse_yaml_aliases(text)
    except json.JSONDecodeError as e:
        raise ApiError(422, "invalid_spec", f"not valid JSON: {e}", "body") from None
    except RecursionError:
        raise ApiError(422, "invalid_spec", "the body is nested too deeply", "body") from None
    spec = parse_spec(text, "request body")
    check_untrusted_models(spec, settings.allow_python_modules, settings.models_dir)
    return spec


def _admin_routes(app: FastAPI, router: Router) -> None:
    deps = [Depends(_admin_scope)]
    settings: GatewaySettings = app.state.settings
    reads = error_responses(401, 403, 404, 409, 422, 503)

    @app.get("/v1/experiments", dependencies=deps, tags=["admin"], responses=reads)
    async def list_experiments(request: Request) -> list[dict[str, Any]]:
        """Every experiment with its state, version and allocation."""
        snapshot = await run_in_threadpool(_registry(request).snapshot)
        return [e.to_dict() for e in snapshot.experiments]

    @app.get("/v1/experiments/{name}", dependencies=deps, tags=["admin"], responses=reads)
    async def show(name: str, request: Request) -> dict[str, Any]:
        """One experiment's state."""
        state = await run_in_threadpool(_registry(request).get, name)
        return state.to_dict()

    @app.post(
        "/v1/experiments", dependencies=deps, tags=["admin"], status_code=201,
        responses=_ADMIN_ERRORS,
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        }}},
    )  # fmt: skip
    async def create(request: Request) -> dict[str, Any]:
        """Register a spec (YAML, or the same as JSON) as a draft.

        Python models must come from modules the operator allowed
        (``--allow-python-module``); other kinds load data only (docs/security.md).
        """
        registry = _registry(request)
        raw = await request.body()
        content_type = request.headers.get("content-type", "")

        def register() -> Any:
            spec = _parse_spec_body(raw, content_type, settings)
            return registry.create(spec, by=principal(request), reason="created via API")

        state = await run_in_threadpool(register)
        await _refresh(router)
        return state.to_dict()

    @app.post("/v1/experiments/{name}/start", dependencies=deps, tags=["admin"],
              responses=_ADMIN_ERRORS)  # fmt: skip
    async def start(name: str, request: Request, body: StartRequest | None = None) -> dict:
        """Start the A/B split (or, with ``shadow``, mirror traffic to the challengers)."""
        body = body or StartRequest()
        state = await run_in_threadpool(
            _registry(request).start, name, shadow=body.shadow, reason=body.reason,
            expected_version=body.expected_version, by=principal(request),
        )  # fmt: skip
        await _refresh(router)
        return state.to_dict()

    @app.post("/v1/experiments/{name}/ramp", dependencies=deps, tags=["admin"],
              responses=_ADMIN_ERRORS)  # fmt: skip
    async def ramp(name: str, body: RampRequest, request: Request) -> dict[str, Any]:
        """Give a challenger ``to`` percent; the champion takes the rest."""
        state = await run_in_threadpool(
            _registry(request).ramp, name, body.to, challenger=body.challenger,
            reason=body.reason, expected_version=body.expected_version, by=principal(request),
        )  # fmt: skip
        await _refresh(router)
        return state.to_dict()

    @app.post("/v1/experiments/{name}/stop", dependencies=deps, tags=["admin"],
              responses=_ADMIN_ERRORS)  # fmt: skip
    async def stop(name: str, body: StopRequest, request: Request) -> dict[str, Any]:
        """End the experiment; the champion serves everyone."""
        state = await run_in_threadpool(
            _registry(request).stop, name, reason=body.reason,
            expected_version=body.expected_version, by=principal(request),
        )  # fmt: skip
        await _refresh(router)
        return state.to_dict()

    @app.post("/v1/experiments/{name}/archive", dependencies=deps, tags=["admin"],
              responses=_ADMIN_ERRORS)  # fmt: skip
    async def archive(name: str, body: ArchiveRequest, request: Request) -> dict[str, Any]:
        """Take an experiment out of service for good, whatever its state (a broken one too)."""
        state = await run_in_threadpool(
            _registry(request).archive, name, reason=body.reason,
            expected_version=body.expected_version, by=principal(request),
        )  # fmt: skip
        await _refresh(router)
        return state.to_dict()


def _readiness(app: FastAPI, router: Router) -> tuple[int, dict[str, Any]]:
    settings: GatewaySettings = app.state.settings
    source = app.state.source
    archived = getattr(source, "archived", set())
    unavailable = {k: v for k, v in unavailable_experiments(router).items() if k not in archived}
    serving = sorted(n for n in router.experiments if n not in archived)
    body: dict[str, Any] = {
        "status": "ok",
        "experiments": serving,
        "unavailable": unavailable,
        "registry_version": router.version,
        "registry_version_at": None if router.version_at is None else router.version_at.isoformat(),
        "pid": os.getpid(),
    }
    problems = []
    if isinstance(source, RegistrySource):
        age = source.age()
        body["registry"] = {
            "age_seconds": None if age is None else round(age, 3),
            "error": source.error,
            "stale_after_seconds": settings.registry_stale_after,
        }
        if age is None or age > settings.registry_stale_after:
            problems.append("registry")
    if unavailable:
        problems.append("experiments")
    failed = getattr(app.state, "events_failed", None)  # (when, why): set by the error handler
    if failed is not None and time.monotonic() - failed[0] < EVENTS_FAILED_SECONDS:
        body["events"] = {"error": failed[1]}
        if settings.events_sync:  # no request can be acknowledged now
            return 503, {**body, "status": "unready"}
    if not serving:
        return 503, {**body, "status": "unready"}
    if problems:
        body["status"] = "degraded"
        body["degraded"] = problems
    return 200, body


def _ops_routes(app: FastAPI, router: Router) -> None:
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["ops"],
        responses={503: {"description": "no experiment can be served (or, in sync mode, no "
                         "event can be made durable)"}},
    )  # fmt: skip
    async def readyz(request: Request) -> Response:
        """Readiness: ``ok``; ``degraded`` (still 200) when some experiments are unavailable
        or the registry has not answered for ``registry_stale_after`` seconds (the last state
        keeps serving); 503 ``unready`` when nothing can be served."""
        status, body = _readiness(request.app, router)
        return Response(json.dumps(body), status_code=status, media_type="application/json")

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        """Prometheus exposition: requests, latency, errors, shadows, event writer counters."""
        writer: EventWriter | None = request.app.state.events
        gauges: GatewayMetrics = request.app.state.metrics
        if writer is not None:
            gauges.record_events(writer.stats().as_dict())
        return Response(render(gauges), media_type=CONTENT_TYPE_LATEST)


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: every worker reads the same ``CHAMPION_*`` settings.

    Once the app is built (libraries imported, models loaded), everything alive is moved
    out of the garbage collector's reach (``gc.freeze``): a full collection would otherwise
    walk the hundreds of thousands of objects numpy, scipy and the models bring, holding the
    event loop for 50-140 ms each time the buffered events trigger one.

    The event writer's thread converts a second's events at a time while holding the
    interpreter; a request arriving meanwhile waited up to Python's 5 ms switch interval for
    it, which set the gateway's 99th percentile at one connection. ``switch_interval_ms``
    (0.5 by default) bounds that wait.
    """
    settings = load_settings()
    app = create_app(settings)
    gc.freeze()
    sys.setswitchinterval(settings.switch_interval_ms / 1000.0)
    return app
