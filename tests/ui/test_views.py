"""The list's rows without a browser: the live share follows the monitor's rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from champion.monitor.rollout import current_challenger
from champion.spec import Experiment
from champion.ui.views import live_percent
from tests.ui.conftest import DEMO, Stack


@pytest.mark.parametrize(
    "allocation",
    [
        {"a": 0.5, "b": 0.25, "c": 0.25},
        {"a": 0.5, "b": 0.2, "c": 0.3},
        {"a": 1.0, "b": 0.0, "c": 0.0},
        {"a": 0.0, "b": 0.0, "c": 1.0},
        {"a": 0.4, "b": 0.3, "c": 0.3},
    ],
)
def test_the_live_challenger_is_the_one_the_monitor_rolls_out(
    stack: Stack, allocation: dict[str, float]
) -> None:
    with stack.registry() as registry:
        base = registry.get(DEMO).spec
    fields = {"models": dict.fromkeys("abc", base.models[base.champion]), "champion": "a",
              "challengers": ["b", "c"], "allocation": {"a": 0.5, "b": 0.25, "c": 0.25},
              "shadow": [], "rollout": None}  # fmt: skip
    spec = Experiment.model_validate({**base.model_dump(), **fields})
    which, percent = live_percent(spec, allocation)
    assert which == current_challenger(spec, allocation)
    assert percent == 100 * allocation[which]


def test_listing_imports_neither_the_monitor_nor_the_analysis() -> None:
    code = ("import sys, champion.ui.views, champion.ui.routes; "
            "print(sorted(m for m in sys.modules if m.startswith(('champion.monitor', "
            "'champion.analysis', 'ibis'))))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "[]"
