"""Models behind an HTTP upstream: Open Inference Protocol v2 or plain JSON, via httpx.

The async path is native (``httpx.AsyncClient``, one per event loop), so a slow upstream
never holds a worker thread. Every failure (timeout, connection refused, non-2xx, a body
that is not what the protocol says) becomes a :class:`PredictionError` naming the model
and the URL; at start-up the same failures are a :class:`ModelLoadError`.
"""

from __future__ import annotations

import asyncio
import json
import os
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from champion.errors import ModelLoadError, PredictionError
from champion.models.base import (
    AdapterOptions,
    ModelAdapter,
    Prediction,
    missing_features,
    parse_options,
    require,
    to_prediction,
)
from champion.models.oip import (
    Datatype,
    InferenceResponse,
    columns_request,
    decode_output,
    tensor_request,
)

__all__ = ["HttpAdapter", "HttpOptions"]


class HttpOptions(AdapterOptions):
    protocol: Literal["v2", "json"] = Field(default="v2", description="Open Inference Protocol v2")
    model: str | None = Field(default=None, description="v2: upstream model name; default: ours")
    version: str | None = Field(default=None, description="v2: upstream model version")
    layout: Literal["tensor", "columns"] | None = Field(
        default=None,
        description="v2: one [rows, features] tensor (default with features) or columns",
    )
    input: str = Field(default="input", min_length=1, description="v2: name of the tensor input")
    datatype: Datatype = Field(default="FP32", description="v2: datatype of the tensor input")
    output: str | None = Field(default=None, description="v2: output to serve; default: the first")
    parameters: dict[str, Any] | None = Field(default=None, description="v2: request parameters")
    field: str | None = Field(default=None, description="json: dotted path of the prediction")
    batch: bool = Field(default=True, description="json: POST a list of rows for a batch")
    proba: Literal["positive", "vector"] = "positive"
    timeout: float = Field(default=1.0, gt=0, description="seconds per request")
    headers: dict[str, str] = Field(default_factory=dict, description="${VAR} reads the env")
    check: bool = Field(default=True, description="v2: GET .../ready at load time")


