"""Limits on what a request may carry: the body's size, before anything parses it.

``BodyLimit`` answers 413 to a body above ``max_bytes`` on every route: at once when
``Content-Length`` says so, and for a chunked body as soon as the bytes read pass the
limit (it reads such a body ahead, up to the limit, and hands it on). Specs posted to the
admin API are YAML: :func:`refuse_yaml_aliases` turns away anchors' aliases, which let a
few hundred bytes expand into megabytes.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from champion.serve.errors import ApiError, error_body

__all__ = ["BodyLimit", "refuse_yaml_aliases"]

_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def refuse_yaml_aliases(text: str) -> None:
    """Raise 422 if the YAML uses an alias (``*name``); a YAML error is left to the parser."""
    try:
        for event in yaml.parse(text, Loader=_PARSER):
            if isinstance(event, yaml.AliasEvent):
                raise ApiError(
                    422, "invalid_spec",
                    f"YAML aliases (*{event.anchor}) are not accepted through the API: "
                    "write the spec out in full", "body",
                )  # fmt: skip
    except yaml.YAMLError:
        return


class BodyLimit:
    """ASGI middleware: 413 ``body_too_large`` for a request body above ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                length = value
                break
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._refuse(send, length.decode("latin-1"))
                return
            await self.app(scope, receive, send)  # the server stops at Content-Length
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:  # chunked: read ahead up to the limit
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(send, f"more than {self.max_bytes:,}")
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, size: str) -> None:
        payload = json.dumps(error_body(
            "body_too_large",
            f"the body ({size} bytes) is larger than this gateway accepts "
            f"({self.max_bytes:,} bytes; CHAMPION_MAX_BODY_BYTES)", "body",
        )).encode()  # fmt: skip
        await send({
            "type": "http.response.start", "status": 413,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (b"connection", b"close")],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": payload})
