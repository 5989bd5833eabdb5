"""The Argo Rollouts and Flagger blocks of docs/rollout.md, checked against a real gateway:
the exact conditions from the page evaluated on the verdict endpoint's answers and played
through Argo's rules for a metric, the token header and the stage argument, and the Flagger
hook URLs answered with the codes Flagger acts on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from fastapi import FastAPI

from champion.registry import Registry
from champion.serve.app import create_app
from champion.serve.router import Router
from champion.serve.settings import GatewaySettings
from champion.serve.sources import SpecSource
from tests.serve._support import ThreadServer
from tests.serve.test_verdict import running, store_windows

DOC = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"
TOKEN = "predict-s3cret"
#: what Flagger posts to every webhook (pkg/apis/flagger/v1beta1 CanaryWebhookPayload)
FLAGGER_PAYLOAD = {"name": "fraud-detector", "namespace": "ml", "phase": "Progressing",
                   "checksum": "6d8c5b7f9", "metadata": {}}  # fmt: skip


def yaml_blocks() -> list[Any]:
    text = DOC.read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def block(kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        b for b in yaml_blocks() if isinstance(b, dict) and b.get("kind") == kind
    ]
    assert len(found) == 1, f"docs/rollout.md should hold one {kind}"
    return found[0]


def metric() -> dict[str, Any]:
    metrics: list[dict[str, Any]] = block("AnalysisTemplate")["spec"]["metrics"]
    (only,) = metrics
    return only


_TERM = re.compile(r'^result\.(\w+)\s*(==|!=)\s*"([^"]*)"$')


def evaluate(expression: str, result: dict[str, Any]) -> bool:
    """The subset of Argo's expression language the page uses: ``result.f == "v"``,
    ``!=``, joined by ``&&`` and ``||`` (``&&`` binds tighter)."""

    def term(text: str) -> bool:
        found = _TERM.match(text.strip())
        assert found, f"outside the supported subset: {text!r}"
        field, op, value = found.groups()
        return (result.get(field) == value) == (op == "==")

    return any(all(term(t) for t in part.split("&&")) for part in expression.split("||"))


# -- Argo Rollouts' rules for one metric (utils/evaluate, analysis/analysis.go) -------------


def measurement(m: dict[str, Any], status: int, body: dict[str, Any]) -> str:
    """The phase Argo gives one web measurement: a non-2xx answer is an error; with both
    conditions set, failure wins, then success, else inconclusive."""
    if not 200 <= status < 300:
        return "Error"
    success, failure = m.get("successCondition", ""), m.get("failureCondition", "")
    ok = evaluate(success, body) if success else False
    bad = evaluate(failure, body) if failure else False
    if not success and not failure:
        return "Successful"
    if success and not failure:
        bad = not ok
    elif failure and not success:
        ok = not bad
    if bad:
        return "Failed"
    return "Successful" if ok else "Inconclusive"


def assess(m: dict[str, Any], phases: Iterable[str]) -> str:
    """The metric's phase after these measurements: Failed, Inconclusive, Error, Successful
    or Running (an interval without a count runs until the rollout ends)."""
    failed = inconclusive = errors = successes = count = 0
    for phase in phases:
        count += phase != "Error"  # an error is retried, not counted
        failed += phase == "Failed"
        inconclusive += phase == "Inconclusive"
        errors = errors + 1 if phase == "Error" else 0
        successes = successes + 1 if phase == "Successful" else 0
        verdict = None
        if 0 <= m.get("failureLimit", 0) < failed:
            verdict = "Failed"
        if inconclusive > m.get("inconclusiveLimit", 0):
            verdict = "Inconclusive"
        if errors > m.get("consecutiveErrorLimit", 4):
            verdict = "Error"
        if verdict:
            return verdict
        limit = m.get("consecutiveSuccessLimit", 0)
        if limit > 0 and successes >= limit:
            return "Successful"
        wanted = m.get("count", None if "interval" in m else 1)
        if wanted is not None and count >= wanted:
            if limit > 0:  # the success limit was not reached
                return "Inconclusive" if m.get("failureLimit", 0) >= 0 else "Failed"
            return "Successful"
    return "Running"


# -- a real gateway with one experiment per verdict ------------------------------------------


Gateway = tuple[Registry, str, FastAPI]


def serve(registry: Registry, token: str | None) -> tuple[ThreadServer, FastAPI]:
    app = create_app(GatewaySettings(predict_token=token), router=Router(SpecSource([])),
                     registry=registry)  # fmt: skip
    return ThreadServer(app), app


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway whose predict scope needs ``TOKEN``, as the Argo template assumes."""
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    server, app = serve(registry, TOKEN)
    with server:
        yield registry, server.url, app
    registry.close()