class HttpAdapter(ModelAdapter):
    """An upstream model server; ``target`` is its base URL (v2) or the URL to POST (json)."""

    kind = "http"

    def __init__(self, name: str, target: str, options: HttpOptions | None = None) -> None:
        opts = options or HttpOptions()
        super().__init__(name, features=opts.features, example=opts.example, inline=opts.inline)
        if not target.startswith(("http://", "https://")):
            raise ModelLoadError(
                name, f"target {target!r} is not an http:// or https:// URL of the upstream"
            )
        if opts.layout == "tensor" and not opts.features:
            raise ModelLoadError(
                name, "options.features is required for layout tensor: list the columns in order"
            )
        self.options = opts
        base = target.rstrip("/")
        self.ready_url: str | None = None
        if opts.protocol == "v2":
            model = f"{base}/v2/models/{opts.model or name}"
            if opts.version:
                model += f"/versions/{opts.version}"
            self.url, self.ready_url = f"{model}/infer", f"{model}/ready"
        else:
            self.url = target
        self.layout = opts.layout or ("tensor" if opts.features else "columns")
        self._httpx: Any = None
        self._client: Any = None
        self._aclient: Any = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._headers: dict[str, str] = {}

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> HttpAdapter:
        return cls(name, target, parse_options(name, HttpOptions, options))

    def load(self) -> None:
        self._httpx = require(self.name, "httpx", "http")
        self._headers = {k: self._expand(k, v) for k, v in self.options.headers.items()}
        self._client = self._httpx.Client(timeout=self.options.timeout, headers=self._headers)
        if self.ready_url is not None and self.options.check:
            try:
                response = self._client.get(self.ready_url)
            except self._httpx.HTTPError as e:
                self.close()
                raise ModelLoadError(self.name, self._transport_problem(e, self.ready_url)) from e
            if response.status_code != 200:
                self.close()
                raise ModelLoadError(
                    self.name,
                    f"{self.ready_url} answered HTTP {response.status_code} "
                    f"({_snippet(response.text)}): the upstream model is not ready; "
                    "check the URL and options.model",
                )
        self.loaded = True

    def _expand(self, key: str, value: str) -> str:
        try:
            return string.Template(value).substitute(os.environ)
        except (KeyError, ValueError) as e:
            raise ModelLoadError(
                self.name, f"options.headers.{key} refers to ${{{e.args[0]}}}, which is not set"
            ) from None

    def close(self) -> None:
        """Close the sync client; prefer ``await aclose()`` where an event loop runs."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._aclient is not None:
            loop, client = self._aloop, self._aclient
            self._aclient, self._aloop = None, None
            if loop is not None and loop.is_running():  # let its own loop close it
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient, self._aloop = None, None
        self.close()

    # -- requests ----------------------------------------------------------------------

    def _requests(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, int]]:
        """The JSON bodies to POST for these rows, each with the number of rows it holds."""
        opts = self.options
        features = self.features
        if features is not None and any(f not in row for row in rows for f in features):
            raise missing_features(self.name, rows, features)
        if opts.protocol == "json":
            clean = [{f: row[f] for f in features} if features else dict(row) for row in rows]
            if opts.batch and len(clean) > 1:
                return [(clean, len(clean))]
            return [(row, 1) for row in clean]
        outputs = [opts.output] if opts.output else None
        if self.layout == "tensor":
            assert features is not None
            request = tensor_request(
                rows,
                features,
                input_name=opts.input,
                datatype=opts.datatype,
                outputs=outputs,
                parameters=opts.parameters,
            )
        else:
            columns = features or list(rows[0])
            if any(c not in row for row in rows for c in columns):
                raise missing_features(self.name, rows, columns)
            request = columns_request(rows, columns, outputs=outputs, parameters=opts.parameters)
        return [(request.model_dump(mode="json", exclude_none=True), len(rows))]

    def _parse(self, response: Any, n: int) -> list[Prediction]:
        if not 200 <= response.status_code < 300:
            raise PredictionError(
                self.name,
                f"{self.url} answered HTTP {response.status_code}: {_snippet(response.text)}",
            )
        try:
            body = response.json()
        except ValueError:
            raise PredictionError(
                self.name,
                f"{self.url} answered with a body that is not JSON: {_snippet(response.text)}",
            ) from None
        try:
            if self.options.protocol == "json":
                return self._parse_json(body, n)
            return self._parse_v2(body, n)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise PredictionError(self.name, f"malformed response from {self.url}: {e}") from e

    def _parse_v2(self, body: Any, n: int) -> list[Prediction]:
        try:
            parsed = InferenceResponse.model_validate(body)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(body)"
            raise ValueError(f"not an inference response: {where}: {first['msg']}") from None
        wanted = self.options.output
        if wanted is None and not parsed.outputs:
            raise ValueError("the response has no outputs")
        output = next((o for o in parsed.outputs if wanted in (None, o.name)), None)
        if output is None:
            names = ", ".join(o.name for o in parsed.outputs) or "none"
            raise ValueError(f"no output {wanted!r} (outputs: {names}); check options.output")
        return decode_output(output, n, positive=self.options.proba == "positive")

    def _parse_json(self, body: Any, n: int) -> list[Prediction]:
        field = self.options.field
        if n == 1:  # a single row is POSTed as one object
            return [to_prediction(_dig(body, field))]
        values = [_dig(item, field) for item in body] if isinstance(body, list) else None
        if values is None:
            values = _dig(body, field)
            if not isinstance(values, list):
                raise ValueError(f"a batch of {n} rows needs a list, got {type(values).__name__}")
        if len(values) != n:
            raise ValueError(f"{len(values)} predictions for {n} rows")
        return [to_prediction(v) for v in values]

    def _transport_problem(self, e: Exception, url: str) -> str:
        httpx = self._httpx
        if isinstance(e, httpx.TimeoutException):
            return f"{url} did not answer within {self.options.timeout} s (options.timeout)"
        if isinstance(e, httpx.ConnectError):
            return f"cannot connect to {url}: {e or 'connection refused'}"
        return f"request to {url} failed: {type(e).__name__}: {e}"

    def _post_error(self, e: Exception) -> PredictionError:
        if isinstance(e, TypeError):
            return PredictionError(self.name, f"features are not JSON-serialisable: {e}")
        return PredictionError(self.name, self._transport_problem(e, self.url))

    # -- sync and async calls --------------------------------------------------------------

    def predict(self, features: Mapping[str, Any]) -> Prediction:
        return self.predict_batch([features])[0]

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if self._client is None:
            raise self._unloaded()
        out: list[Prediction] = []
        for body, n in self._requests(rows):
            try:
                response = self._client.post(self.url, json=body)
            except (self._httpx.HTTPError, TypeError) as e:
                raise self._post_error(e) from e
            out.extend(self._parse(response, n))
        return out

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            self._aclient = self._httpx.AsyncClient(
                timeout=self.options.timeout, headers=self._headers
            )
            self._aloop = loop
        return self._aclient

    @property
    def is_async(self) -> bool:
        return True

    async def apredict(self, features: Mapping[str, Any]) -> Prediction:
        return (await self.apredict_batch([features]))[0]

    async def apredict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if not self.loaded or self._httpx is None:
            raise self._unloaded()
        client = self._async_client()

        async def send(body: Any, n: int) -> list[Prediction]:
            try:
                response = await client.post(self.url, json=body)
            except (self._httpx.HTTPError, TypeError) as e:
                raise self._post_error(e) from e
            return self._parse(response, n)

        parts = await asyncio.gather(*(send(body, n) for body, n in self._requests(rows)))
        return [p for part in parts for p in part]


def _dig(body: Any, path: str | None) -> Any:
    if not path:
        return body
    value = body
    for part in path.split("."):
        if isinstance(value, list) and part.lstrip("-").isdigit():
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            snippet = _snippet(json.dumps(body))
            raise ValueError(f"no field {path!r} in {snippet}; check options.field")
    return value


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")
