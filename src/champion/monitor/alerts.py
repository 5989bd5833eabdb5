"""Webhook alerts that never block the monitor: queued, posted by one daemon thread, retried.

A Slack incoming webhook (or any endpoint that takes JSON) gets one POST per alert:
``{"text", "kind", "experiment", "evidence", "at"}``. The monitor's tick must not wait on
Slack, so :meth:`Webhook.send` only enqueues; a full queue drops the alert and counts it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from champion.errors import InvalidArgument

__all__ = ["KINDS", "Alert", "Webhook"]

logger = logging.getLogger("champion.monitor")

KINDS = ("violation", "stop", "advance", "rollback", "pause", "error")
_URL_RULE = "an http:// or https:// URL, e.g. https://hooks.slack.com/services/..."
_CLOSE_DRAIN = 2.0  # seconds close() waits for queued alerts before giving them up


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing a human should hear about; ``text`` is the line they read in Slack."""

    kind: str
    experiment: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidArgument("kind", self.kind, f"one of {', '.join(KINDS)}")


class Webhook:
    """Posts alerts to one URL from a background thread; ``sent`` and ``failures`` count them.

    Connection errors, timeouts, 5xx and 429 are retried ``retries`` times after the first
    try, waiting ``backoff * 2**attempt``; any other status is final. A given-up alert is
    logged (the URL without credentials or query) and ``on_failure`` is called.
    """

    def __init__(
        self, url: str, *, timeout: float = 5.0, retries: int = 3, backoff: float = 0.5,
        headers: Mapping[str, str] | None = None, on_failure: Callable[[], None] | None = None,
        queue_size: int = 1000,
    ) -> None:  # fmt: skip
        self._url = url
        self.safe_url = _safe_url(url)
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise InvalidArgument("webhook_timeout", timeout, "a finite number of seconds > 0")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgument("webhook_retries", retries, "a whole number >= 0")
        if not (isinstance(backoff, int | float) and math.isfinite(backoff) and backoff >= 0):
            raise InvalidArgument("webhook_backoff", backoff, "a finite number of seconds >= 0")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise InvalidArgument("webhook_queue_size", queue_size, "a whole number >= 1")
        self._retries = retries
        self._backoff = float(backoff)
        self._on_failure = on_failure
        self._client = httpx.Client(timeout=timeout, headers=dict(headers or {}))
        self._queue: queue.Queue[tuple[Alert, str] | None] = queue.Queue(maxsize=queue_size)
        self._cond = threading.Condition()
        self._pending = 0  # queued or being delivered; flush() waits for zero
        self._sent = 0
        self._failures = 0
        self._closed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"champion-webhook {self.safe_url}", daemon=True
        )
        self._thread.start()

    @property
    def sent(self) -> int:
        """Alerts the endpoint accepted (2xx)."""
        return self._sent

    @property
    def failures(self) -> int:
        """Alerts given up on: retries exhausted, refused, dropped at a full queue or at close."""
        return self._failures

    def send(self, alert: Alert) -> None:
        """Queue the alert and return at once; a full or closed queue drops it (counted)."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._cond:
            if self._closed:
                reason = "the webhook is closed"
            else:
                try:
                    self._queue.put_nowait((alert, at))
                except queue.Full:
                    reason = f"the queue is full ({self._queue.maxsize} alerts waiting)"
                else:
                    self._pending += 1
                    return
        self._give_up(alert, f"dropped: {reason}")

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued alert is delivered or given up (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = _CLOSE_DRAIN) -> None:
        """Stop taking alerts, drain for up to ``timeout`` seconds, then stop the thread."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        self.flush(timeout)
        self._stop.set()  # cuts back-off waits short; what is left is given up
        with contextlib.suppress(queue.Full):  # when full, the thread stops once it is empty
            self._queue.put_nowait(None)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._client.close()

    def __enter__(self) -> Webhook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            alert, at = item
            try:
                if self._stop.is_set():
                    self._give_up(alert, "dropped: the webhook closed before delivery")
                else:
                    self._deliver(alert, at)
            except Exception as e:  # the thread must outlive any one bad alert
                self._give_up(alert, f"{type(e).__name__}: {e}")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()
            if self._stop.is_set() and self._queue.empty():
                return

    def _deliver(self, alert: Alert, at: str) -> None:
        body = json.dumps(
            {
                "text": alert.text,
                "kind": alert.kind,
                "experiment": alert.experiment,
                "evidence": _jsonable(alert.evidence),
                "at": at,
            },
            default=str,
        ).encode()
        error, attempts = "", 0
        for attempt in range(self._retries + 1):
            if attempt and self._stop.wait(self._backoff * 2 ** (attempt - 1)):
                error += " (then the webhook closed)"
                break
            attempts += 1
            try:
                response = self._client.post(
                    self._url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as e:  # connection refused, timeouts, protocol errors
                error = f"{type(e).__name__}: {e}".replace(self._url, self.safe_url)
                continue
            if response.is_success:
                with self._cond:
                    self._sent += 1
                return
            error = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break  # the endpoint refused this alert; sending it again will not help
        self._give_up(alert, error, attempts=attempts)

    def _give_up(self, alert: Alert, error: str, attempts: int = 0) -> None:
        with self._cond:
            self._failures += 1
        tries = f" after {attempts} attempt(s)" if attempts else ""
        logger.warning(
            "webhook %s: %s alert for %r not delivered%s: %s",
            self.safe_url, alert.kind, alert.experiment, tries, error,
        )  # fmt: skip
        if self._on_failure is not None:
            try:
                self._on_failure()
            except Exception:
                logger.exception("webhook %s: the on_failure hook failed", self.safe_url)


def _safe_url(url: object) -> str:
    """``scheme://host:port/first-segment/***``: no user, password, query, fragment or token."""
    if not isinstance(url, str):
        raise InvalidArgument("webhook", url, _URL_RULE)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:  # an unclosed IPv6 bracket, a port out of range
        raise InvalidArgument("webhook", url, _URL_RULE) from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument("webhook", url, _URL_RULE)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    # Webhook URLs carry their token in the path (Slack: /services/T…/B…/<token>): keep
    # the first segment, which says what the endpoint is, and mask the rest
    segments = parts.path.split("/")
    path = "/".join(segments[:2]) + ("/***" if len(segments) > 2 else "")
    return f"{parts.scheme}://{host}:{port}{path}"


def _jsonable(value: Any) -> Any:
    """Evidence with NaN and infinities as strings: strict JSON parsers refuse the bare tokens."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