@pytest.fixture
def open_gateway(gateway: Gateway) -> Iterator[str]:
    """A second gateway over the same registry without a predict token: what Flagger's
    webhooks, which cannot send headers, have to reach."""
    server, _ = serve(gateway[0], None)
    with server:
        yield server.url


EXPECTED = {"good": "pass", "bad": "fail", "stopped": "fail", "quiet": "inconclusive",
            "nope": "inconclusive"}  # fmt: skip


#: the measurement phase Argo should give each verdict
PHASE = {"pass": "Successful", "fail": "Failed", "inconclusive": "Inconclusive"}


@pytest.fixture
def seeded(gateway: Gateway) -> tuple[str, FastAPI]:
    reg, url, app = gateway
    store_windows(reg, "good", 4, 0.004, after=running(reg, "good"))
    store_windows(reg, "bad", 3, 0.08, after=running(reg, "bad"))
    running(reg, "quiet")
    running(reg, "stopped")
    reg.stop("stopped", reason="support tickets", by="alice")
    return url, app


def argo_get(url: str, m: dict[str, Any], args: dict[str, str]) -> httpx.Response:
    """The request Argo's web provider makes: the template's URL and headers with the args
    substituted, sent to the test server instead of the cluster's."""

    def fill(text: str) -> str:
        return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda f: args[f.group(1)], text)

    web = m["provider"]["web"]
    parts = urlsplit(fill(web["url"]))
    headers = {h["key"]: fill(h["value"]) for h in web.get("headers", [])}
    return httpx.get(f"{url}{parts.path}?{parts.query}", headers=headers,
                     timeout=web.get("timeoutSeconds", 10))  # fmt: skip


def test_the_argo_conditions_succeed_only_on_pass_and_fail_only_on_fail(
    seeded: tuple[str, FastAPI],
) -> None:
    url, _ = seeded
    m = metric()
    success, failure = m["successCondition"], m["failureCondition"]
    assert success == 'result.verdict == "pass"'
    assert failure == 'result.verdict == "fail"'
    assert m["provider"]["web"]["jsonPath"] == "{$}"
    for name, expected in EXPECTED.items():
        r = argo_get(url, m, {"experiment": name, "stage": "0", "token": TOKEN})
        answer = r.json()
        assert (r.status_code, answer["verdict"]) == (200, expected)
        assert evaluate(success, answer) == (expected == "pass")
        assert evaluate(failure, answer) == (expected == "fail")
        assert measurement(m, r.status_code, answer) == PHASE[expected]


def test_the_template_asks_the_documented_route_with_the_token_header(
    seeded: tuple[str, FastAPI],
) -> None:
    url, _ = seeded
    m = metric()
    parts = urlsplit(m["provider"]["web"]["url"])
    assert parts.path == "/v1/experiments/{{args.experiment}}/verdict"
    assert parts.query == "stage={{args.stage}}"
    secret = next(a for a in block("AnalysisTemplate")["spec"]["args"] if a["name"] == "token")
    assert "secretKeyRef" in secret["valueFrom"]
    ok = argo_get(url, m, {"experiment": "good", "stage": "0", "token": TOKEN})
    assert ok.status_code == 200
    wrong = argo_get(url, m, {"experiment": "good", "stage": "0", "token": "guess"})
    assert wrong.status_code == 403
    assert measurement(m, wrong.status_code, wrong.json()) == "Error"  # an error, not a pass


def test_a_step_asking_about_another_stage_is_inconclusive(seeded: tuple[str, FastAPI]) -> None:
    url, _ = seeded
    r = argo_get(url, metric(), {"experiment": "good", "stage": "1", "token": TOKEN})
    assert r.json()["verdict"] == "inconclusive"
    assert "at stage 0, not 1" in r.json()["reason"]


