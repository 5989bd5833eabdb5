"""``champion monitor`` and ``champion rollout`` from the command line: JSON, dry runs,
clear errors for bad options, a webhook that never answers, Prometheus series."""

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from tests.monitor.test_tick import make_spec, write
from typer.testing import CliRunner

from champion.cli import app
from champion.registry import Registry

runner = CliRunner()


@pytest.fixture
def failing(tmp_path):
    """A running experiment whose challenger fails 8 % of requests, events in the past."""
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    with Registry(db) as reg:
        reg.create(make_spec())
        state = reg.start("exp")
    # the events start where the registry says traffic started, and end 6 minutes before now:
    # the windows they fill have closed for the real clock once the test sleeps past them
    write(tmp_path / "ev", "exp", state.version, state.updated_at - timedelta(minutes=0), 1,
          rate_b=0.08, per_minute=6_000)  # fmt: skip
    return db, tmp_path / "ev"


def test_once_json_dry_run_says_what_it_would_do_and_changes_nothing(failing):
    db, events = failing
    result = runner.invoke(
        app, ["monitor", "--registry", db, "--events", str(events), "--once", "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    (exp,) = json.loads(result.output)["experiments"]
    assert exp["name"] == "exp"
    assert exp["verdict"] in ("pass", "fail", "inconclusive")
    assert {r["guardrail"] for r in exp["rules"]} == {"error_rate", "latency_p95_ms"}
    assert exp["applied"] is False
    with Registry(db) as reg:
        assert reg.get("exp").state.value == "running"
        assert reg.windows("exp") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "soon"], "--interval"),
        (["--interval", "0s"], "--interval"),
        (["--webhook", "ftp://hooks.example/x"], "webhook"),
        (["--events", "/does/not/exist"], "--events"),
    ],
)
def test_bad_options_name_the_option_and_exit_2(failing, args, message):
    db, events = failing
    base = {"--events": str(events)} | dict(zip(args[::2], args[1::2], strict=True))
    argv = ["monitor", "--registry", db, "--once"] + [x for kv in base.items() for x in kv]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_no_events_option_is_a_clear_error():
    result = runner.invoke(app, ["monitor", "--once"])
    assert result.exit_code == 2
    assert "--events" in result.output


def _silent_port():
    """A port that accepts connections and never answers (a webhook that times out)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


def test_a_webhook_that_never_answers_does_not_hold_the_tick(failing):
    db, events = failing
    server = _silent_port()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"
        started = time.monotonic()
        result = runner.invoke(
            app, ["monitor", "--registry", db, "--events", str(events), "--once", "--webhook", url]
        )
        assert result.exit_code == 0, result.output
        # the tick itself returns at once; closing waits at most a short drain
        assert time.monotonic() - started < 20
    finally:
        server.close()


def test_rollout_status_reads_the_window_ledger_and_moves_are_audited(failing):
    db, events = failing
    runner.invoke(app, ["monitor", "--registry", db, "--events", str(events), "--once"])
    status = runner.invoke(app, ["rollout", "status", "exp", "--registry", db, "--json"])
    assert status.exit_code == 0, status.output
    out = json.loads(status.output)
    assert out["verdict"] in ("pass", "fail", "inconclusive")
    assert out["stage_percent"] == pytest.approx(10.0) or out["state"] == "stopped"
    if out["state"] == "running":
        paused = runner.invoke(
            app, ["rollout", "pause", "exp", "--registry", db, "--reason", "look"]
        )
        assert paused.exit_code == 0, paused.output
        history = runner.invoke(app, ["experiment", "history", "exp", "--registry", db, "--json"])
        assert json.loads(history.output)[-1]["action"] == "pause"
    missing = runner.invoke(app, ["rollout", "pause", "exp", "--registry", db])
    assert missing.exit_code == 2
    assert "--reason" in missing.output


def test_the_metrics_port_serves_the_monitors_series(failing):
    db, events = failing
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "champion.cli", "monitor", "--registry", db,
            "--events", str(events), "--interval", "200ms",
            "--metrics-port", str(port)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    body = ""
    try:
        for _ in range(150):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                if "champion_monitor_guardrail_status{" in body:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err.decode()
    assert "champion_monitor_tick_duration_seconds" in body
    assert "champion_monitor_last_tick_timestamp_seconds" in body
    assert 'champion_monitor_guardrail_status{experiment="exp"' in body
    assert 'champion_monitor_stage_percent{experiment="exp"} 10.0' in body
