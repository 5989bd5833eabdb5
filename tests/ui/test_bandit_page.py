"""A bandit's page: its weights per published version and its numbers, each with what it is
valid for, equal to the JSON route and to ``champion bandit report --json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from champion.cli import app as cli
from champion.events import Exposure, Outcome, open_writer
from champion.registry import Registry
from champion.serve.settings import load_settings
from champion.ui import create_ui_app
from tests.bandit._specs import bandit_spec
from tests.serve._support import ThreadServer
from tests.ui.conftest import copy_to_docs, shoot

TIMEOUT_MS = 20_000
RATES = {"a": 0.05, "b": 0.30}


def _serve(writer: Any, rng: Any, version: int, shares: dict[str, float], t0: Any, n: int,
           first: int) -> None:  # fmt: skip
    """``n`` new units: 20% holdout (uniform), the rest by ``shares``; outcomes by RATES."""
    for i in range(first, first + n):
        holdout = rng.random() < 0.2
        arm = (
            ("a" if rng.random() < 0.5 else "b")
            if holdout
            else ("a" if rng.random() < shares["a"] else "b")
        )
        p = 0.5 if holdout else shares[arm]
        ts = t0 + timedelta(seconds=i)
        writer.log(Exposure(
            experiment="race", unit_id=f"u{i}", variant=arm, model=arm,
            allocation_version=version, probability=p, ts=ts,
            attributes={"bandit": "holdout"} if holdout else {},
        ))  # fmt: skip
        if rng.random() < RATES[arm]:
            writer.log(Outcome(unit_id=f"u{i}", metric="converted", value=1.0,
                               ts=ts + timedelta(seconds=5)))  # fmt: skip


@pytest.fixture(scope="module")
def bandit_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    folder = tmp_path_factory.mktemp("bandit-ui")
    db, events = f"sqlite:///{folder / 'r.db'}", str(folder / "events")
    rng = np.random.default_rng(3)
    with Registry(db) as reg:
        reg.create(bandit_spec(holdout=0.2), by="test")
        first = reg.start("race", by="test")
        t0 = first.updated_at - timedelta(days=3)
        with open_writer(events) as writer:
            _serve(writer, rng, first.version, {"a": 0.5, "b": 0.5}, t0, 400, 0)
        second = reg.reweight("race", {"a": 0.1, "b": 0.9}, by="bandit", reason="update")
        with open_writer(events) as writer:
            _serve(writer, rng, second.version, {"a": 0.1, "b": 0.9}, t0, 400, 400)
    settings = load_settings(db=db, events=events)
    with ThreadServer(create_ui_app(settings)) as server:
        yield server.url, db, events


def test_the_bandit_route_equals_champion_bandit_report(bandit_ui: tuple[str, str, str]) -> None:
    url, db, events = bandit_ui
    got = httpx.get(f"{url}/ui/api/experiments/race/bandit", timeout=30).json()
    assert got["status"] == "ok"
    assert [w["allocation"]["b"] for w in got["weights"]] == [0.5, 0.9]
    cli_out = CliRunner().invoke(cli, ["bandit", "report", "race", "--registry", db,
                                       "--events", events, "--json"])  # fmt: skip
    assert cli_out.exit_code == 0, cli_out.output
    expected = json.loads(cli_out.output)
    for key in ("estimate", "ci_lower", "ci_upper", "naive"):
        assert got["report"]["arm_values"][key] == pytest.approx(expected["arm_values"][key])
    assert got["report"]["bandit_vs_holdout"]["diff"] == pytest.approx(
        expected["bandit_vs_holdout"]["diff"]
    )


def test_the_bandit_page_shows_the_weights_and_labels_each_number(
    page: Any, bandit_ui: tuple[str, str, str]
) -> None:
    url, _, _ = bandit_ui
    got = httpx.get(f"{url}/ui/api/experiments/race/bandit", timeout=30).json()
    page.goto(f"{url}/ui#/e/race")
    page.wait_for_selector("#bandit-numbers", timeout=TIMEOUT_MS)
    assert page.eval_on_selector_all("#bandit-weights tbody tr", "rs => rs.length") == 2
    values = got["report"]["arm_values"]
    for i, arm in enumerate(got["report"]["arms"]):
        cell = f'tr[data-arm="{arm}"][data-number="arm_value"] td[data-field="estimate"]'
        assert float(page.get_attribute(cell, "data-value")) == pytest.approx(values["estimate"][i])
        naive = page.inner_text(f'tr[data-arm="{arm}"][data-number="naive"]')
        assert "not for decisions" in naive
    launch = page.inner_text('tr[data-number="bandit_vs_holdout"]')
    assert "valid for a launch decision" in launch
    copy_to_docs(shoot(page, "bandit"))
