"""The planning tools show what ``champion plan`` and ``champion simulate`` print."""

from __future__ import annotations

import json
from typing import Any

import httpx
from typer.testing import CliRunner

from champion.cli import app as cli
from tests.ui.conftest import copy_to_docs, shoot

TIMEOUT_MS = 20_000


def _cli_json(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1] if args[0] == "simulate"
                      else result.stdout)  # fmt: skip


def test_the_sample_size_explorer_gives_champion_plans_numbers(page: Any, gateway: str) -> None:
    page.goto(f"{gateway}/ui#/plan")
    page.wait_for_selector("#plan-result", timeout=TIMEOUT_MS)
    page.fill("#baseline", "0.031")
    page.fill("#mde", "0.1")
    page.check("#relative")
    page.fill("#looks", "4")
    page.fill("#daily_units", "5000")
    page.evaluate("document.querySelector('#plan-out').replaceChildren()")  # the first plan
    page.click("#plan-form button[type=submit]")
    page.wait_for_selector("#plan-result", timeout=TIMEOUT_MS)
    expected = _cli_json(["plan", "--baseline", "0.031", "--mde", "0.1", "--relative",
                          "--looks", "4", "--daily-units", "5000"])  # fmt: skip
    shown = {key: int(float(page.get_attribute(f"#{id_}", "data-value")))
             for key, id_ in (("n_control", "n-control"), ("n_treatment", "n-treatment"),
                              ("total", "n-total"), ("days", "days"))}  # fmt: skip
    assert shown == {k: expected[k] for k in shown}
    assert expected["total"] != 0
    assert page.inner_text("#n-total") == f"{expected['total']:,}"
    totals = page.eval_on_selector_all("#trade-off tbody tr td:nth-child(3)",
                                       "cs => cs.map(c => Number(c.dataset.value))")  # fmt: skip
    assert totals == [row["total"] for row in expected["trade_off"]]
    # the power curve crosses the planned power at the MDE (fixed-horizon size, 1 look)
    flat = httpx.post(f"{gateway}/ui/api/plan", json={"baseline": 0.031, "mde": 0.1,
                                                      "relative": True}).json()  # fmt: skip
    at_mde = next(p for p in flat["power_curve"] if p["multiple"] == 1.0)
    assert abs(at_mde["power"] - 0.8) < 0.01
    copy_to_docs(shoot(page, "plan"))


def test_the_bandit_race_gives_champion_simulates_numbers(page: Any, gateway: str) -> None:
    page.goto(f"{gateway}/ui#/race")
    page.wait_for_selector("#race-result", timeout=TIMEOUT_MS)
    page.fill("#rates", "0.04, 0.05, 0.06")
    page.fill("#requests", "3000")
    page.fill("#runs", "60")
    page.fill("#seed", "11")
    page.evaluate("document.querySelector('#race-out').replaceChildren()")  # the first race
    page.click("#race-form button[type=submit]")
    page.wait_for_selector("#race-result tr[data-policy=thompson]", timeout=TIMEOUT_MS)
    expected = _cli_json(["simulate", "--rates", "0.04,0.05,0.06", "--requests", "3000",
                          "--runs", "60", "--seed", "11"])  # fmt: skip
    for policy in ("fixed", "thompson"):
        cells = page.eval_on_selector_all(f"#race-result tr[data-policy={policy}] td.n",
                                          "cs => cs.map(c => c.dataset.value)")  # fmt: skip
        want = expected["policies"][policy]
        assert float(cells[0]) == want["regret"]
        assert float(cells[1]) == want["regret_se"]
    copy_to_docs(shoot(page, "race"))


def test_a_bad_input_is_named_on_the_page(page: Any, gateway: str) -> None:
    page.goto(f"{gateway}/ui#/race")
    page.wait_for_selector("#race-result", timeout=TIMEOUT_MS)
    page.fill("#rates", "0.04, 7")
    page.click("#race-form button[type=submit]")
    page.wait_for_selector("#race-out .refused", timeout=TIMEOUT_MS)
    assert "7 is not a rate" in page.inner_text("#race-out")
