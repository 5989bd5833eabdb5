"""Bearer tokens with two scopes: ``predict`` (serving) and ``admin`` (changing experiments)."""

from __future__ import annotations

import hmac

from fastapi import Request

from champion.serve.errors import ApiError

__all__ = ["require_scope"]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "use 'Authorization: Bearer <token>'")
    return token.strip()


def _matches(token: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(token.encode(), expected.encode())


def require_scope(request: Request, scope: str) -> None:
    """Raise 401 without a token, 403 with a token lacking ``scope``."""
    settings = request.app.state.settings
    admin, predict = settings.admin_token, settings.predict_token
    if scope == "predict" and predict is None:
        return  # serving is open unless a predict token is configured
    if scope == "admin" and admin is None:
        raise ApiError(
            403,
            "admin_disabled",
            "the admin API is disabled: set CHAMPION_ADMIN_TOKEN to enable it",
        )
    token = _bearer(request)
    if token is None:
        raise ApiError(401, "unauthorized", f"missing bearer token for the {scope} API")
    if _matches(token, admin) or (scope == "predict" and _matches(token, predict)):
        return
    raise ApiError(403, "forbidden", f"this token does not grant the {scope} scope")
