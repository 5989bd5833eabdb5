"""The dashboard's actions: start, ramp, pause, resume, stop and promote, behind the admin token.

Each is the registry call the admin API and ``champion experiment`` make, under the same
scope check (``require_scope(request, "admin")``: 403 ``admin_disabled`` when no admin
token is configured, 401 without a token, 403 with a token lacking the scope) and recorded
under the same principal. A reason is required for every action, so the audit entry says
why; the answer carries that entry, which the page shows.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from champion.errors import InvalidArgument
from champion.registry import Registry
from champion.serve.auth import principal, require_scope

__all__ = ["ActionForm", "act", "action_routes"]

log = logging.getLogger("champion.ui")

Action = Literal["start", "ramp", "pause", "resume", "stop", "promote"]


class ActionForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="why: kept in the audit log")
    to: float | None = Field(None, ge=0, le=100, description="ramp: the challenger's percent")
    challenger: str | None = Field(None, max_length=200, description="ramp, promote: which one")
    expected_version: int | None = Field(None, ge=1, description="the version you saw")


def act(registry: Registry, name: str, action: str, form: ActionForm, by: str) -> dict[str, Any]:
    """Apply ``action`` to ``name``; the new state and the audit entry it wrote."""
    common: dict[str, Any] = {"reason": form.reason.strip(), "by": by,
                              "expected_version": form.expected_version}  # fmt: skip
    if action == "start":
        state = registry.start(name, **common)
    elif action == "ramp":
        if form.to is None:
            raise InvalidArgument("to", None, "ramp needs the challenger's new percent, 0 to 100")
        state = registry.ramp(name, form.to, challenger=form.challenger, **common)
    elif action == "promote":
        state = registry.promote(name, challenger=form.challenger, **common)
    else:
        state = getattr(registry, action)(name, **common)
    entry = registry.history(name)[-1]
    return {"state": state.to_dict(), "audit": {**entry.to_dict(), "evidence": entry.evidence}}


def action_routes(app: FastAPI, registry_of: Any) -> None:
    @app.post("/ui/api/experiments/{name}/actions/{action}", include_in_schema=False)
    async def action(
        name: str, action: Action, form: ActionForm, request: Request
    ) -> dict[str, Any]:
        require_scope(request, "admin")
        registry = registry_of(request)
        done = await run_in_threadpool(act, registry, name, action, form, principal(request))
        router = getattr(request.app.state, "router", None)
        if router is not None:  # serve the change now, not at the next registry poll
            try:
                await run_in_threadpool(router.refresh)
            except Exception as e:
                log.warning("refresh after a dashboard action failed (the poller retries): %s", e)
        return done
