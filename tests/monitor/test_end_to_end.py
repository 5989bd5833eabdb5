"""`champion monitor` against a real gateway: real processes, real clocks, no mocks.

A gateway (``champion serve``, two workers) follows a SQLite registry and writes exposures
to an event folder; ``champion monitor`` reads that folder and acts on the registry; client
threads send predictions with many unit ids all the while. The challenger's behaviour is
switched at a known instant T through a flag file (``tests/monitor/e2e_models.py``).

Time to stop, in theory: the first window wholly after T starts within one window of T;
``stop_after`` (K) violating windows later it closes, it is judged ``SETTLE_SECONDS``
later at the next tick, and each gateway worker sees the stop at its next registry poll.
Measured times are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.monitor.tick import ACTOR, SETTLE_SECONDS
from champion.registry import Registry
from champion.spec import load_spec
from tests.monitor.e2e_models import ENV_VAR
from tests.serve._support import free_port, wait_until

HERE = Path(__file__).parent
NAME = "shop"
WINDOW_S = 3.0  # window_minutes 0.05
STOP_AFTER = 2
INTERVAL_S = 1.0  # the monitor's --interval
POLL_S = 0.5  # the gateway's registry poll (GatewaySettings.poll_interval)


def spec_text(guardrails: str, *, allocation: str, min_requests: int, rollout: str = "") -> str:
    return textwrap.dedent(f"""\
        name: {NAME}
        unit: user
        models:
          champ: {{kind: python, target: "e2e_models:champion"}}
          chall: {{kind: python, target: "e2e_models:challenger"}}
        champion: champ
        challengers: [chall]
        allocation: {allocation}
        metrics:
          primary: {{name: converted, kind: proportion, window_days: 1}}
          guardrails: {guardrails}
        monitor:
          window_minutes: {WINDOW_S / 60:g}
          min_window_requests: {min_requests}
          stop_after: {STOP_AFTER}
          alpha: 0.05
        """) + textwrap.dedent(rollout)  # fmt: skip


# -- processes ----------------------------------------------------------------------------


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("ab") as out:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "champion.cli", *args], env={**os.environ, **env},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Stack:
    """A registry file, an event folder, a flag file, the gateway and the monitor."""

    def __init__(self, folder: Path, spec: str) -> None:
        self.folder = folder
        self.db = f"sqlite:///{folder / 'registry.db'}"
        self.events = folder / "events"
        self.events.mkdir()
        self.flags = folder / "flags.json"
        self.set_flags({})
        (folder / "spec.yaml").write_text(spec)
        with Registry(self.db) as registry:
            registry.create(load_spec(folder / "spec.yaml"), by="test")
            registry.start(NAME, by="test")
        self.gateway: subprocess.Popen | None = None
        self.monitor: subprocess.Popen | None = None
        self.url = ""

    def set_flags(self, flags: dict[str, str]) -> None:
        """Rewrite the flag file atomically: a model never reads half of it."""
        tmp = self.flags.with_suffix(".tmp")
        tmp.write_text(json.dumps(flags))
        tmp.replace(self.flags)

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.gateway = _spawn(
            ["serve", "--db", self.db, "--events", str(self.events), "--workers", "2",
             "--port", str(port), "--log-level", "warning", "--models-dir", str(HERE)],
            self.folder / "gateway.log", {ENV_VAR: str(self.flags)},
        )  # fmt: skip
        self.monitor = _spawn(
            ["monitor", NAME, "--db", self.db, "--events", str(self.events),
             "--interval", f"{INTERVAL_S:g}s", "--json"],
            self.folder / "monitor.log", {},
        )  # fmt: skip
        if not wait_until(self._ready, 60):
            self.close()
            pytest.fail(f"the gateway did not become ready:\n{self.logs()}")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def restart(self) -> None:
        self.close()
        self.start()

    def close(self) -> None:
        for proc in (self.monitor, self.gateway):
            if proc is not None:
                _stop(proc)
        assert self.monitor is not None
        # the monitor never died on its own: it exits 0 on SIGTERM, not earlier with an error
        assert self.monitor.returncode in (0, -signal.SIGTERM), self.logs()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {name}:\n{(self.folder / name).read_text(errors='replace')[-tail:]}"
            for name in ("gateway.log", "monitor.log")
            if (self.folder / name).exists()
        )

    def state(self) -> Any:
        with Registry(self.db) as registry:
            return registry.get(NAME)

    def history(self) -> list[dict[str, Any]]:
        """``champion experiment history NAME --json``, as a person would read it."""
        out = subprocess.run(
            [sys.executable, "-m", "champion.cli", "experiment", "history", NAME,
             "--db", self.db, "--json"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)

    def wait_for(self, check: Any, timeout: float, what: str) -> float:
        """Poll the registry every 50 ms until ``check(state)``; the monotonic time it held."""
        deadline, state = time.monotonic() + timeout, None
        with Registry(self.db) as registry:
            while time.monotonic() < deadline:
                state = registry.get(NAME)
                if check(state):
                    return time.monotonic()
                time.sleep(0.05)
        pytest.fail(f"{what}: not within {timeout:g} s (now {state})\n{self.logs()}")


@pytest.fixture
def stacks(tmp_path):
    made: list[Stack] = []

    def make(spec: str) -> Stack:
        stack = Stack(tmp_path, spec)
        made.append(stack)
        stack.start()
        return stack

    yield make
    for stack in made:
        stack.close()


# -- load ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Served:
    sent: float  # monotonic
    received: float
    unit: str
    status: int  # 0: no HTTP answer at all
    variant: str = ""
    model: str = ""


class Load:
    """Client threads posting predictions at a steady pace, each cycling through its units."""

    def __init__(self, url: str, threads: int, per_thread: float, units: int = 50) -> None:
        self.url, self.period, self.units = url, 1.0 / per_thread, units
        self.served: list[Served] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,)) for w in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self, worker: int) -> None:
        path = f"/v1/experiments/{NAME}/predict"
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i, due = 0, time.monotonic()
            while not self._stop.is_set():
                unit = f"user-{worker}-{i % self.units}"
                sent = time.monotonic()
                try:
                    r = client.post(path, json={"unit_id": unit, "features": {"amount": i % 200}})
                except httpx.HTTPError:
                    self.served.append(Served(sent, time.monotonic(), unit, 0))
                else:
                    body = r.json() if r.status_code == 200 else {}
                    self.served.append(Served(
                        sent, time.monotonic(), unit, r.status_code,
                        body.get("variant", ""), body.get("model", ""),
                    ))  # fmt: skip
                i += 1
                due = max(due + self.period, time.monotonic() - 1.0)
                self._stop.wait(max(0.0, due - time.monotonic()))


def _only_champion_after(load: Load, since: float) -> float:
    """When the last answer from the challenger's arm arrived: from then on, every unit is
    served by the champion. Checks that some answers came later, and that they went to
    units the challenger had served before."""
    challenger_units = {s.unit for s in load.served if s.variant == "chall"}
    last = max(s.received for s in load.served if s.variant == "chall")
    later = [s for s in load.served if s.sent > last]
    assert later, "no answer after the challenger's last one: the load stopped too early"
    assert {s.variant for s in later} == {"champ"}
    assert {s.model for s in later} == {"champ"}
    assert len({s.unit for s in later} & challenger_units) >= 20
    return last - since


def _unexpected(load: Load) -> list[Served]:
    """Answers other than 200: a failing challenger is answered by the champion (200,
    ``model`` champ) under the gateway's fallback, so any 5xx or lost request is a fault."""
    return [s for s in load.served if s.status != 200]


