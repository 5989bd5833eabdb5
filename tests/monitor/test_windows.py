"""Window sums read from a real event folder (DuckDB over Parquet): per-bucket requests
and errors, and the score histogram the drift rule reads, against the events themselves."""

from datetime import UTC, datetime, timedelta

import numpy as np

from champion.analysis.store import open_store
from champion.events import Exposure, open_writer
from champion.monitor.windows import read_windows

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_windows_hold_requests_errors_and_the_score_histogram(tmp_path):
    rng = np.random.default_rng(3)
    n = 3_000
    scores = rng.beta(2, 5, n)
    scores[:10] = [-3.0, 0.0, 1.0, 12.5, 1e12, -0.2, 0.5, 0.99, 0.01, 2.0]  # any real score
    at = rng.uniform(0, 120, n)  # two one-minute windows
    variant = np.where(rng.random(n) < 0.5, "a", "b")
    failed = rng.random(n) < 0.02
    with open_writer(tmp_path) as writer:
        for i in range(n):
            writer.log(Exposure(
                experiment="exp", unit_id=f"u{i % 500}", variant=str(variant[i]),
                model=str(variant[i]), allocation_version=1, probability=0.5,
                request_id=f"r{i}", latency_ms=20.0, error="x" if failed[i] else None,
                score=None if i % 100 == 99 else float(scores[i]),
                ts=START + timedelta(seconds=float(at[i])),
            ))  # fmt: skip
    with open_store(tmp_path, experiment="exp") as store:
        rows = read_windows(store, "exp", ["a", "b"], [START, START + timedelta(minutes=1)], 60)
    assert len(rows) == 4
    for row in rows:
        w = int((row.start - START).total_seconds() // 60)
        mine = (variant == row.variant) & (at // 60 == w)
        assert row.requests == mine.sum()
        assert row.errors == (mine & failed).sum()
        scored = mine & (np.arange(n) % 100 != 99)
        x = scores[scored]
        k = np.floor(200 * np.sign(x) * np.log10(1 + np.abs(x))).astype(int)
        k = np.clip(k, -2_000, 2_000)
        keys, counts = np.unique(k, return_counts=True)
        expected = {str(a): int(b) for a, b in zip(keys, counts, strict=True)}
        assert row.sums["scores"] == expected