def test_no_run_of_inconclusive_answers_ever_succeeds() -> None:
    m = metric()
    assert "count" not in m
    for n in range(1, 200):
        assert assess(m, ["Inconclusive"] * n) in ("Running", "Inconclusive")
    assert assess(m, ["Inconclusive"] * (m["inconclusiveLimit"] + 1)) == "Inconclusive"


def test_the_step_gate_ends_on_the_first_pass_or_fail_and_stops_on_errors() -> None:
    m = metric()
    waited = ["Inconclusive"] * m["inconclusiveLimit"]
    assert assess(m, [*waited, "Successful"]) == "Successful"
    assert assess(m, [*waited, "Failed"]) == "Failed"
    assert assess(m, ["Error"] * m["consecutiveErrorLimit"]) == "Running"
    assert assess(m, ["Error"] * (m["consecutiveErrorLimit"] + 1)) == "Error"


def test_a_count_without_a_success_limit_would_turn_no_data_into_a_pass() -> None:
    """Why the page warns against ``count``: Argo calls such a metric successful once the
    count is reached with no failure, whatever the measurements said."""
    risky = {k: v for k, v in metric().items() if k != "consecutiveSuccessLimit"} | {"count": 5}
    assert assess(risky, ["Inconclusive"] * 5) == "Successful"
    assert assess(metric() | {"count": 5}, ["Inconclusive"] * 5) == "Inconclusive"


def test_the_rollout_steps_pass_the_args_the_template_declares() -> None:
    template = block("AnalysisTemplate")
    declared = {a["name"] for a in template["spec"]["args"]}
    from_secret = {a["name"] for a in template["spec"]["args"] if "valueFrom" in a}
    steps = block("Rollout")["spec"]["strategy"]["canary"]["steps"]
    gates = [s["analysis"] for s in steps if "analysis" in s]
    assert gates
    for i, gate in enumerate(gates):
        assert [t["templateName"] for t in gate["templates"]] == [template["metadata"]["name"]]
        passed = {a["name"]: a["value"] for a in gate["args"]}
        assert set(passed) == declared - from_secret
        assert passed["stage"] == str(i)  # one analysis per champion stage, in order


def test_the_flagger_hooks_are_served_with_the_codes_flagger_acts_on(
    seeded: tuple[str, FastAPI], open_gateway: str
) -> None:
    _, app = seeded
    served = {(m, getattr(r, "path", None)) for r in app.routes for m in getattr(r, "methods", ())}
    hooks = block("Canary")["spec"]["analysis"]["webhooks"]
    assert {h["type"] for h in hooks} == {"confirm-traffic-increase", "confirm-promotion",
                                          "rollback"}  # fmt: skip
    for hook in hooks:
        path = urlsplit(hook["url"]).path
        assert ("POST", path.replace("fraud-detector-v2", "{name}")) in served
        assert "headers" not in hook  # Flagger's webhooks cannot send any
        for name, expected in EXPECTED.items():
            answered = httpx.post(open_gateway + path.replace("fraud-detector-v2", name),
                                  json=FLAGGER_PAYLOAD)  # fmt: skip
            yes = answered.status_code <= 202  # pkg/controller/webhook.go: > 202 is an error
            if hook["type"] == "rollback":  # Flagger rolls back on yes
                assert yes == (expected == "fail")
            else:  # Flagger goes on only on yes
                assert yes == (expected == "pass")
            assert answered.json()["verdict"] == expected


def test_the_flagger_rollback_hook_without_a_token_never_rolls_back(
    seeded: tuple[str, FastAPI],
) -> None:
    """What the page warns about: Flagger sends no headers, so with a predict token set
    the rollback hook of a failing experiment answers 401 and Flagger does not roll back."""
    url, _ = seeded
    answered = httpx.post(f"{url}/v1/experiments/bad/flagger/rollback", json=FLAGGER_PAYLOAD)
    assert answered.status_code == 401


def test_the_evaluator_reads_what_argo_reads() -> None:
    assert evaluate('result.verdict == "pass"', {"verdict": "pass"})
    assert not evaluate('result.verdict == "pass"', {})
    assert evaluate('result.a == "x" && result.b != "y" || result.c == "z"', {"c": "z"})
    with pytest.raises(AssertionError):
        evaluate("len(result) > 0", {})
