"""One error body for every HTTP error: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from champion.errors import (
    ChampionError,
    ExperimentExists,
    ExperimentNotFound,
    InvalidArgument,
    InvalidTransition,
    SpecError,
    StaleVersion,
)

__all__ = ["ApiError", "error_body", "install_error_handlers"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _json(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status)


_BY_TYPE: tuple[tuple[type[Exception], int, str], ...] = (
    (ExperimentNotFound, 404, "experiment_not_found"),
    (ExperimentExists, 409, "experiment_exists"),
    (StaleVersion, 409, "stale_version"),
    (InvalidTransition, 409, "invalid_transition"),
    (SpecError, 422, "invalid_spec"),
    (InvalidArgument, 422, "invalid_argument"),
)


def _validation_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError) -> JSONResponse:
        return _json(e.status, e.code, e.message, e.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0]
        field = _validation_field(tuple(first.get("loc", ())))
        messages = "; ".join(
            f"{_validation_field(tuple(err.get('loc', ())))}: {err['msg']}" for err in e.errors()
        )
        return _json(422, "invalid_request", messages, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return _json(e.status_code, code, str(e.detail))

    @app.exception_handler(ChampionError)
    async def _champion(_: Request, e: ChampionError) -> JSONResponse:
        for kind, status, code in _BY_TYPE:
            if isinstance(e, kind):
                return _json(
                    status, code, str(e), getattr(e, "name", None) if status == 422 else None
                )
        return _json(500, "internal_error", str(e))

    @app.exception_handler(Exception)
    async def _fault(_: Request, e: Exception) -> JSONResponse:
        return _json(500, "internal_error", f"{type(e).__name__}: {e}")
