"""Routes for delivery controllers: Argo Rollouts' web metric and Flagger's webhooks.

``GET /v1/experiments/{name}/verdict`` always answers 200 with a verdict (a controller must
never read an HTTP error as a pass); Flagger's gate webhooks answer with the status codes
Flagger acts on. Verdicts come from the registry (``champion.monitor.verdict``), computed
in a worker thread and kept for two seconds, so polling controllers cost almost nothing
and never hold the event loop.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from champion.serve.errors import error_responses

__all__ = ["verdict_routes"]

CACHE_SECONDS = 2.0
_ERRORS = error_responses(401, 403, 413, 422)


def _gate(refused: int, when: str) -> dict[int | str, dict[str, Any]]:
    """A Flagger gate's statuses: its refusal carries the verdict, not an error body."""
    return {**_ERRORS, refused: {"description": f"{when} (the body is the verdict); or a "
                                 "token without the scope (an error body)"}}  # fmt: skip


def _unknown(reason: str) -> dict[str, Any]:
    return {"verdict": "inconclusive", "stage": None, "stage_percent": None, "n": {},
            "guardrails": [], "reason": reason}  # fmt: skip


def verdict_routes(app: FastAPI, scope: Any) -> None:
    deps = [Depends(scope)]
    cache: dict[tuple[str, int | None], tuple[float, dict[str, Any]]] = {}

    async def judged(request: Request, name: str, stage: int | None) -> dict[str, Any]:
        registry = request.app.state.registry
        if registry is None:
            return _unknown("this gateway serves spec files: start it with --registry for verdicts")
        key = (name, stage)
        found = cache.get(key)
        if found is not None and time.monotonic() - found[0] < CACHE_SECONDS:
            return found[1]
        from champion.monitor.verdict import experiment_verdict

        try:
            answer = await run_in_threadpool(experiment_verdict, registry, name, stage=stage)
        except Exception as e:  # a registry outage is no pass either
            answer = _unknown(f"cannot read the registry ({type(e).__name__})")
        if len(cache) > 1_000:
            cache.clear()
        cache[key] = (time.monotonic(), answer)
        return answer

    @app.get("/v1/experiments/{name}/verdict", dependencies=deps, tags=["delivery"],
             responses=_ERRORS)  # fmt: skip
    async def verdict(
        name: str, request: Request,
        stage: int | None = Query(None, ge=0, le=100, description="the stage index asked about"),
    ) -> dict[str, Any]:  # fmt: skip
        """pass, fail or inconclusive (no data is never a pass); always HTTP 200."""
        return await judged(request, name, stage)

    async def gate(name: str, request: Request, wanted: str, other: int) -> JSONResponse:
        answer = await judged(request, name, None)
        status = 200 if answer["verdict"] == wanted else other
        return JSONResponse(answer, status_code=status)

    @app.post("/v1/experiments/{name}/flagger/confirm-promotion", dependencies=deps,
              tags=["delivery"], responses=_gate(403, "not pass"))  # fmt: skip
    async def confirm_promotion(name: str, request: Request) -> JSONResponse:
        """Flagger promotes only on 200: 200 when the verdict is pass, else 403."""
        return await gate(name, request, "pass", 403)

    @app.post("/v1/experiments/{name}/flagger/confirm-traffic-increase", dependencies=deps,
              tags=["delivery"], responses=_gate(403, "not pass"))  # fmt: skip
    async def confirm_traffic_increase(name: str, request: Request) -> JSONResponse:
        """Flagger shifts more traffic only on 200: 200 when the verdict is pass, else 403."""
        return await gate(name, request, "pass", 403)

    @app.post("/v1/experiments/{name}/flagger/rollback", dependencies=deps, tags=["delivery"],
              responses=_gate(404, "not fail"))  # fmt: skip
    async def rollback(name: str, request: Request) -> JSONResponse:
        """Flagger rolls back on 200: 200 when the verdict is fail, else 404."""
        return await gate(name, request, "fail", 404)
