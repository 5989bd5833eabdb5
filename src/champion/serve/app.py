"""The HTTP gateway: a thin FastAPI shell around the Router (and the registry for admin)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import yaml
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from champion.errors import ExperimentNotFound, PredictionError
from champion.events import EventWriter, Outcome, open_writer
from champion.models.oip import InferenceRequest, InferenceResponse, ResponseOutput
from champion.serve.auth import require_scope
from champion.serve.errors import ApiError, install_error_handlers
from champion.serve.metrics import CONTENT_TYPE_LATEST, GatewayMetrics, render
from champion.serve.router import Routed, Router, RouterObserver
from champion.serve.schemas import (
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
from champion.serve.settings import GatewaySettings
from champion.serve.sources import RegistrySource, SpecSource
from champion.serve.verdict_routes import verdict_routes
from champion.spec import load_spec, parse_spec

__all__ = ["app_from_env", "build_router", "create_app"]


def _predict_scope(request: Request) -> None:
    require_scope(request, "predict")


def _admin_scope(request: Request) -> None:
    require_scope(request, "admin")


def build_router(
    settings: GatewaySettings, events: EventWriter | None, metrics: GatewayMetrics
) -> tuple[Router, Any]:
    """The router the settings describe, and the registry it follows (or None)."""
    registry = None
    if settings.db:
        from champion.registry import Registry

        registry = Registry(settings.db)
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
    settings = settings or GatewaySettings()
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
    install_error_handlers(app)
    _serving_routes(app, router)
    _admin_routes(app, router)
    _ops_routes(app, router)
    verdict_routes(app, _predict_scope)
    return app


def _serving_routes(app: FastAPI, router: Router) -> None:
    predict_deps = [Depends(_predict_scope)]

    @app.post(
        "/v1/experiments/{name}/predict", response_model=PredictResponse,
        dependencies=predict_deps, tags=["serving"],
    )  # fmt: skip
    async def predict(name: str, body: PredictRequest) -> dict[str, Any]:
        """Assign the unit, call its variant's model, answer; shadows run afterwards."""
        routed = await _apredict(router, name, body.unit_id, body.features, body.attributes,
                                 body.request_id)  # fmt: skip
        return routed.to_dict()

    @app.post(
        "/v2/models/{name}/infer", response_model=InferenceResponse, dependencies=predict_deps,
        tags=["serving"], response_model_exclude_none=True,
    )  # fmt: skip
    async def infer(name: str, body: InferenceRequest) -> InferenceResponse:
        """Open Inference Protocol v2: one row; inputs become features by name.

        Pass the unit id as ``parameters.unit_id`` and segment attributes as
        ``parameters.attributes``; the variant and model come back in ``parameters``.
        """
        params = body.parameters or {}
        features: dict[str, Any] = {}
        for tensor in body.inputs:
            data = tensor.data
            while isinstance(data, list) and len(data) == 1:
                data = data[0]
            features[tensor.name] = data
        attributes = params.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise ApiError(422, "invalid_request", "must be an object", "parameters.attributes")
        unit = params.get("unit_id")
        routed = await _apredict(router, name, None if unit is None else str(unit), features,
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
    )  # fmt: skip
    async def assign(name: str, body: AssignRequest) -> dict[str, Any]:
        """The variant for a unit, for callers that run the model themselves (nothing logged)."""
        a = router.assign(name, body.unit_id, body.attributes)
        return {"unit": a.unit_id, "variant": a.variant, "bucket": a.bucket, "reason": a.reason,
                "exposed": a.exposed, "probability": a.probability, "model": a.variant}  # fmt: skip

    @app.post(
        "/v1/outcomes", response_model=OutcomesResponse, dependencies=predict_deps,
        tags=["serving"],
    )  # fmt: skip
    async def outcomes(body: OutcomesRequest, request: Request) -> dict[str, int]:
        """Labels, conversions, revenue: joined to exposures later by unit and time."""
        writer: EventWriter | None = request.app.state.events
        if writer is None:
            raise ApiError(
                409, "no_event_store", "this gateway has no event store: start it with --events"
            )
        now = datetime.now(UTC)
        events = [
            Outcome(unit_id=o.unit_id, metric=o.metric, value=o.value, ts=_utc(o.ts or now))
            for o in body.outcomes
        ]
        kept = await writer.alog_many(events)  # in sync mode: one fsync, off the event loop
        return {"accepted": kept}


