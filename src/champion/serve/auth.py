"""Bearer tokens with two scopes: ``predict`` (serving) and ``admin`` (changing experiments).

The token is compared as the raw bytes of the header (``hmac.compare_digest``): nothing
but the ASCII spaces HTTP allows around it is removed, so no Unicode space or control
character can turn a token into an empty one. Empty tokens never get this far: the
settings refuse them at start-up. The name of the admin token that made a request (never
the token) is kept in ``request.state.principal`` for the audit log.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from champion.serve.errors import ApiError

__all__ = ["principal", "require_scope"]

_SCHEME = b"bearer "


def _bearer(request: Request) -> bytes | None:
    raw = [v for k, v in request.scope.get("headers", ()) if k == b"authorization"]
    if not raw:
        return None
    header = raw[0]
    if len(raw) > 1 or header[: len(_SCHEME)].lower() != _SCHEME:
        raise ApiError(401, "unauthorized", "use one 'Authorization: Bearer <token>' header")
    token = header[len(_SCHEME) :].strip(b" \t")
    if not token:
        raise ApiError(401, "unauthorized", "the bearer token is empty")
    return token


def _find(token: bytes, tokens: dict[str, str]) -> str | None:
    """The name of the token that matches; every token is compared, so timing says nothing."""
    found = None
    for name, expected in tokens.items():
        if hmac.compare_digest(token, expected.encode()):
            found = name
    return found


def require_scope(request: Request, scope: str) -> None:
    """Raise 401 without a token, 403 with a token lacking ``scope``."""
    settings = request.app.state.settings
    predict: str | None = settings.predict_token
    if scope == "predict" and predict is None:
        return  # serving is open unless a predict token is configured
    admins: dict[str, str] = settings.admin_principals()
    if scope == "admin" and not admins:
        raise ApiError(
            403,
            "admin_disabled",
            "the admin API is disabled: set CHAMPION_ADMIN_TOKEN to enable it",
        )
    token = _bearer(request)
    if token is None:
        raise ApiError(401, "unauthorized", f"missing bearer token for the {scope} API")
    name = _find(token, admins)
    if name is not None:
        request.state.principal = name
        return
    if scope == "predict" and predict is not None and _find(token, {"predict": predict}):
        return
    raise ApiError(403, "forbidden", f"this token does not grant the {scope} scope")


def principal(request: Request) -> str:
    """Who the audit log records for this admin request: ``api:<token name>``."""
    return f"api:{getattr(request.state, 'principal', 'unknown')}"
