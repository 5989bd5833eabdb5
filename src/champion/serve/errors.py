"""One error body for every HTTP error: ``{"error": {"code", "message", "field"}}``.

Statuses come from one table, by category of ``champion.errors`` (the most specific class
in an error's MRO wins): the caller's input 422, forbidden by configuration 403, missing
404, conflicting with the current state 409, a store or experiment unavailable 503, a model
failing 502 and a model timing out 504. ``field`` is where in the request the problem is
(``body.unit_id``, ``body.outcomes.0.ts``, ``path.name``), or null.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from champion.errors import (
    ChampionError,
    Conflict,
    EventWriterClosed,
    InvalidArgument,
    InvalidFeatures,
    InvalidInput,
    JournalUnavailable,
    NotAllowed,
    NotFound,
    PredictionError,
    SpecError,
    Unavailable,
    UpstreamError,
    UpstreamTimeout,
)

__all__ = [
    "STATUS",
    "ApiError",
    "ErrorBody",
    "error_body",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "status_of",
]

# The one table: category -> HTTP status. Anything else champion raises is a 500.
STATUS: dict[type[ChampionError], int] = {
    InvalidInput: 422,
    NotAllowed: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
    UpstreamError: 502,
    UpstreamTimeout: 504,
}


class ApiError(Exception):
    """An error the HTTP layer itself decides (auth, limits, missing store)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable: experiment_not_found, invalid_request ...")
    message: str = Field(description="what went wrong and how to fix it")
    field: str | None = Field(
        None, description="where in the request: body.unit_id, body.outcomes.0.ts, path.name"
    )


class ErrorBody(BaseModel):
    """Every error the gateway answers has this body."""

    error: ErrorDetail


_DESCRIPTIONS = {
    401: "missing or malformed bearer token",
    403: "the token lacks the scope, the admin API is disabled, or the spec is not allowed",
    404: "no such experiment",
    409: "conflicts with the current state (lifecycle, version, name taken)",
    413: "the body is larger than the gateway accepts",
    422: "the request is invalid; `field` says where",
    500: "a fault in the gateway",
    502: "the model (or the service behind it) failed",
    503: "the registry, the event journal or the experiment is unavailable now",
    504: "the model did not answer in time",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route: each status with the error body."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _json(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status)


def _is_timeout(e: BaseException) -> bool:
    """A prediction error caused by a timeout (an HTTP model's httpx.TimeoutException)."""
    cause = e.__cause__
    return cause is not None and any(
        c is TimeoutError or c.__name__ == "TimeoutException" for c in type(cause).__mro__
    )


def status_of(e: ChampionError) -> int:
    """The HTTP status of a champion error: its most specific category in ``STATUS``."""
    if isinstance(e, PredictionError) and not isinstance(e, InvalidInput) and _is_timeout(e):
        return 504
    for cls in type(e).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def _code_of(e: ChampionError, status: int) -> str:
    if status == 504 and not isinstance(e, UpstreamTimeout):
        return UpstreamTimeout.code
    return e.code


def _field_of(e: ChampionError) -> str | None:
    if isinstance(e, InvalidFeatures):
        return "body.features"
    if isinstance(e, InvalidArgument):
        return f"body.{e.name}"
    if isinstance(e, SpecError):
        return "body"
    where = getattr(e, "field", None) if isinstance(e, NotAllowed) else None
    return None if where is None else f"body.{where}"


def _location(loc: tuple[Any, ...]) -> str:
    """A request path from pydantic's location: ("body", "outcomes", 0, "ts") -> body.outcomes.0.ts.

    A JSON body that does not parse is located by a byte offset: that is just ``body``.
    """
    if len(loc) == 2 and loc[0] == "body" and isinstance(loc[1], int):
        return "body"
    return ".".join(str(p) for p in loc) or "body"


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def error_response(app: Any, experiment: str | None, e: Exception) -> tuple[int, bytes]:
    """Status and JSON body for an error raised while serving (the handlers' table), for
    a caller outside FastAPI's exception handling (the predict hot path)."""
    if isinstance(e, ApiError):
        status, body = e.status, error_body(e.code, e.message, e.field)
    elif isinstance(e, ChampionError):
        status, body = _champion_error(app, experiment, e)
    else:
        status, body = 500, error_body("internal_error", f"{type(e).__name__}: {e}")
    return status, json.dumps(body).encode()


def _champion_error(app: Any, experiment: str | None, e: ChampionError) -> tuple[int, dict]:
    if isinstance(e, JournalUnavailable | EventWriterClosed) and app is not None:
        # Readiness reports it; the request was answered with an error, so count it.
        app.state.events_failed = (time.monotonic(), str(e))
        metrics = getattr(app.state, "metrics", None)
        if experiment and metrics is not None:
            metrics.errors.labels(experiment, "-").inc()
    status = status_of(e)
    return status, error_body(_code_of(e, status), str(e), _field_of(e))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError) -> JSONResponse:
        return _json(e.status, e.code, e.message, e.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        first = errors[0] if errors else {}
        messages = "; ".join(
            f"{_location(tuple(err.get('loc', ())))}: {err['msg']}" for err in errors[:10]
        )
        return _json(422, "invalid_request", messages, _location(tuple(first.get("loc", ()))))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 400:  # FastAPI could not decode the body: the caller's input
            return _json(422, "invalid_request", "the body is not valid JSON in UTF-8", "body")
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            e.status_code, "http_error"
        )
        response = _json(e.status_code, code, str(e.detail))
        response.headers.update(e.headers or {})
        if e.status_code == 405:
            response.headers["allow"] = _allowed_methods(request)
        return response

    @app.exception_handler(ChampionError)
    async def _champion(request: Request, e: ChampionError) -> JSONResponse:
        status, body = _champion_error(request.app, request.path_params.get("name"), e)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(Exception)
    async def _fault(_: Request, e: Exception) -> JSONResponse:
        return _json(500, "internal_error", f"{type(e).__name__}: {e}")
