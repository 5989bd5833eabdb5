"""Webhook alerts against a real HTTP server on 127.0.0.1 that records what it receives."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from champion.errors import InvalidArgument
from champion.monitor.alerts import Alert, Webhook

ALERT = Alert("stop", "fraud-v2", "fraud-v2 stopped: p99 latency breached 3 looks", {"k": 3})


@dataclass
class Endpoint:
    """What the test server answers (``statuses`` in turn, the last repeats) and what it saw."""

    url: str
    statuses: list[int]
    delay: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: Endpoint

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out leaves a broken pipe behind: expected, not news."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        endpoint = self.server.endpoint
        body = self.rfile.read(int(self.headers["content-length"]))
        endpoint.bodies.append(json.loads(body))
        if endpoint.delay:
            endpoint.release.wait(endpoint.delay)
        self.send_response(endpoint.next_status())
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


Serve = Callable[..., Endpoint]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a recording server: ``serve(500, 200, delay=0.0, query="")`` -> Endpoint."""
    servers: list[tuple[_Server, threading.Thread]] = []

    def start(*statuses: int, delay: float = 0.0, path: str = "/hook") -> Endpoint:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.endpoint = Endpoint(
            f"http://127.0.0.1:{server.server_port}{path}", list(statuses or (200,)), delay
        )
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.endpoint

    yield start
    for server, thread in servers:
        server.endpoint.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def fast(url: str, **kwargs: Any) -> Webhook:
    options: dict[str, Any] = {"timeout": 1.0, "retries": 2, "backoff": 0.01} | kwargs
    return Webhook(url, **options)


def test_delivered_body_has_the_alert_fields_and_slack_text(serve: Serve) -> None:
    endpoint = serve(200)
    with fast(endpoint.url) as hook:
        hook.send(ALERT)
        assert hook.flush(5)
        assert (hook.sent, hook.failures) == (1, 0)
    [body] = endpoint.bodies
    assert body["text"] == ALERT.text
    assert (body["kind"], body["experiment"], body["evidence"]) == ("stop", "fraud-v2", {"k": 3})
    assert datetime.fromisoformat(body["at"]).utcoffset() is not None


def test_non_finite_evidence_is_sent_as_strict_json(serve: Serve) -> None:
    endpoint = serve(200)
    with fast(endpoint.url) as hook:
        hook.send(Alert("violation", "e", "t", {"upper": float("inf"), "xs": (1.0, float("nan"))}))
        assert hook.flush(5)
    assert endpoint.bodies[0]["evidence"] == {"upper": "inf", "xs": [1.0, "nan"]}


def test_server_errors_are_retried_until_delivered(serve: Serve) -> None:
    endpoint = serve(500, 500, 200)
    with fast(endpoint.url, retries=3) as hook:
        hook.send(ALERT)
        assert hook.flush(5)
        assert (hook.sent, hook.failures) == (1, 0)
    assert len(endpoint.bodies) == 3


def test_429_is_retried(serve: Serve) -> None:
    endpoint = serve(429, 200)
    with fast(endpoint.url) as hook:
        hook.send(ALERT)
        assert hook.flush(5)
        assert hook.sent == 1
    assert len(endpoint.bodies) == 2


def test_giving_up_counts_calls_the_hook_and_logs_without_secrets(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = serve(500)
    url = endpoint.url.replace("http://", "http://bot:pa55word@") + "?token=s3cr3t#frag"
    calls: list[int] = []
    with (
        caplog.at_level(logging.WARNING, logger="champion.monitor"),
        fast(url, retries=2, on_failure=lambda: calls.append(1)) as hook,
    ):
        hook.send(ALERT)
        assert hook.flush(5)
        assert (hook.sent, hook.failures) == (0, 1)
    assert len(endpoint.bodies) == 3  # the first try and two retries
    assert calls == [1]
    [record] = [r for r in caplog.records if r.name == "champion.monitor"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert endpoint.url in message  # scheme://host:port/path
    assert "HTTP 500" in message
    for secret in ("s3cr3t", "token", "pa55word", "bot", "frag"):
        assert secret not in message


def test_client_errors_other_than_429_are_not_retried(serve: Serve) -> None:
    endpoint = serve(400)
    with fast(endpoint.url, retries=3) as hook:
        hook.send(ALERT)
        assert hook.flush(5)
        assert (hook.sent, hook.failures) == (0, 1)
    assert len(endpoint.bodies) == 1


def test_a_slow_endpoint_never_slows_send_and_its_timeout_is_a_failure(serve: Serve) -> None:
    endpoint = serve(200, delay=5.0)
    with fast(endpoint.url, timeout=0.1, retries=1) as hook:
        started = time.perf_counter()
        hook.send(ALERT)
        assert time.perf_counter() - started < 0.05
        assert hook.flush(5)
        assert (hook.sent, hook.failures) == (0, 1)
    assert len(endpoint.bodies) == 2  # timeouts are retried


def test_a_full_queue_drops_alerts_without_blocking(serve: Serve) -> None:
    endpoint = serve(200, delay=5.0)
    calls: list[int] = []
    hook = fast(
        endpoint.url, timeout=0.2, retries=0, queue_size=2, on_failure=lambda: calls.append(1)
    )
    started = time.perf_counter()
    for _ in range(50):
        hook.send(ALERT)
    assert time.perf_counter() - started < 0.05
    # one alert in flight and two queued; the other 47 (at least) were dropped at once
    assert hook.failures >= 47
    assert len(calls) == hook.failures
    endpoint.release.set()
    assert hook.flush(5)
    assert hook.sent + hook.failures == 50
    hook.close()


def test_connection_refused_is_a_failure() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with fast(f"http://127.0.0.1:{port}/hook", retries=1) as hook:
        hook.send(ALERT)
        assert hook.flush(5)
        assert (hook.sent, hook.failures) == (0, 1)


def test_send_after_close_is_dropped_and_counted(serve: Serve) -> None:
    endpoint = serve(200)
    hook = fast(endpoint.url)
    hook.close()
    hook.send(ALERT)
    assert (hook.sent, hook.failures) == (0, 1)
    assert endpoint.bodies == []


@pytest.mark.parametrize("url", ["ftp://x", "", "http://", "https:///path", "hooks.slack.com"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(InvalidArgument, match="http:// or https:// URL") as info:
        Webhook(url)
    assert info.value.name == "webhook"


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf")])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: float) -> None:
    with pytest.raises(InvalidArgument, match="seconds > 0") as info:
        Webhook("https://hooks.example.com/x", timeout=timeout)
    assert info.value.name == "webhook_timeout"


def test_an_unknown_alert_kind_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="one of violation, stop"):
        Alert("oops", "e", "t")


def test_a_token_in_the_path_never_reaches_the_logs() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
    with Webhook(url) as hook:
        assert hook.safe_url == "https://hooks.slack.com:443/services/***"
