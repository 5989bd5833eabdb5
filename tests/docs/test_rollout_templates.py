"""The Argo Rollouts and Flagger blocks of docs/rollout.md, checked against a real gateway:
the exact conditions from the page evaluated on the verdict endpoint's answers, and the
Flagger hook URLs answered with the codes Flagger acts on."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from champion.registry import Registry
from champion.serve.app import create_app
from champion.serve.router import Router
from champion.serve.sources import SpecSource
from tests.serve._support import ThreadServer
from tests.serve.test_verdict import running, store_windows

DOC = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"


def yaml_blocks() -> list[dict]:
    text = DOC.read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def block(kind: str) -> dict:
    found = [b for b in yaml_blocks() if isinstance(b, dict) and b.get("kind") == kind]
    assert len(found) == 1, f"docs/rollout.md should hold one {kind}"
    return found[0]


_TERM = re.compile(r'^result\.(\w+)\s*(==|!=)\s*"([^"]*)"$')


def evaluate(expression: str, result: dict) -> bool:
    """The subset of Argo's expression language the page uses: ``result.f == "v"``,
    ``!=``, joined by ``&&`` and ``||`` (``&&`` binds tighter)."""

    def term(text: str) -> bool:
        found = _TERM.match(text.strip())
        assert found, f"outside the supported subset: {text!r}"
        field, op, value = found.groups()
        return (result.get(field) == value) == (op == "==")

    return any(all(term(t) for t in part.split("&&")) for part in expression.split("||"))


@pytest.fixture
def gateway(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    with ThreadServer(create_app(router=Router(SpecSource([])), registry=registry)) as server:
        yield registry, server.url
    registry.close()


@pytest.fixture
def answers(gateway):
    """Real answers of the endpoint: one per verdict."""
    reg, url = gateway
    store_windows(reg, "good", 4, 0.004, after=running(reg, "good"))
    store_windows(reg, "bad", 3, 0.08, after=running(reg, "bad"))
    running(reg, "quiet")
    out = {n: httpx.get(f"{url}/v1/experiments/{n}/verdict", timeout=10).json()
           for n in ("good", "bad", "quiet")}  # fmt: skip
    assert [out[n]["verdict"] for n in ("good", "bad", "quiet")] == ["pass", "fail", "inconclusive"]
    return out


def test_the_argo_conditions_succeed_only_on_pass_and_fail_only_on_fail(answers):
    (metric,) = block("AnalysisTemplate")["spec"]["metrics"]
    success, failure = metric["successCondition"], metric["failureCondition"]
    assert success == 'result.verdict == "pass"'
    assert failure == 'result.verdict == "fail"'
    assert metric["provider"]["web"]["jsonPath"] == "{$}"
    assert metric["inconclusiveLimit"] >= 1
    for name, answer in answers.items():
        assert evaluate(success, answer) == (name == "good")
        assert evaluate(failure, answer) == (name == "bad")
    url = metric["provider"]["web"]["url"]
    assert urlsplit(url).path == "/v1/experiments/{{args.experiment}}/verdict"


def test_the_flagger_hooks_are_served_with_the_codes_flagger_acts_on(gateway, answers):
    _, url = gateway
    hooks = block("Canary")["spec"]["analysis"]["webhooks"]
    assert {h["type"] for h in hooks} == {"confirm-traffic-increase", "confirm-promotion",
                                          "rollback"}  # fmt: skip
    payload = {"name": "fraud-detector", "namespace": "ml", "phase": "Progressing"}
    for hook in hooks:
        path = urlsplit(hook["url"]).path
        for name in ("good", "bad", "quiet"):
            answered = httpx.post(url + path.replace("fraud-detector-v2", name), json=payload)
            if hook["type"] == "rollback":  # Flagger rolls back on 200
                assert (answered.status_code == 200) == (name == "bad")
            else:  # Flagger goes on only on 200
                assert (answered.status_code == 200) == (name == "good")
            assert answered.json()["verdict"] in ("pass", "fail", "inconclusive")


def test_the_evaluator_reads_what_argo_reads():
    assert evaluate('result.verdict == "pass"', {"verdict": "pass"})
    assert not evaluate('result.verdict == "pass"', {})
    assert evaluate('result.a == "x" && result.b != "y" || result.c == "z"', {"c": "z"})
    with pytest.raises(AssertionError):
        evaluate("len(result) > 0", {})
