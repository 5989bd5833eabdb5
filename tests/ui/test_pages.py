"""The list and experiment pages show the numbers the JSON API and ``champion analyze`` give."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
from typer.testing import CliRunner

from champion.cli import app as cli
from tests.ui.conftest import DEMO, Stack, copy_to_docs, shoot

TIMEOUT_MS = 20_000


def _value(page: Any, selector: str) -> float:
    return float(page.get_attribute(selector, "data-value"))


def test_list_page_shows_each_experiments_state_share_and_health(page: Any, gateway: str) -> None:
    page.goto(f"{gateway}/ui")
    page.wait_for_selector(f'tr[data-name="{DEMO}"] td[data-decision]:not([data-decision=""])',
                           timeout=TIMEOUT_MS)  # fmt: skip
    rows = httpx.get(f"{gateway}/ui/api/experiments").json()["experiments"]
    summaries = httpx.get(f"{gateway}/ui/api/summaries").json()["experiments"]
    shown = page.eval_on_selector_all("#experiments tbody tr", "rs => rs.map(r => r.dataset.name)")
    assert sorted(shown) == sorted(r["name"] for r in rows)
    for row in rows:
        tr = f'tr[data-name="{row["name"]}"]'
        assert page.inner_text(f"{tr} .state") == row["state"]
        if row["live_percent"] is not None:
            # the live share is the registry's allocation of the rolled-out challenger
            assert _value(page, f"{tr} td.n") == 100 * row["allocation"][row["challenger"]]
    demo = summaries[DEMO]["readout"]
    assert page.get_attribute(f'tr[data-name="{DEMO}"] td[data-decision]',
                              "data-decision") == demo["decision"]  # fmt: skip
    assert float(page.get_attribute(f'tr[data-name="{DEMO}"] td[data-srm-p]', "data-srm-p")) == (
        demo["srm_p_value"]
    )
    # a paused experiment's guardrail column says so in words; without exposures, no SRM
    page.wait_for_selector('tr[data-name="paused-one"] td:has-text("no exposures yet")',
                           timeout=TIMEOUT_MS)  # fmt: skip
    assert "inconclusive" in page.inner_text('tr[data-name="paused-one"]')
    copy_to_docs(shoot(page, "list"))


def test_list_filters_and_sorts_from_the_keyboard(page: Any, gateway: str) -> None:
    page.goto(f"{gateway}/ui")
    page.wait_for_selector('tr[data-name="stop-me"]', timeout=TIMEOUT_MS)
    page.focus("#filter")
    page.keyboard.type("paused")
    assert page.eval_on_selector_all("#experiments tbody tr", "rs => rs.length") == 1
    page.fill("#filter", "")
    state_sort = page.locator("th", has_text="State").locator("button")
    state_sort.focus()
    page.keyboard.press("Enter")
    header = page.locator("th", has_text="State")
    assert header.get_attribute("aria-sort") == "ascending"
    states = page.eval_on_selector_all("#experiments tbody tr .state",
                                       "s => s.map(x => x.textContent)")  # fmt: skip
    assert states == sorted(states)
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "descending"


def test_every_control_has_a_label(page: Any, gateway: str) -> None:
    unlabelled = """() => [...document.querySelectorAll('input, select, button')]
        .filter(e => !e.hidden && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                && !(e.tagName === 'BUTTON' && e.textContent.trim()))
        .map(e => e.outerHTML)"""
    for view, ready in (("", "#experiments tbody tr"), (f"#/e/{DEMO}", "#actions"),
                        ("#/plan", "#plan-result"), ("#/race", "#race-result")):  # fmt: skip
        page.goto(f"{gateway}/ui{view}")
        page.wait_for_selector(ready, timeout=TIMEOUT_MS)
        assert page.evaluate(unlabelled) == [], view


def _cli_readout(stack: Stack, as_of: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", DEMO, "--events", stack.events, "--registry",
                                      stack.db, "--as-of", as_of, "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_experiment_page_numbers_equal_the_api_and_champion_analyze(
    page: Any, gateway: str, stack: Stack
) -> None:
    page.goto(f"{gateway}/ui#/e/{DEMO}")
    page.wait_for_selector("#metrics tbody tr", timeout=TIMEOUT_MS)
    api = httpx.get(f"{gateway}/ui/api/experiments/{DEMO}/readout").json()["report"]
    view = httpx.get(f"{gateway}/ui/api/experiments/{DEMO}").json()
    as_of = page.get_attribute("#readout", "data-as-of")
    assert as_of == api["as_of"]  # the page shows the read-out the API holds
    cli_report = _cli_readout(stack, as_of)
    assert page.inner_text("#decision") == api["decision"] == cli_report["decision"]
    assert _value(page, "#srm-p") == api["srm"]["p_value"]
    assert math.isclose(api["srm"]["p_value"], cli_report["srm"]["p_value"], rel_tol=1e-12)
    assert _value(page, "#exposed") == api["health"]["exposed_units"]
    assert api["health"]["exposed_units"] == cli_report["health"]["exposed_units"]
    checked = 0
    for name, metric in api["metrics"].items():
        for variant, c in metric["challengers"].items():
            row = f'#metrics tr[data-metric="{name}"][data-variant="{variant}"]'
            cli_c = cli_report["metrics"][name]["challengers"][variant]
            for field in ("rel_lift", "p_value", "p_value_adjusted"):
                shown = _value(page, f'{row} td[data-field="{field}"]')
                assert shown == c[field], (name, field)
                assert math.isclose(shown, cli_c[field], rel_tol=1e-9, abs_tol=1e-12), (name, field)
            ci = json.loads(page.get_attribute(f'{row} td[data-field="rel_lift_ci"]', "data-value"))
            assert ci == c["rel_lift_ci"]
            assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ci, cli_c["rel_lift_ci"],
                                                                         strict=True))  # fmt: skip
            # and the text is the value rounded, not another number
            text = page.inner_text(f'{row} td[data-field="rel_lift"]')
            assert text == f"{'+' if c['rel_lift'] > 0 else ''}{100 * c['rel_lift']:.1f}%"
            checked += 1
    assert checked == 3
    assert _value(page, "#live strong") == view["live_percent"] == 25.0
    assert page.locator("#history tbody tr").count() == len(view["history"])
    copy_to_docs(shoot(page, "experiment"))


def test_the_shadow_comparison_equals_champion_shadow_report(
    page: Any, gateway: str, stack: Stack
) -> None:
    page.goto(f"{gateway}/ui#/e/{DEMO}")
    page.wait_for_selector("#shadows tbody tr", timeout=TIMEOUT_MS)
    result = CliRunner().invoke(cli, ["shadow-report", DEMO, "--events", stack.events, "--json"])
    assert result.exit_code == 0, result.output
    expected = {m["model"]: m for m in json.loads(result.stdout)["shadows"]}
    shown = page.eval_on_selector_all("#shadows tbody tr", "rs => rs.map(r => r.dataset.model)")
    assert shown == list(expected)
    for model, m in expected.items():
        row = f'#shadows tr[data-model="{model}"]'
        diff = m["score_diff"]
        wanted = {"agreement": m["agreement"]["rate"], "share_above": diff["share_above"],
                  "score_diff_mean": diff["mean"], "psi": m["psi"]}  # fmt: skip
        for field, value in wanted.items():
            assert math.isclose(_value(page, f'{row} td[data-field="{field}"]'), value,
                                rel_tol=1e-12), field  # fmt: skip
