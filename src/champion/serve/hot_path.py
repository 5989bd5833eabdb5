"""The predict route's hot path: one ASGI hop from the server to the Router and back.

``POST /v1/experiments/{name}/predict`` carries nearly all of a gateway's traffic. Going
through Starlette's router, FastAPI's dependency solver and its exception middleware costs
more CPU per request than champion's own work (assignment, exposure, metrics), so
:class:`PredictFastPath` answers that route itself when the request is ordinary: a JSON
body that validates as :class:`PredictRequest`, a token that grants the scope, a known
experiment. Anything else (a bad body, a missing token, an unknown or unavailable
experiment) is handed to the FastAPI app unchanged, body included, so that every error is
written by the same handlers and documented by the same OpenAPI route. Nothing has
happened yet at that point: no model ran and nothing was logged.

Once the Router is called, its errors are answered here with the same table
(:func:`champion.serve.errors.error_response`): the request was served (or failed) and
logged exactly once, so it must not be handed on.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from champion.errors import ChampionError, ExperimentNotFound, ExperimentUnavailable
from champion.serve.auth import require_scope
from champion.serve.errors import ApiError, error_response
from champion.serve.router import Routed, Router
from champion.serve.schemas import PredictRequest

__all__ = ["PredictFastPath", "serve_predict", "serving_runtime", "unavailable_experiments"]

_PREFIX = "/v1/experiments/"
_SUFFIX = "/predict"
_JSON_HEADERS = [(b"content-type", b"application/json")]


def unavailable_experiments(router: Router) -> dict[str, str]:
    """Experiments the router could not load, with why (an attribute or a method)."""
    found = getattr(router, "unavailable", None)
    if callable(found):
        found = found()
    return dict(found or {})


def serving_runtime(router: Router, name: str) -> Any:
    """The experiment's runtime; 503 for one registered here but failing to load."""
    try:
        return router.runtime(name)
    except ExperimentNotFound:
        problem = unavailable_experiments(router).get(name)
        if problem is not None:
            raise ExperimentUnavailable(name, problem) from None
        raise


async def serve_predict(
    router: Router, name: str, unit: str | None, features: dict, attributes: dict,
    request_id: str | None,
) -> Routed:  # fmt: skip
    """One prediction with the HTTP layer's rules: the unit a keyed experiment needs, and
    any exception of a model's own reported as the model's failure (502)."""
    if serving_runtime(router, name).spec.unit != "request" and unit is None:
        raise ApiError(
            422, "invalid_request", "unit_id is required for this experiment", "body.unit_id"
        )
    try:
        return await router.apredict(name, unit, features, attributes, request_id=request_id)
    except (ChampionError, ApiError):
        raise  # statuses from the one table: a model failing 502, timing out 504 ...
    except Exception as e:  # an adapter that raised something of its own: still the model's
        raise ApiError(502, "model_error", f"the model failed: {type(e).__name__}: {e}") from e


class PredictFastPath:
    """ASGI middleware: the predict route without Starlette's routing (see the module)."""

    def __init__(self, app: Any, router: Router) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http" or scope["method"] != "POST"
            or not path.startswith(_PREFIX) or not path.endswith(_SUFFIX)
        ):  # fmt: skip
            await self.app(scope, receive, send)
            return
        name = path[len(_PREFIX) : -len(_SUFFIX)]
        first = await receive()  # a client usually sends the body in one message
        body_request = None
        if first["type"] == "http.request" and not first.get("more_body", False):
            body_request = _ordinary(self.router, scope, name, first.get("body", b""))
        if body_request is None:
            await self.app(scope, _replay(first, receive), send)
            return
        try:
            routed = await serve_predict(
                self.router, name, body_request.unit_id, body_request.features,
                body_request.attributes, body_request.request_id,
            )  # fmt: skip
        except Exception as e:
            status, payload = error_response(scope.get("app"), name, e)
            await _answer(send, status, payload)
            return
        await _answer(send, 200, routed.to_json())


def _ordinary(router: Router, scope: dict, name: str, body: bytes) -> PredictRequest | None:
    """The parsed request when this path can serve it; None to hand it to the app."""
    if not name or "/" in name or scope.get("app") is None:
        return None
    try:
        require_scope(Request(scope), "predict")
        parsed = PredictRequest.model_validate_json(body)
        serving_runtime(router, name)
    except (ApiError, ValidationError, ChampionError):
        return None
    return parsed


def _replay(first: dict, receive: Any) -> Any:
    """A ``receive`` that hands the app the message already read, then the rest."""
    sent = False

    async def replayed() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()  # type: ignore[no-any-return]

    return replayed


async def _answer(send: Any, status: int, payload: bytes) -> None:
    await send({
        "type": "http.response.start", "status": status,
        "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": payload})