def _utc(ts: datetime) -> datetime:
    """Timestamps without a zone are taken as UTC, as the outcome schema documents."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


async def _apredict(
    router: Router, name: str, unit: str | None, features: dict, attributes: dict,
    request_id: str | None,
) -> Routed:  # fmt: skip
    if router.runtime(name).spec.unit != "request" and unit is None:
        raise ApiError(422, "invalid_request", "unit_id is required for this experiment", "unit_id")
    try:
        return await router.apredict(name, unit, features, attributes, request_id=request_id)
    except (ExperimentNotFound, ApiError):
        raise
    except (PredictionError, ValueError, TypeError, KeyError) as e:
        raise ApiError(
            422, "invalid_features", f"the model refused the features: {e}", "features"
        ) from e
    except Exception as e:
        raise ApiError(502, "model_error", f"the model failed: {type(e).__name__}: {e}") from e


def _registry(request: Request) -> Any:
    registry = request.app.state.registry
    if registry is None:
        raise ApiError(409, "no_registry", "this gateway serves spec files: start it with --db URL")
    return registry


def _admin_routes(app: FastAPI, router: Router) -> None:
    deps = [Depends(_admin_scope)]

    @app.get("/v1/experiments", dependencies=deps, tags=["admin"])
    async def list_experiments(request: Request) -> list[dict[str, Any]]:
        return [e.to_dict() for e in _registry(request).snapshot().experiments]

    @app.get("/v1/experiments/{name}", dependencies=deps, tags=["admin"])
    async def show(name: str, request: Request) -> dict[str, Any]:
        return _registry(request).get(name).to_dict()

    @app.post("/v1/experiments", dependencies=deps, tags=["admin"], status_code=201)
    async def create(request: Request) -> dict[str, Any]:
        """Register a spec (YAML, or the same as JSON) as a draft."""
        raw = (await request.body()).decode("utf-8", errors="replace")
        if "json" in request.headers.get("content-type", ""):
            try:
                raw = yaml.safe_dump(json.loads(raw), sort_keys=False)
            except json.JSONDecodeError as e:
                raise ApiError(422, "invalid_request", f"not valid JSON: {e}", "body") from e
        state = _registry(request).create(parse_spec(raw, "request body"), reason="created via API")
        router.refresh()
        return state.to_dict()

    @app.post("/v1/experiments/{name}/start", dependencies=deps, tags=["admin"])
    async def start(name: str, request: Request, body: StartRequest | None = None) -> dict:
        body = body or StartRequest()
        state = _registry(request).start(name, shadow=body.shadow, reason=body.reason,
                                         expected_version=body.expected_version)  # fmt: skip
        router.refresh()
        return state.to_dict()

    @app.post("/v1/experiments/{name}/ramp", dependencies=deps, tags=["admin"])
    async def ramp(name: str, body: RampRequest, request: Request) -> dict[str, Any]:
        state = _registry(request).ramp(name, body.to, challenger=body.challenger,
                                        reason=body.reason,
                                        expected_version=body.expected_version)  # fmt: skip
        router.refresh()
        return state.to_dict()

    @app.post("/v1/experiments/{name}/stop", dependencies=deps, tags=["admin"])
    async def stop(name: str, body: StopRequest, request: Request) -> dict[str, Any]:
        state = _registry(request).stop(name, reason=body.reason,
                                        expected_version=body.expected_version)  # fmt: skip
        router.refresh()
        return state.to_dict()


def _ops_routes(app: FastAPI, router: Router) -> None:
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> Response:
        """Readiness: experiments loaded and every one servable."""
        body = {
            "status": "ok" if router.experiments and not router.unavailable else "unready",
            "experiments": sorted(router.experiments),
            "unavailable": router.unavailable,
            "registry_version": router.version,
            "pid": os.getpid(),
        }
        status = 200 if body["status"] == "ok" else 503
        return Response(json.dumps(body), status_code=status, media_type="application/json")

    @app.get("/metrics", tags=["ops"], include_in_schema=True)
    async def metrics(request: Request) -> Response:
        """Prometheus exposition: requests, latency, errors, shadows, event writer counters."""
        writer: EventWriter | None = request.app.state.events
        gauges: GatewayMetrics = request.app.state.metrics
        if writer is not None:
            gauges.record_events(writer.stats().as_dict())
        return Response(render(gauges), media_type=CONTENT_TYPE_LATEST)


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: every worker reads the same ``CHAMPION_*`` settings."""
    return create_app(GatewaySettings())