def _stop_entry(history: list[dict[str, Any]]) -> dict[str, Any]:
    stops = [e for e in history if e["action"] in ("stop", "rollback")]
    assert len(stops) == 1, history
    return stops[0]


def _check_still_stopped_after_restart(stack: Stack, history: list[dict[str, Any]]) -> None:
    stack.restart()
    with Load(stack.url, threads=2, per_thread=50) as load:
        time.sleep(3 * INTERVAL_S)  # the new monitor ticks a few times
    assert load.served
    assert {(s.status, s.variant, s.model) for s in load.served} == {(200, "champ", "champ")}
    assert stack.state().state.value == history[-1]["state"]
    assert stack.history() == history


# -- guardrail stops ------------------------------------------------------------------------


def _time_to_stop(stack: Stack, flags: dict[str, str]) -> tuple[float, float]:
    """Flip the challenger once two healthy windows were stored (and judged: nothing
    stopped); (seconds from T to the registry's stop, T on the monotonic clock)."""
    with Registry(stack.db) as registry:
        assert wait_until(lambda: len(registry.windows(NAME)) >= 2 * 2, 30), stack.logs()
    assert stack.state().state.value == "running"
    stack.set_flags(flags)
    t = time.monotonic()
    stopped = stack.wait_for(lambda s: s.state.value == "stopped", 60, "guardrail stop")
    time.sleep(2 * POLL_S + 1.0)  # long enough for every worker to see it, and then some
    return stopped - t, t


