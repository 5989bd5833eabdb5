"""``champion ui``'s own app: the dashboard over a registry and an event store, no gateway.

It serves no predictions and loads no model. Its admin scope is the gateway's
(``CHAMPION_ADMIN_TOKEN`` / ``CHAMPION_ADMIN_TOKENS``): without one configured every
action is refused, so a dashboard started for reading cannot change an experiment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from champion.serve.errors import install_error_handlers
from champion.serve.settings import GatewaySettings
from champion.ui.routes import mount_ui

__all__ = ["create_ui_app"]


def create_ui_app(settings: GatewaySettings) -> FastAPI:
    """The dashboard alone, over ``settings.db`` (the registry) and ``settings.events``."""
    from champion.registry import Registry

    registry = Registry(settings.db, busy_timeout=settings.registry_timeout)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        registry.close()

    app = FastAPI(title="champion dashboard", version="1", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)  # fmt: skip
    app.state.settings = settings
    app.state.registry = registry
    app.state.router = None
    install_error_handlers(app)
    mount_ui(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
