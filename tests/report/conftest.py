"""The read-out the HTML tests draw: a simulated experiment with a lift, a segment that moves
the other way and two latency levels, built once for the whole folder."""

from __future__ import annotations

import pytest
from tests.analysis._sim import Sim, analysis_data, spec

from champion.analysis.readout import Report, build_report
from champion.report import render_html


@pytest.fixture(scope="session")
def report() -> Report:
    sim = Sim(seed=52, n=20_000, fraud_lift=0.2, mobile_lift=-0.3,
              latency_ms={"v1_3": 80.0, "v2_0": 95.0})  # fmt: skip
    return build_report(analysis_data(sim), spec(looks=5))


@pytest.fixture(scope="session")
def page(report: Report) -> str:
    return render_html(report)