def _bound() -> float:
    """Seconds from T by which the challenger must be gone (module docstring)."""
    return WINDOW_S * (STOP_AFTER + 1) + SETTLE_SECONDS + INTERVAL_S + POLL_S + 1.0


@pytest.mark.slow
def test_a_challenger_that_starts_failing_is_stopped_within_k_windows_and_stays_stopped(
    stacks,
):
    guardrails = "[{name: error_rate, max: 0.005}]"
    stack = stacks(spec_text(guardrails, allocation="{champ: 0.5, chall: 0.5}", min_requests=100))
    with Load(stack.url, threads=4, per_thread=60) as load:  # ~240 requests/s
        registry_s, t = _time_to_stop(stack, {"challenger": "errors"})
    served_s = _only_champion_after(load, t)
    print(f"\nerrors: stopped in the registry {registry_s:.2f} s after T, last challenger "
          f"answer {served_s:.2f} s after T (bound {_bound():.1f} s; "
          f"window x K + settle = {WINDOW_S * STOP_AFTER + SETTLE_SECONDS:.1f} s); "
          f"{len(load.served)} requests")  # fmt: skip
    assert served_s <= _bound()
    assert not _unexpected(load), _unexpected(load)[:5]
    # the injected errors were answered by the champion, as the gateway's fallback says
    assert any(s.sent > t and (s.variant, s.model) == ("chall", "champ") for s in load.served)
    history = stack.history()
    entry = _stop_entry(history)
    assert entry["by"] == ACTOR
    (rule,) = entry["evidence"]["rules"]
    assert rule["guardrail"] == "error_rate"
    assert rule["variant"] == "chall"
    assert rule["limit"] == 0.005
    assert rule["bound"] > rule["limit"]
    assert rule["estimate"] > rule["bound"]
    assert rule["k"] == rule["stop_after"] == STOP_AFTER
    assert rule["window"]
    assert "error_rate" in entry["reason"]
    _check_still_stopped_after_restart(stack, history)


