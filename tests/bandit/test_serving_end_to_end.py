"""A bandit served by a real gateway (``champion serve --workers 2``), updated with
``champion bandit update`` and read out with ``champion bandit report``.

The test plays the users: each round it sends new units, draws each unit's reward from its
arm's true rate (seeded), posts the rewards to ``/v1/outcomes``, then runs the update. It
keeps its own record of every unit (the arm the gateway answered, the version the registry
served, the probability and holdout flag the assigner gives) and computes the estimates
from that record with the statistics functions: the oracle the read-out from the event log
must equal.
"""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from champion.assign import Assigner
from champion.cli import app as cli
from champion.registry import Registry
from champion.spec import load_spec
from champion.stats.adaptive import adaptive_stats, arm_values, gain_over_uniform
from tests.serve._support import free_port, is_ready, spawn_cli, stop_process, wait_until

HERE = Path(__file__).parent
NAME = "race"
RATES = {"a": 0.10, "b": 0.40}  # b is the better arm
UNITS_PER_ROUND = 160
ROUNDS = 4
POLL_S = 0.5  # the gateway's registry poll
#: the requirement measured here: after this many updates the better arm has > 90%
SHIFT_WITHIN_UPDATES = 2
#: a worker serves a published version within its poll interval, measured by the worker from
#: the registry's commit; this margin allows for a busy shared host scheduling the poller late
POLL_MARGIN_S = 1.0

SPEC = textwrap.dedent(f"""\
    name: {NAME}
    unit: user
    models:
      a: {{kind: python, target: "bandit_models:arm_a"}}
      b: {{kind: python, target: "bandit_models:arm_b"}}
    champion: a
    challengers: [b]
    allocation: {{a: 0.5, b: 0.5}}
    metrics:
      primary: {{name: converted, kind: proportion, window_days: 1}}
    bandit: {{reward: converted, update_every: 10s, min_share: 0.05, holdout: 0.2}}
    """)


@pytest.fixture
def gateway(tmp_path):
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    events = tmp_path / "events"
    (tmp_path / "spec.yaml").write_text(SPEC)
    with Registry(db) as registry:
        registry.create(load_spec(tmp_path / "spec.yaml"), by="test")
        registry.start(NAME, by="test")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = spawn_cli(
        ["serve", "--registry", db, "--events", str(events), "--workers", "2", "--port",
         str(port), "--log-level", "warning", "--models-dir", str(HERE)],
        tmp_path / "gateway.log",
    )  # fmt: skip
    try:
        if not wait_until(lambda: is_ready(url), 90):
            pytest.fail((tmp_path / "gateway.log").read_text()[-3000:])
        yield url, db, events
    finally:
        stop_process(proc)


def _stored_exposures(events: Path) -> list[tuple[str, int]]:
    files = list(events.glob("exposures/**/*.parquet"))
    if not files:
        return []
    return duckdb.sql(
        f"select unit_id, allocation_version from read_parquet('{events}/exposures/**/*.parquet',"
        " hive_partitioning = true)"
    ).fetchall()


