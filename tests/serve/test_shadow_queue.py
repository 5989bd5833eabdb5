"""The shadow runner: a bounded queue per shadow model drained in micro-batches by one worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from champion.models import ModelAdapter
from champion.models.python import FunctionAdapter
from champion.serve.shadow import ShadowOutcome, ShadowRunner


class Batched(ModelAdapter):
    """Scores a whole batch in one call (like scikit-learn); records each batch's size."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__("batched")
        self.sizes: list[int] = []
        self.gate = gate
        self.loaded = True

    def load(self) -> None:
        self.loaded = True

    def predict(self, features: Mapping[str, Any]) -> float:
        return self.predict_batch([features])[0]

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[float]:
        if self.gate is not None:
            self.gate.wait(10)
        self.sizes.append(len(rows))
        if any(row.get("bad") for row in rows):
            raise ValueError("a bad row")
        return [row["x"] * 2.0 for row in rows]


def _collect() -> tuple[list[ShadowOutcome], Any]:
    outcomes: list[ShadowOutcome] = []
    return outcomes, outcomes.append


def test_shadow_calls_are_scored_in_batches_and_each_gets_its_own_answer():
    outcomes, on_result = _collect()
    model = Batched()
    runner = ShadowRunner(on_result, max_queue=1000, linger=0.01)
    try:
        for i in range(200):
            assert runner.submit(model, {"x": float(i)}, timeout_ms=1000, context=i)
        assert runner.drain(5)
    finally:
        runner.close()
    assert sorted((o.context, o.prediction) for o in outcomes) == [(i, 2.0 * i) for i in range(200)]
    assert sum(model.sizes) == 200
    assert len(model.sizes) <= 50  # 200 calls, a handful of model calls
    assert runner.stats.as_dict() == {"submitted": 200, "completed": 200, "errors": 0,
                                      "timeouts": 0, "dropped": 0,
                                      "batches": len(model.sizes)}  # fmt: skip


def test_shadow_a_full_queue_drops_and_counts_without_waiting():
    outcomes, on_result = _collect()
    gate = threading.Event()
    model = Batched(gate)
    runner = ShadowRunner(on_result, max_queue=3, linger=0.0)
    try:
        start = time.perf_counter()
        accepted = [runner.submit(model, {"x": 1.0}, timeout_ms=60_000) for _ in range(20)]
        assert time.perf_counter() - start < 0.1
        stats = runner.stats
        # three wait in the queue; the worker may hold a first batch it took before
        assert 3 <= stats.submitted <= 4
        assert stats.dropped == 20 - stats.submitted == accepted.count(False)
        gate.set()
        assert runner.drain(5)
    finally:
        runner.close()
    assert len(outcomes) == runner.stats.submitted == runner.stats.completed


def test_shadow_one_bad_row_fails_alone():
    outcomes, on_result = _collect()
    gate = threading.Event()
    model = Batched(gate)
    runner = ShadowRunner(on_result, max_queue=100, linger=0.0)
    try:
        rows = [{"x": float(i), "bad": i == 3} for i in range(10)]
        for i, row in enumerate(rows):
            runner.submit(model, row, timeout_ms=60_000, context=i)
        gate.set()
        assert runner.drain(5)
    finally:
        runner.close()
    errors = {o.context: o.error for o in outcomes if o.error}
    assert errors == {3: "ValueError: a bad row"}
    assert runner.stats.completed == 9
    assert runner.stats.errors == 1


def test_shadow_an_async_model_is_cut_at_its_timeout():
    async def hangs(features: dict) -> float:
        import asyncio

        await asyncio.sleep(5)
        return 1.0

    model = FunctionAdapter(hangs, "hangs")
    model.load()
    outcomes, on_result = _collect()
    runner = ShadowRunner(on_result, linger=0.0)
    try:
        start = time.perf_counter()
        runner.submit(model, {"x": 1.0}, timeout_ms=50)
        assert runner.drain(2)
        took = time.perf_counter() - start
    finally:
        runner.close()
    [outcome] = outcomes
    assert outcome.error == "timeout after 50 ms"
    assert outcome.prediction is None
    assert 50 <= outcome.latency_ms < 1000
    assert took < 1.0


def test_shadow_a_fast_model_is_scored_on_the_event_loop_without_a_thread():
    import asyncio

    outcomes, on_result = _collect()
    model = Batched()
    model.inline = True  # as decide_inline settles a microsecond model
    runner = ShadowRunner(on_result, loop_linger=0.01)

    async def serve() -> None:
        for i in range(100):
            runner.submit(model, {"x": float(i)}, timeout_ms=1000, context=i)
            if i % 10 == 9:
                await asyncio.sleep(0)  # other requests' turns
        await asyncio.sleep(0.05)  # the loop drains its queue between requests

    try:
        threads = threading.active_count()
        asyncio.run(serve())
        assert threading.active_count() == threads
        assert runner.stats.completed == 100
        assert len(model.sizes) <= 4

        # calls left when the loop ended are scored by drain(), not lost
        async def submit_and_leave() -> None:
            runner.submit(model, {"x": 1.0}, timeout_ms=1000)

        asyncio.run(submit_and_leave())
        assert runner.in_flight() == 1
        assert runner.drain(1)
        assert threading.active_count() == threads
    finally:
        runner.close()
    assert len(outcomes) == runner.stats.submitted == 101


def test_shadow_on_the_loop_full_batches_cancel_the_linger_and_a_new_loop_drains_its_own():
    """While calls keep coming, every model call scores a full batch: a drain at the linger
    would score the few calls that came in since the last full batch; a loop started after
    one ended (its pending drain gone with it) still drains its calls by itself."""
    import asyncio

    outcomes, on_result = _collect()
    model = Batched()
    model.inline = True
    runner = ShadowRunner(on_result, max_queue=64, loop_linger=0.3)  # full batch: 32

    async def serve(n: int, pause: float) -> None:
        for i in range(n):
            runner.submit(model, {"x": float(i)}, timeout_ms=1000)
            await asyncio.sleep(pause)  # requests spread out over more than the linger
        await asyncio.sleep(0.5)

    try:
        asyncio.run(serve(256, 0.002))
        assert runner.stats.completed == 256
        assert model.sizes == [32] * 8
        asyncio.run(serve(5, 0.0))  # a new loop: its calls are drained on it after the linger
        assert runner.stats.completed == 261
        assert runner.in_flight() == 0
    finally:
        runner.close()
    assert len(outcomes) == 261
