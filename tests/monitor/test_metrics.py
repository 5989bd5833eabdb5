"""The monitor's own series, scraped from a real ``/metrics`` port and parsed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from champion.errors import InvalidArgument
from champion.monitor.metrics import STATUSES, MonitorMetrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def metrics() -> MonitorMetrics:
    return MonitorMetrics()


@pytest.fixture
def served() -> Iterator[MonitorMetrics]:
    """Metrics whose ``/metrics`` is served on a free port (closing it takes ~0.5 s)."""
    m = MonitorMetrics()
    m.serve(0)
    yield m
    m.close()


def parse(text: str) -> Samples:
    """Every sample, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(m: MonitorMetrics) -> Samples:
    return parse(httpx.get(f"http://127.0.0.1:{m.port}/metrics", timeout=5).text)


def rendered(m: MonitorMetrics) -> Samples:
    return parse(m.render().decode())


def named(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_guardrail_state_set_has_exactly_one_status_at_1(served: MonitorMetrics) -> None:
    metrics = served
    metrics.set_guardrail("fraud", "challenger", "latency_p99", "warn", k=1, stop_after=3)
    metrics.set_guardrail("fraud", "challenger", "error_rate", "pass", k=0, stop_after=2)
    metrics.set_guardrail("fraud", "challenger", "latency_p99", "violation", k=2, stop_after=3)
    status = named(scrape(metrics), "champion_monitor_guardrail_status")
    for guardrail, current in [("latency_p99", "violation"), ("error_rate", "pass")]:
        states = {
            dict(labels)["status"]: v
            for labels, v in status.items()
            if dict(labels)["guardrail"] == guardrail
        }
        assert set(states) == set(STATUSES)
        assert states == {s: (1.0 if s == current else 0.0) for s in STATUSES}


def test_violations_and_stop_after_are_set_per_guardrail(metrics: MonitorMetrics) -> None:
    metrics.set_guardrail("fraud", "challenger", "latency_p99", "violation", k=2, stop_after=3)
    samples = rendered(metrics)
    labels = (("experiment", "fraud"), ("guardrail", "latency_p99"), ("variant", "challenger"))
    assert samples[("champion_monitor_violations", labels)] == 2
    assert samples[("champion_monitor_stop_after", labels)] == 3


def test_stage_tick_actions_errors_and_webhook_failures(metrics: MonitorMetrics) -> None:
    metrics.set_stage("fraud", 25.0)
    metrics.observe_tick(0.3, at=1_700_000_000.0)
    metrics.observe_tick(2.0, at=1_700_000_060.0)
    metrics.count_action("fraud", "advance")
    metrics.count_action("fraud", "advance")
    metrics.count_action("fraud", "stop")
    metrics.count_error("fraud")
    metrics.count_webhook_failure()
    samples = rendered(metrics)
    assert samples[("champion_monitor_stage_percent", (("experiment", "fraud"),))] == 25.0
    assert samples[("champion_monitor_tick_duration_seconds_count", ())] == 2
    assert samples[("champion_monitor_tick_duration_seconds_sum", ())] == pytest.approx(2.3)
    assert samples[("champion_monitor_last_tick_timestamp_seconds", ())] == 1_700_000_060.0
    actions = named(samples, "champion_monitor_actions_total")
    assert actions == {
        (("action", "advance"), ("experiment", "fraud")): 2,
        (("action", "stop"), ("experiment", "fraud")): 1,
    }
    assert samples[("champion_monitor_experiment_errors_total", (("experiment", "fraud"),))] == 1
    assert samples[("champion_monitor_webhook_failures_total", ())] == 1


def test_forget_removes_only_that_experiments_series(served: MonitorMetrics) -> None:
    metrics = served
    for experiment in ("fraud", "churn"):
        metrics.set_guardrail(experiment, "challenger", "latency_p99", "pass", k=0, stop_after=3)
        metrics.set_stage(experiment, 10.0)
        metrics.count_action(experiment, "advance")
        metrics.count_error(experiment)
    metrics.forget("fraud")
    samples = scrape(metrics)
    experiments = {dict(labels).get("experiment") for _, labels in samples}
    assert "fraud" not in experiments
    assert "churn" in experiments
    churn = named(samples, "champion_monitor_guardrail_status")
    assert len(churn) == len(STATUSES)


def test_serving_twice_is_refused(served: MonitorMetrics) -> None:
    with pytest.raises(RuntimeError, match="already served"):
        served.serve(0)


def test_an_unknown_status_is_refused_naming_the_allowed_ones() -> None:
    m = MonitorMetrics()
    with pytest.raises(ValueError, match="one of pass, warn, violation, inconclusive, no_data"):
        m.set_guardrail("fraud", "challenger", "latency_p99", "bad", k=0, stop_after=3)
    with pytest.raises(InvalidArgument):
        m.set_guardrail("fraud", "challenger", "latency_p99", "PASS", k=0, stop_after=3)


def test_a_guardrail_gauge_shows_the_worst_of_its_rules():
    """The since-start rule passing must not hide its change scan's violation (or a
    no_data) on the one gauge per guardrail."""
    from champion.monitor.loop import worst_per_guardrail
    from champion.monitor.rules import RuleStatus

    def rule(kind, status, k=0, stop_after=1, guardrail="error_rate"):
        return RuleStatus(guardrail, "b", kind, kind, status, 0.0, 0.0, 0.0, k, stop_after, 1,
                          "w", 0.01)  # fmt: skip

    rules = [rule("comparative", "pass"), rule("change", "violation", 1), rule("slo", "pass"),
             rule("slo", "no_data", guardrail="latency_p95_ms"),
             rule("slo", "violation", 1, 3, guardrail="latency_p95_ms"),
             rule("slo", "violation", 2, 3, guardrail="latency_p95_ms")]  # fmt: skip
    worst = {r.guardrail: r for r in worst_per_guardrail(rules)}
    assert worst["error_rate"].kind == "change"
    assert worst["latency_p95_ms"].status == "violation"
    assert worst["latency_p95_ms"].k == 2
    assert rule("change", "pass").key == rule("change", "violation", 1).key
