"""Where each model runs: on the event loop when measured fast, else on its own threads."""

from __future__ import annotations

import statistics
import threading
import time

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from champion.assign import Assigner
from champion.models import load_model
from champion.serve import Router, SpecSource
from champion.serve.app import create_app
from champion.serve.settings import GatewaySettings
from champion.spec import load_spec

EXAMPLE = {"a": 0.5, "b": -1.0}


@pytest.fixture
def logistic(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    path = tmp_path / "lr.joblib"
    joblib.dump(LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), path)
    return path


def test_router_a_fast_model_is_measured_once_and_runs_on_the_loop(logistic, tmp_path):
    ref = {"kind": "sklearn", "target": str(logistic),
           "options": {"features": ["a", "b"], "example": EXAMPLE}}  # fmt: skip
    adapter = load_model("lr", ref, tmp_path)
    assert adapter.inline is None
    assert adapter.decide_inline() is True
    assert adapter.check_us is not None
    assert adapter.check_us < 500
    # explicit settings are kept, whatever the measurement
    for inline in (False, True):
        pinned = load_model(
            "lr", {**ref, "options": {**ref["options"], "inline": inline}}, tmp_path
        )
        assert pinned.decide_inline() is inline
        assert pinned.check_us is None


def test_router_a_slow_or_unmeasurable_model_runs_on_its_own_threads(tmp_path):
    (tmp_path / "slowish.py").write_text(
        "import time\n\ndef score(features):\n    time.sleep(0.002)\n    return 0.5\n"
    )
    timed = load_model("s", {"kind": "python", "target": "slowish:score",
                             "options": {"example": EXAMPLE}}, tmp_path)  # fmt: skip
    assert timed.decide_inline() is False
    assert timed.check_us is not None
    assert timed.check_us > 1000
    blind = load_model("s", {"kind": "python", "target": "slowish:score"}, tmp_path)
    assert blind.decide_inline() is False  # nothing to time it on: never on the loop
    assert blind.check_us is None


def test_router_a_slow_plain_function_challenger_does_not_slow_the_champion(
    write_spec, models_dir, serve_app
):
    """Twelve challenger requests that each sleep 2 s: the champion's answers do not queue
    behind them (each model has its own threads, none shares the loop's default executor)."""
    spec = load_spec(write_spec(challenger="slow_shadow"))
    oracle = Assigner.from_spec(spec)
    units = [f"user-{i}" for i in range(400)]
    slow = [u for u in units if oracle.assign(u).variant == "chall"][:12]
    fast = [u for u in units if oracle.assign(u).variant == "champ"][:30]
    with Router(SpecSource([spec]), models_dir=models_dir) as router:
        server = serve_app(create_app(GatewaySettings(), router=router))
        path = "/v1/experiments/checkout/predict"

        def call(client: httpx.Client, unit: str) -> float:
            start = time.perf_counter()
            answer = client.post(path, json={"unit_id": unit, "features": {"amount": 1.0}})
            assert answer.status_code == 200, answer.text
            return time.perf_counter() - start

        def slow_call(unit: str) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                call(client, unit)

        with httpx.Client(base_url=server.url, timeout=30) as client:
            alone = [call(client, u) for u in fast]
            slow_calls = [threading.Thread(target=slow_call, args=(u,)) for u in slow]
            for thread in slow_calls:
                thread.start()
            time.sleep(0.3)  # every slow call is in its model now
            beside = [call(client, u) for u in fast]
            busy = sum(thread.is_alive() for thread in slow_calls)
            for thread in slow_calls:
                thread.join(30)
    assert busy == len(slow)  # the champion's calls all ran while the challenger slept
    # Sharing 6 default-executor threads with them, each would wait about 2 s.
    assert max(beside) < 1.0, beside
    assert statistics.median(beside) < 3 * statistics.median(alone) + 0.05, (alone, beside)
