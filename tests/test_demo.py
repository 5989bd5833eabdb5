"""`champion demo` runs the whole story on the example: every part real, users simulated."""

import json

from typer.testing import CliRunner

from champion.cli import app
from champion.registry import Registry

DECISIONS = {"rollout_full", "rollout_gradual", "keep", "extend", "rollback"}


def test_demo_runs_end_to_end_and_leaves_its_registry_events_and_reports(tmp_path):
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(folder), "--units-per-day", "400", "--days", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["report"]["decision"] in DECISIONS
    assert {s["model"] for s in data["shadow"]["shadows"]} == {"v2_0", "v2_1_candidate"}
    assert (folder / "report.html").stat().st_size > 10_000
    assert (folder / "shadow.html").stat().st_size > 10_000
    with Registry(f"sqlite:///{folder / 'champion.db'}") as registry:
        actions = [entry.action for entry in registry.history("fraud-detector-v2")]
    assert actions[:4] == ["create", "shadow", "start", "ramp"]
    assert len(actions) >= 5  # the decision was applied through the registry


def test_the_demo_applies_its_decision_as_decide_apply_does(tmp_path):
    """A challenger that catches a third of the fraud the champion does is rolled back, and
    the audit log shows the public path's entry (forced: the demo's days are simulated)."""
    from champion.demo import Truth, run_demo

    truth = Truth(fraud_caught={"v1_3": 0.15, "v2_0": 0.05})
    result = run_demo(tmp_path / "demo", units_per_day=400, days=4, truth=truth)
    assert (result.report.decision.decision, result.report.decision.variant) == (
        "rollback", "v2_0")  # fmt: skip
    assert result.action == "applied: roll back: the champion serves everyone again"
    with Registry(f"sqlite:///{tmp_path / 'demo' / 'champion.db'}") as registry:
        state = registry.get("fraud-detector-v2")
        last = registry.history("fraud-detector-v2")[-1]
    assert state.state.value == "rolled_back"
    assert state.allocation == {"v1_3": 1.0, "v2_0": 0.0}
    assert (last.action, last.by) == ("rollback", "demo")
    assert last.reason.startswith("decide apply: rollback (v2_0): v2_0 is significantly worse")


def test_the_demo_as_the_readme_runs_it_prints_each_part_for_people(tmp_path):
    """Without --json, as scripts/demo.sh runs it: the design, the serving and the read-out."""
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(folder), "--units-per-day", "400", "--days", "4"],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1. Design" in result.output
    assert "(models not loaded" not in result.output
    assert "fraud-detector-v2" in result.output
    assert (folder / "report.html").is_file()