@pytest.mark.slow
def test_a_challenger_that_slows_down_is_stopped_within_k_windows_and_stays_stopped(stacks):
    guardrails = "[{name: latency_p95_ms, max: 150}]"
    stack = stacks(spec_text(guardrails, allocation="{champ: 0.5, chall: 0.5}", min_requests=30))
    with Load(stack.url, threads=12, per_thread=20) as load:  # enough threads to wait 300 ms
        registry_s, t = _time_to_stop(stack, {"challenger": "slow"})
    served_s = _only_champion_after(load, t)
    print(f"\nlatency: stopped in the registry {registry_s:.2f} s after T, last challenger "
          f"answer {served_s:.2f} s after T (bound {_bound():.1f} s; "
          f"window x K + settle = {WINDOW_S * STOP_AFTER + SETTLE_SECONDS:.1f} s); "
          f"{len(load.served)} requests")  # fmt: skip
    assert served_s <= _bound()
    assert not _unexpected(load), _unexpected(load)[:5]
    history = stack.history()
    entry = _stop_entry(history)
    assert entry["by"] == ACTOR
    (rule,) = entry["evidence"]["rules"]
    assert rule["guardrail"] == "latency_p95_ms"
    assert rule["limit"] == 150
    assert rule["bound"] > rule["limit"]
    assert rule["k"] == rule["stop_after"] == STOP_AFTER
    _check_still_stopped_after_restart(stack, history)


# -- rollout walk ---------------------------------------------------------------------------

ROLLOUT = """\
    rollout:
      stages: [10, 25, 50, 100]
      min_stage_hours: 0.0005
      on_inconclusive: extend
      on_fail: rollback
      apply: propose
    """
WALK_GUARDRAILS = "[{name: latency_p95_ms, max: 150}, {name: error_rate, max: 0.05}]"


def _walk_spec() -> str:
    return spec_text(WALK_GUARDRAILS, allocation="{champ: 0.9, chall: 0.1}", min_requests=30,
                     rollout=ROLLOUT)  # fmt: skip


def _share(stack: Stack) -> float:
    return stack.state().allocation.get("chall", 0.0)


@pytest.mark.slow
def test_a_healthy_challenger_walks_every_stage_to_100_percent(stacks):
    stack = stacks(_walk_spec())
    with Load(stack.url, threads=4, per_thread=60):
        stack.wait_for(lambda s: s.allocation.get("chall") == 1.0, 120, "walk to 100 %")
    history = stack.history()
    start = history[1]
    assert (start["action"], start["allocation"]["chall"]) == ("start", 0.1)
    ramps = [e for e in history if e["action"] == "ramp"]
    assert [e["allocation"]["chall"] for e in ramps] == [0.25, 0.5, 1.0]
    assert [e["stage"] for e in ramps] == [1, 2, 3]
    assert all(e["by"] == ACTOR for e in ramps)
    assert all("passed its gates" in e["reason"] for e in ramps)
    assert all("decision" in e["evidence"] for e in ramps)  # the read-out behind each step
    t0 = _at(start)
    print("\nwalk: " + ", ".join(
        f"{100 * e['allocation']['chall']:g}% at +{_at(e) - t0:.1f} s" for e in [start, *ramps]
    ))  # fmt: skip
    assert stack.state().state.value == "running"  # apply: propose leaves the end to people


@pytest.mark.slow
def test_a_challenger_that_turns_bad_at_50_percent_is_taken_off_traffic(stacks):
    stack = stacks(_walk_spec())
    with Load(stack.url, threads=12, per_thread=20) as load:
        stack.wait_for(lambda s: s.allocation.get("chall") == 0.5, 120, "walk to 50 %")
        stack.set_flags({"challenger": "slow"})
        t = time.monotonic()
        ended = stack.wait_for(lambda s: s.state.value in ("stopped", "rolled_back"), 60,
                               "stop or rollback at 50 %")  # fmt: skip
        time.sleep(2 * POLL_S + 1.0)
    served_s = _only_champion_after(load, t)
    print(f"\nbad at 50%: {stack.state().state.value} {ended - t:.2f} s after T, last "
          f"challenger answer {served_s:.2f} s after T")  # fmt: skip
    assert not _unexpected(load), _unexpected(load)[:5]
    history = stack.history()
    assert max(e["allocation"]["chall"] for e in history) == 0.5  # never went further
    entry = _stop_entry(history)
    assert entry["by"] == ACTOR
    assert entry["allocation"]["chall"] == 0.0
    assert "latency_p95_ms" in entry["reason"]


def _at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["at"]).timestamp()
