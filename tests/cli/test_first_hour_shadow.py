"""shadow-report prints a fast model's latency as it is (0.042 ms), not 0.0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.cli._first_hour import invoke

from champion.events import Exposure, Shadow, open_writer

START = datetime(2024, 5, 1, tzinfo=UTC)


def test_sub_millisecond_latencies_keep_their_digits(tmp_path):
    events = tmp_path / "events"
    with open_writer(str(events)) as writer:
        for i in range(200):
            ts = START + timedelta(seconds=i)
            writer.log(Exposure(experiment="fast", unit_id=f"u{i}", variant="champion",
                                model="v1", allocation_version=1, probability=1.0,
                                request_id=f"r{i}", latency_ms=0.042, prediction="0.5",
                                score=0.5, ts=ts))  # fmt: skip
            writer.log(Shadow(experiment="fast", unit_id=f"u{i}", model="v2",
                              request_id=f"r{i}", prediction="0.4", score=0.4,
                              latency_ms=0.031, served_score=0.5, ts=ts))  # fmt: skip
    result = invoke("shadow-report", "fast", "--events", str(events))
    assert result.exit_code == 0, result.output
    assert "0.031 / 0.042" in result.stdout
    assert "0.0 / 0.0" not in result.stdout
