"""``POST /v1/experiments/{name}/decide``: ``champion decide apply`` through the admin API.

The read-out is made from the gateway's own event store (``CHAMPION_EVENTS``): a request
cannot name another folder or database, so the admin token reaches no data the operator
did not give the gateway. The decision is applied by ``champion.decide.apply_decision``,
the function the command line uses, and recorded in the audit log under the token's name.
The read-out is always as of now (the command line's ``--as-of`` has no API twin): a
decision applied now is never one read from another time.
The read-out and the registry writes run in the threadpool: a read-out takes seconds and
must never hold a predict.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from champion.serve.auth import principal
from champion.serve.errors import ApiError, error_responses

__all__ = ["DecideRequest", "decide_routes"]

_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 503)


class DecideRequest(BaseModel):
    """What ``champion decide apply`` takes on its command line, as a JSON body."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"dry_run": True},
                                        {"force": True, "reason": "launch review signed off"}]},
    )  # fmt: skip

    dry_run: bool = Field(False, description="say what would be done; change nothing")
    force: bool = Field(False, description="move before rollout.min_stage_hours (needs reason)")
    reason: Annotated[str, Field(max_length=2_000, description="why; kept in the audit log")] = ""
    expected_version: int | None = Field(
        None, ge=1, le=2**31 - 1,
        description="apply only if the experiment is still at this version (the one a dry "
        "run showed); 409 stale_version otherwise",
    )  # fmt: skip


def _decide(request: Request, name: str, body: DecideRequest, events: str) -> dict[str, Any]:
    """The read-out and its decision applied, in one worker thread."""
    from champion.decide import apply_decision, read_out

    registry = request.app.state.registry
    report = read_out(registry, name, events)  # as of now: the decision is applied now
    done = apply_decision(
        registry, name, report, dry_run=body.dry_run, force=body.force, reason=body.reason,
        by=principal(request), expected_version=body.expected_version,
    )  # fmt: skip
    return done.to_dict()


def decide_routes(app: FastAPI, scope: Any) -> None:
    """Register the decide route behind ``scope`` (the admin token)."""

    @app.post("/v1/experiments/{name}/decide", dependencies=[Depends(scope)], tags=["admin"],
              responses=_ERRORS)  # fmt: skip
    async def decide(
        name: str, request: Request, body: DecideRequest | None = None
    ) -> dict[str, Any]:
        """Apply the read-out's decision for its challenger, one rollout stage at a time.

        ``rollout_*`` moves the winner to the spec's next stage (the last one promotes it),
        held ``rollout.min_stage_hours`` unless ``force`` with a ``reason`` (409
        ``stage_held_too_briefly``); ``rollback`` and ``keep`` end the experiment; ``extend``
        changes nothing. ``dry_run`` answers the plan and writes nothing.
        """
        body = body or DecideRequest()
        if request.app.state.registry is None:
            raise ApiError(409, "no_registry",
                           "this gateway serves spec files: start it with --registry URL|PATH "
                           "to apply decisions")  # fmt: skip
        events = request.app.state.settings.events
        if not events:
            raise ApiError(409, "no_event_store",
                           "this gateway has no event store to read the experiment out from: "
                           "start it with --events DIR|URL (CHAMPION_EVENTS), or run "
                           "`champion decide apply NAME --events ...`")  # fmt: skip
        answer = await run_in_threadpool(_decide, request, name, body, events)
        if answer["applied"]:
            await _refresh(request)
        return answer


async def _refresh(request: Request) -> None:
    """Serve the change at once; if that fails the poller picks it up within a second."""
    router = request.app.state.router
    try:
        await run_in_threadpool(router.refresh)
    except Exception:  # the registry poller retries
        return
