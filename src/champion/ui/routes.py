"""The dashboard's routes: the page at ``/ui``, its assets, and its JSON under ``/ui/api``.

The page is one HTML shell, a few small scripts and a stylesheet, all package data served here
(no CDN: the dashboard works offline). The scripts render every view from the JSON routes
and poll them every ``REFRESH_SECONDS``. Reads need the ``predict`` scope (open unless
``CHAMPION_PREDICT_TOKEN`` is set, like the verdict route); actions need ``admin``. Every
route runs its registry and event-store work in the threadpool and none is in the OpenAPI
schema; nothing here touches the serving routes.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from champion.errors import InvalidArgument
from champion.serve.auth import require_scope
from champion.serve.errors import ApiError
from champion.ui.actions import action_routes
from champion.ui.readouts import Insights
from champion.ui.shell import ASSETS, page
from champion.ui.tools import PlanForm, RaceForm, plan_payload, race_payload
from champion.ui.views import experiment_view, list_rows

__all__ = ["REFRESH_SECONDS", "mount_ui"]

REFRESH_SECONDS = 5
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Only champion's own scripts and styles run in the page, it talks only to its origin, and no
# other site may frame it (a framed page could be clicked into an action).
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _read_scope(request: Request) -> None:
    require_scope(request, "predict")


def _registry(request: Request) -> Any:
    registry = getattr(request.app.state, "registry", None)
    if registry is None:
        raise ApiError(409, "no_registry", "this gateway serves spec files: the dashboard needs "
                       "a registry (start it with --registry URL|PATH)")  # fmt: skip
    return registry


def _insights(request: Request) -> Insights:
    found: Insights = request.app.state.ui_insights
    return found


def _admin_enabled(request: Request) -> bool:
    return bool(request.app.state.settings.admin_principals())


def mount_ui(app: FastAPI) -> None:
    """Add the dashboard to ``app`` (the gateway, or ``champion ui``'s own app).

    Reads ``app.state.registry`` and ``app.state.settings`` (tokens, event store) per request.
    """
    settings = app.state.settings
    app.state.ui_insights = Insights(getattr(settings, "events", None))
    reads = [Depends(_read_scope)]

    @app.get("/ui", include_in_schema=False, response_class=HTMLResponse)
    async def shell() -> HTMLResponse:
        return HTMLResponse(page(), headers=_PAGE_HEADERS)

    @app.get("/ui/", include_in_schema=False)
    async def slash() -> RedirectResponse:
        return RedirectResponse("/ui")

    @app.get("/ui/assets/{asset}", include_in_schema=False)
    async def asset(asset: str) -> Response:
        if asset not in ASSETS:
            raise ApiError(404, "not_found", f"no dashboard asset named {asset!r}")
        body = files("champion.ui").joinpath("assets", asset).read_bytes()
        kind = _TYPES[asset[asset.rindex(".") :]]
        headers = {"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(body, media_type=kind, headers=headers)

    @app.get("/ui/api/config", include_in_schema=False, dependencies=reads)
    async def config(request: Request) -> dict[str, Any]:
        """What this dashboard can do: the page says read-only when no admin token is set."""
        return {"admin": _admin_enabled(request),
                "registry": getattr(request.app.state, "registry", None) is not None,
                "events": _insights(request).events is not None,
                "refresh_seconds": REFRESH_SECONDS}  # fmt: skip

    @app.get("/ui/api/experiments", include_in_schema=False, dependencies=reads)
    async def experiments(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(list_rows, _registry(request))

    @app.get("/ui/api/summaries", include_in_schema=False, dependencies=reads)
    async def summaries(request: Request) -> dict[str, Any]:
        registry = _registry(request)
        return await run_in_threadpool(_insights(request).summaries, registry)

    @app.get("/ui/api/experiments/{name}", include_in_schema=False, dependencies=reads)
    async def experiment(name: str, request: Request) -> dict[str, Any]:
        registry, insights = _registry(request), _insights(request)

        def build() -> dict[str, Any]:
            view = experiment_view(registry, name)
            view["verdict"] = insights.verdict(registry, name, view["version"])
            return view

        return await run_in_threadpool(build)

    @app.get("/ui/api/experiments/{name}/readout", include_in_schema=False, dependencies=reads)
    async def readout(name: str, request: Request) -> dict[str, Any]:
        registry = _registry(request)
        return await run_in_threadpool(_insights(request).readout, registry, name)

    @app.get("/ui/api/experiments/{name}/shadow", include_in_schema=False, dependencies=reads)
    async def shadow(name: str, request: Request) -> dict[str, Any]:
        registry = _registry(request)
        return await run_in_threadpool(_insights(request).shadow, registry, name)

    @app.get("/ui/api/experiments/{name}/bandit", include_in_schema=False, dependencies=reads)
    async def bandit(name: str, request: Request) -> dict[str, Any]:
        registry = _registry(request)
        return await run_in_threadpool(_insights(request).bandit, registry, name)

    @app.post("/ui/api/plan", include_in_schema=False, dependencies=reads)
    async def plan(form: PlanForm) -> dict[str, Any]:
        try:
            return await run_in_threadpool(plan_payload, form)
        except InvalidArgument:
            raise
        except ValueError as e:  # make_plan names the argument in its message
            raise ApiError(422, "invalid_argument", str(e), "body") from None

    @app.post("/ui/api/race", include_in_schema=False, dependencies=reads)
    async def race(form: RaceForm) -> dict[str, Any]:
        return await run_in_threadpool(race_payload, form)

    action_routes(app, _registry)
