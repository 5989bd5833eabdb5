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
