"""Actions from the page need the admin token; what they and the monitor do shows up in time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from champion.monitor.rules import RuleStatus
from champion.monitor.tick import ACTOR
from champion.serve.settings import load_settings
from champion.ui import REFRESH_SECONDS, create_ui_app
from tests.serve._support import ThreadServer
from tests.ui.conftest import TOKEN, Stack, copy_to_docs, shoot

TIMEOUT_MS = 20_000


def _stop_from_page(page: Any, reason: str) -> str:
    return _act(page, "stop", reason)


def test_a_stop_without_the_token_is_refused_and_with_it_is_done_and_in_the_history(
    page: Any, gateway: str, stack: Stack
) -> None:
    page.goto(f"{gateway}/ui#/e/stop-me")
    page.wait_for_selector("#actions", timeout=TIMEOUT_MS)
    said = _stop_from_page(page, "checking the refusal")
    assert "refused" in said
    assert "missing bearer token" in said
    assert "401" in said
    with stack.registry() as registry:
        assert registry.get("stop-me").state.value == "running"
    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    said = _stop_from_page(page, "the challenger's review queue is too long")
    assert "done" in said
    assert "stop by api:admin" in said
    with stack.registry() as registry:
        state, last = registry.get("stop-me"), registry.history("stop-me")[-1]
    assert state.state.value == "stopped"
    assert (last.action, last.by, last.reason) == (
        "stop", "api:admin", "the challenger's review queue is too long")  # fmt: skip
    # The history re-renders after the action's reply; wait for the stop row, not any row.
    page.wait_for_selector('#history tbody tr[data-action="stop"]', timeout=TIMEOUT_MS)
    newest = page.locator("#history tbody tr").first
    assert newest.get_attribute("data-action") == "stop"
    assert "the challenger's review queue is too long" in newest.inner_text()
    copy_to_docs(shoot(page, "action"))


def _act(page: Any, action: str, reason: str, to: float | None = None) -> str:
    page.select_option("#action", action)
    if to is not None:
        page.fill("#ramp-to", str(to))
    page.fill("#reason", reason)
    page.click("#actions button[type=submit]")
    page.wait_for_selector("#action-result p:not(:has-text('sending'))", timeout=TIMEOUT_MS)
    return str(page.inner_text("#action-result"))


def test_ramp_pause_resume_and_promote_from_the_page_are_recorded(
    page: Any, gateway: str, stack: Stack
) -> None:
    page.goto(f"{gateway}/ui#/e/walk-me")
    page.wait_for_selector("#actions", timeout=TIMEOUT_MS)
    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    steps = [("ramp", 50.0, "running", 50.0), ("pause", None, "paused", 50.0),
             ("resume", None, "running", 50.0), ("promote", None, "completed", 100.0)]  # fmt: skip
    for action, to, state, percent in steps:
        said = _act(page, action, f"{action} from the dashboard", to)
        assert f"{action} by api:admin" in said, said
        assert f"now {state}" in said
        page.wait_for_selector(f'#history tbody tr[data-action="{action}"]', timeout=TIMEOUT_MS)
        page.wait_for_function(
            f"() => document.querySelector('#live strong').dataset.value == {percent}")
    with stack.registry() as registry:
        history = registry.history("walk-me")
        state = registry.get("walk-me")
    assert [e.action for e in history[-4:]] == ["ramp", "pause", "resume", "promote"]
    assert {e.by for e in history[-4:]} == {"api:admin"}
    assert state.state.value == "completed"
    assert state.allocation[state.spec.challengers[0]] == 1.0
    assert "no action applies to a completed experiment" in page.inner_text("#action-slot")


def test_a_guardrail_stop_by_the_monitor_shows_within_the_refresh_interval(
    page: Any, gateway: str, stack: Stack
) -> None:
    page.goto(f"{gateway}/ui#/e/guarded")
    page.wait_for_selector("#history tbody tr", timeout=TIMEOUT_MS)
    rule = RuleStatus(guardrail="error_rate", variant="v2_0", rule="max 0.01", kind="slo",
                      status="violation", estimate=0.034, bound=0.021, limit=0.01, k=2,
                      stop_after=2, n=812, window="2026-01-01T00:00:00Z", alpha=0.005)  # fmt: skip
    with stack.registry() as registry:  # what champion monitor's tick writes for a stop
        registry.stop("guarded", reason="guardrail stop: " + rule.describe(),
                      evidence={"rules": [rule.to_dict()]}, by=ACTOR)  # fmt: skip
    written = time.monotonic()
    monitor_row = page.locator(f'#history tbody tr[data-by="{ACTOR}"]')
    monitor_row.wait_for(timeout=(REFRESH_SECONDS + 2) * 1000)
    seen_after = time.monotonic() - written
    assert seen_after <= REFRESH_SECONDS + 1.0
    assert monitor_row.get_attribute("data-action") == "stop"
    monitor_row.locator("summary").click()  # "why it stopped", one click
    evidence = monitor_row.locator("details table").inner_text()
    assert "error_rate" in evidence
    assert "violation" in evidence
    assert "0.034" in evidence
    assert "2/2" in evidence
    page.wait_for_timeout((REFRESH_SECONDS + 1) * 1000)  # a refresh leaves it open
    assert monitor_row.locator("details").get_attribute("open") is not None
    assert "stopped" in page.inner_text("#top")
    copy_to_docs(shoot(page, "monitor-stop"))


@pytest.fixture
def standalone(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``champion ui`` over the same registry with no admin token configured."""
    for variable in ("CHAMPION_ADMIN_TOKEN", "CHAMPION_ADMIN_TOKENS", "CHAMPION_PREDICT_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    with ThreadServer(create_ui_app(load_settings(db=stack.db, events=stack.events))) as server:
        yield server.url


def test_champion_ui_without_an_admin_token_is_read_only(page: Any, standalone: str,
                                                         stack: Stack) -> None:  # fmt: skip
    page.goto(f"{standalone}/ui#/e/paused-one")
    page.wait_for_selector("#actions", timeout=TIMEOUT_MS)
    assert "Read-only" in page.inner_text("#action-slot")
    page.fill("#token", TOKEN)  # any token: none is configured, so none grants anything
    page.click("#token-form button[type=submit]")
    page.select_option("#action", "resume")
    page.fill("#reason", "should not happen")
    page.click("#actions button[type=submit]")
    page.wait_for_selector("#action-result .refused", timeout=TIMEOUT_MS)
    assert "admin API is disabled" in page.inner_text("#action-result")
    with stack.registry() as registry:
        assert registry.get("paused-one").state.value == "paused"