def test_a_bandit_shifts_to_the_better_arm_and_its_read_out_equals_the_oracle(gateway):
    url, db, events = gateway
    rng = np.random.default_rng(11)
    runner = CliRunner()
    spec = load_spec_from(db)
    record: list[dict] = []  # one row per unit: the oracle's data
    weights_after: list[float] = []
    lags: list[float] = []  # seconds until the last worker served each published version
    # no keep-alive: every request is a new connection, so both workers take predictions
    fresh = httpx.Limits(max_keepalive_connections=0)
    with Registry(db) as registry, httpx.Client(timeout=10, limits=fresh) as client:
        for rnd in range(ROUNDS):
            state = registry.get(NAME)
            assigner = Assigner.from_spec(spec, allocation=state.allocation, version=state.version)
            converters = []
            for i in range(UNITS_PER_ROUND):
                unit = f"r{rnd}-u{i}"
                answer = client.post(f"{url}/v1/experiments/{NAME}/predict",
                                     json={"unit_id": unit, "features": {"x": 1.0}})  # fmt: skip
                assert answer.status_code == 200, answer.text
                served = answer.json()["variant"]
                expected = assigner.assign(unit)
                assert served == expected.variant  # both workers serve the published version
                reward = float(rng.random() < RATES[served])
                record.append({
                    "unit": unit, "arm": spec.variants.index(served), "version": state.version,
                    "probability": expected.probability, "reward": reward,
                    "holdout": expected.reason == "bandit_holdout",
                })  # fmt: skip
                if reward:
                    converters.append({"unit_id": unit, "metric": "converted", "value": 1})
            if converters:
                posted = client.post(f"{url}/v1/outcomes", json={"outcomes": converters})
                assert posted.status_code == 200, posted.text
            # the round's exposures and outcomes are on disk (the writers flush every second)
            assert wait_until(_stored_at_least(events, len(record)), 20)
            time.sleep(1.5)
            done = runner.invoke(cli, ["bandit", "update", NAME, "--registry", db,
                                       "--events", str(events), "--json"])  # fmt: skip
            assert done.exit_code == 0, done.output
            update = json.loads(done.output)
            weights_after.append(update["weights"]["b"])
            published = registry.history(NAME)[-1]
            assert published.action == "reweight"
            lags.append(_lag_until_every_worker_serves(url, registry.global_version(),
                                                       published.at))  # fmt: skip
    print(
        f"weight of the better arm after each update: {weights_after}; seconds until "
        f"both workers served it: {[round(x, 2) for x in lags]}"
    )
    # every worker served each published version within its poll interval (plus the margin)
    assert max(lags) <= POLL_S + POLL_MARGIN_S, lags
    # the allocation moved to the better arm within the stated number of updates
    assert max(weights_after[:SHIFT_WITHIN_UPDATES]) > 0.9, weights_after
    assert weights_after[-1] > 0.9
    # every exposure was served under the version published before its round
    served_versions = dict(_stored_exposures(events))
    assert {r["unit"]: r["version"] for r in record} == served_versions
    # the read-out from the event log equals the oracle on the test's own record
    versions = sorted({r["version"] for r in record})
    stats = adaptive_stats(
        [versions.index(r["version"]) for r in record], [r["arm"] for r in record],
        [r["probability"] for r in record], [r["reward"] for r in record],
        holdout=[r["holdout"] for r in record], arms=2,
    )  # fmt: skip
    oracle_values = arm_values(stats).to_dict()
    oracle_gain = gain_over_uniform(stats).to_dict()
    as_of = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    shown = runner.invoke(cli, ["bandit", "report", NAME, "--registry", db, "--events",
                                str(events), "--as-of", as_of, "--json"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    out = json.loads(shown.output)
    assert out["units_with_reward"] == len(record)
    assert out["holdout_units"] == sum(r["holdout"] for r in record) > 0
    for key in ("estimate", "ci_lower", "ci_upper", "naive", "ipw"):
        assert out["arm_values"][key] == pytest.approx(oracle_values[key], rel=1e-9), key
    assert out["bandit_vs_holdout"]["diff"] == pytest.approx(oracle_gain["diff"], rel=1e-9)
    assert out["bandit_vs_holdout"]["diff_ci"] == pytest.approx(oracle_gain["diff_ci"], rel=1e-9)
    assert "launch decision" in out["bandit_vs_holdout"]["valid_for"]
    assert "not valid" in out["arm_values"]["valid_for"]["naive"]
    # the naive mean of the losing arm is pulled away from the AIPW estimate: shown beside it
    assert out["arm_values"]["naive"][0] is not None
    # champion analyze --json says the A/B read-out is not the launch number, and carries these
    analyzed = runner.invoke(cli, ["analyze", NAME, "--registry", db, "--events", str(events),
                                   "--as-of", as_of, "--json"])  # fmt: skip
    assert analyzed.exit_code == 0, analyzed.output
    bandit = json.loads(analyzed.output)["bandit"]
    assert bandit["readout_valid_for_launch"] is False
    assert bandit["arm_values"]["estimate"] == out["arm_values"]["estimate"]
    # ... and so does the HTML report, each number beside what it is valid for
    page = events.parent / "report.html"
    written = runner.invoke(cli, ["analyze", NAME, "--registry", db, "--events", str(events),
                                  "--as-of", as_of, "--html", str(page)])  # fmt: skip
    assert written.exit_code == 0, written.output
    html = page.read_text()
    assert "Bandit: which numbers decide" in html
    assert "valid for a launch decision" in html
    assert "not valid under adaptive allocation" in html


def _lag_until_every_worker_serves(
    url: str, version: int, published: datetime, workers: int = 2
) -> float:
    """Seconds from the registry's commit of ``version`` to the last worker serving it, as
    each worker records it (``/readyz``'s ``registry_version_at``): the worker's own poll lag,
    not the time this test takes to reach both workers over new connections."""
    taken: dict[int, datetime] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/readyz", timeout=5).json()
        if body["registry_version"] >= version:
            taken[body["pid"]] = datetime.fromisoformat(body["registry_version_at"])
        if len(taken) >= workers:
            return max((at - published).total_seconds() for at in taken.values())
        time.sleep(0.02)
    pytest.fail(f"after 20 s only workers {sorted(taken)} serve version {version}")


def _stored_at_least(events: Path, n: int):
    return lambda: len(_stored_exposures(events)) >= n


def load_spec_from(db: str):
    with Registry(db) as registry:
        return registry.spec(NAME)
