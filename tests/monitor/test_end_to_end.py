"""`champion monitor` against a real gateway: real processes, real clocks, no mocks.

A gateway (``champion serve``, two workers) follows a SQLite registry and writes exposures
to an event folder; ``champion monitor`` reads that folder and acts on the registry; client
threads send predictions with many unit ids all the while. The challenger's behaviour is
switched at a known instant T through a flag file (``tests/monitor/e2e_models.py``).

The requirement: a challenger that starts failing or slows down at T under steady load
serves no traffic from T + window x ``stop_after`` (K) + 5 s on. Windows are aligned to
UNIX time multiples of their length, and T is put just after a window boundary, so the K
windows after T are wholly bad. In theory the K-th of them closes at T + K x window, the
first monitor tick ``SETTLE_SECONDS`` (2.5 s) later stops the challenger (ticks come every
``INTERVAL_S``), each gateway worker sees the stop at its next registry poll (``POLL_S``),
and a slowed call already under way answers 300 ms later: 4.3 s plus the tick's own run.
Measured times are printed (``pytest -rP``; under ``-n`` ``-s`` shows nothing).

A healthy rollout advances stage by stage on health, and its last step (50 % -> 100 %)
waits for the read-out: the test writes each unit's conversion (far likelier under the
challenger) so that the read-out can show the challenger better and the monitor promotes it.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.monitor.tick import ACTOR, SETTLE_SECONDS
from champion.registry import Registry
from champion.spec import load_spec
from tests.monitor.e2e_models import ENV_VAR
from tests.serve._support import free_port, is_ready, spawn_cli, stop_process, wait_until

HERE = Path(__file__).parent
NAME = "shop"
WINDOW_S = 3.0  # window_minutes 0.05
STOP_AFTER = 2
INTERVAL_S = 1.0  # the monitor's --interval
POLL_S = 0.5  # the gateway's registry poll (GatewaySettings.poll_interval)
#: the requirement: off traffic by T + window x K + 5 s
BOUND_S = WINDOW_S * STOP_AFTER + 5.0
FLIP_AFTER_BOUNDARY_S = 0.05  # T is this long after a window boundary
#: the share of units that convert, by the variant that first served them
CONVERSION = {"champ": 0.10, "chall": 0.60}


def spec_text(
    guardrails: str, *, allocation: str, min_requests: int, rollout: str = "",
    window_days: float = 1,
) -> str:  # fmt: skip
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
          primary: {{name: converted, kind: proportion, window_days: {window_days:g}}}
          guardrails: {guardrails}
        monitor:
          window_minutes: {WINDOW_S / 60:g}
          min_window_requests: {min_requests}
          stop_after: {STOP_AFTER}
          alpha: 0.05
        """) + textwrap.dedent(rollout)  # fmt: skip


# -- processes ----------------------------------------------------------------------------


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
        self.gateway = spawn_cli(
            ["serve", "--db", self.db, "--events", str(self.events), "--workers", "2",
             "--port", str(port), "--log-level", "warning", "--models-dir", str(HERE)],
            self.folder / "gateway.log", {ENV_VAR: str(self.flags)},
        )  # fmt: skip
        self.monitor = spawn_cli(
            ["monitor", NAME, "--db", self.db, "--events", str(self.events),
             "--interval", f"{INTERVAL_S:g}s", "--json"],
            self.folder / "monitor.log", {},
        )  # fmt: skip
        if not wait_until(self._ready, 60):
            self.close()
            pytest.fail(f"the gateway did not become ready:\n{self.logs()}")

    def _ready(self) -> bool:
        return is_ready(self.url)

    def restart(self) -> None:
        self.close()
        self.start()

    def close(self) -> None:
        for proc in (self.monitor, self.gateway):
            if proc is not None:
                stop_process(proc)
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
    """Client threads posting predictions at a steady pace, each cycling through its units.

    ``on_answer`` sees every answer as it arrives (from the client threads)."""

    def __init__(
        self, url: str, threads: int, per_thread: float, units: int = 50,
        on_answer: Callable[[Served], None] | None = None,
    ) -> None:  # fmt: skip
        self.url, self.period, self.units = url, 1.0 / per_thread, units
        self.on_answer = on_answer
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
                    served = Served(sent, time.monotonic(), unit, 0)
                else:
                    body = r.json() if r.status_code == 200 else {}
                    served = Served(
                        sent, time.monotonic(), unit, r.status_code,
                        body.get("variant", ""), body.get("model", ""),
                    )  # fmt: skip
                self.served.append(served)
                if self.on_answer is not None:
                    self.on_answer(served)
                i += 1
                due = max(due + self.period, time.monotonic() - 1.0)
                self._stop.wait(max(0.0, due - time.monotonic()))


class Conversions:
    """Outcomes as a product would send them: each unit converts (``converted`` = 1) with
    the probability of the variant that first served it (``CONVERSION``), stamped when that
    answer arrived, and posted to the gateway's ``/v1/outcomes`` in batches every 0.5 s.

    A unit belongs to one client thread, which waits for each answer before its next
    request, so the first answer seen for a unit is its first exposure.
    """

    def __init__(self, url: str, seed: int = 7) -> None:
        self.url = url
        self.first: dict[str, str] = {}  # unit -> the variant that first served it
        self.converted: dict[str, int] = dict.fromkeys(CONVERSION, 0)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> Conversions:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        assert not self._failures, self._failures[:3]

    def answer(self, s: Served) -> None:
        """``Load``'s ``on_answer``: decide a unit's conversion at its first answer."""
        if s.status != 200:
            return
        at = datetime.now(UTC).isoformat()
        with self._lock:
            if s.unit in self.first:
                return
            self.first[s.unit] = s.variant
            if self._rng.random() < CONVERSION[s.variant]:
                self.converted[s.variant] += 1
                self._pending.append({"unit_id": s.unit, "metric": "converted", "value": 1,
                                      "ts": at})  # fmt: skip

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while True:
                stopping = self._stop.wait(0.5)
                with self._lock:
                    batch, self._pending = self._pending, []
                if batch:
                    try:
                        r = client.post("/v1/outcomes", json={"outcomes": batch})
                        answer = r.json() if r.status_code == 200 else {}
                        if answer != {"accepted": len(batch), "warnings": []}:
                            self._failures.append(f"{r.status_code} {r.text[:300]}")
                    except httpx.HTTPError as e:
                        self._failures.append(repr(e))
                if stopping:
                    return

    def rates(self) -> dict[str, str]:
        """Converted / units, by first variant (printed beside the walk)."""
        units = {v: sum(1 for f in self.first.values() if f == v) for v in CONVERSION}
        return {v: f"{self.converted[v]}/{units[v]}" for v in CONVERSION}


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


def _flip_at_window_start(stack: Stack, flags: dict[str, str]) -> tuple[float, float]:
    """Set ``flags`` just after a window boundary: T, on the monotonic clock, and how far
    into its window T fell.

    Why aligned: a flip in the middle of a window leaves that window mixed (good before T,
    bad after), and a mixed window may not violate; detection starts with the first full
    window after T. Flipped at a boundary, the K windows after T are all bad, and the
    requirement (off traffic by T + window x K + 5 s) leaves no time for a mixed window.
    """
    while True:
        time.sleep(WINDOW_S - time.time() % WINDOW_S + FLIP_AFTER_BOUNDARY_S)
        if time.time() % WINDOW_S < FLIP_AFTER_BOUNDARY_S + 0.15:
            break  # a sleep that overran under load waits for the next boundary
    stack.set_flags(flags)
    t, into = time.monotonic(), time.time() % WINDOW_S
    return t, into


def _time_to_stop(stack: Stack, flags: dict[str, str]) -> tuple[float, float, float]:
    """Flip the challenger at a window boundary once two healthy windows were stored (and
    judged: nothing stopped); (seconds from T to the registry's stop, T on the monotonic
    clock, how far into its window T fell)."""
    with Registry(stack.db) as registry:
        assert wait_until(lambda: len(registry.windows(NAME)) >= 2 * 2, 30), stack.logs()
    assert stack.state().state.value == "running"
    t, into = _flip_at_window_start(stack, flags)
    stopped = stack.wait_for(lambda s: s.state.value == "stopped", 60, "guardrail stop")
    time.sleep(2 * POLL_S + 1.0)  # long enough for every worker to see it, and then some
    return stopped - t, t, into


def _say(what: str, registry_s: float, served_s: float, into: float, load: Load) -> None:
    settled = WINDOW_S * STOP_AFTER + SETTLE_SECONDS
    print(f"\n{what}: T {into:.2f} s into its window; stopped in the registry "
          f"{registry_s:.2f} s after T, last challenger answer {served_s:.2f} s after T "
          f"(bound window x K + 5 s = {BOUND_S:.1f} s; window x K + settle = {settled:.1f} s); "
          f"{len(load.served)} requests")  # fmt: skip


@pytest.mark.slow
def test_a_challenger_that_starts_failing_is_stopped_within_k_windows_and_stays_stopped(
    stacks,
):
    guardrails = "[{name: error_rate, max: 0.005}]"
    stack = stacks(spec_text(guardrails, allocation="{champ: 0.5, chall: 0.5}", min_requests=100))
    with Load(stack.url, threads=4, per_thread=60) as load:  # ~240 requests/s
        registry_s, t, into = _time_to_stop(stack, {"challenger": "errors"})
    served_s = _only_champion_after(load, t)
    _say("errors", registry_s, served_s, into, load)
    assert registry_s <= BOUND_S
    assert served_s <= BOUND_S
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
        registry_s, t, into = _time_to_stop(stack, {"challenger": "slow"})
    served_s = _only_champion_after(load, t)
    _say("latency", registry_s, served_s, into, load)
    assert registry_s <= BOUND_S
    assert served_s <= BOUND_S
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

# min_stage_hours 0.0005: 1.8 s; the primary's window 0.0001 days (8.6 s): a unit counts in
# the read-out 8.6 s after its first exposure
ROLLOUT = """\
    rollout:
      stages: [10, 25, 50, 100]
      min_stage_hours: 0.0005
      on_inconclusive: extend
      on_fail: rollback
      apply: auto
    """
WALK_GUARDRAILS = "[{name: latency_p95_ms, max: 150}, {name: error_rate, max: 0.05}]"


def _walk_spec() -> str:
    return spec_text(WALK_GUARDRAILS, allocation="{champ: 0.9, chall: 0.1}", min_requests=30,
                     rollout=ROLLOUT, window_days=0.0001)  # fmt: skip


@pytest.mark.slow
def test_a_healthy_better_challenger_walks_every_stage_and_is_promoted(stacks):
    stack = stacks(_walk_spec())
    # 2,000 units a thread: new units keep arriving at every stage (a cycle takes 33 s)
    with (
        Conversions(stack.url) as outcomes,
        Load(stack.url, threads=4, per_thread=60, units=2000, on_answer=outcomes.answer) as load,
    ):
        stack.wait_for(lambda s: s.state.value == "completed", 90, "promotion")
        promoted = time.monotonic()
        time.sleep(2 * POLL_S + 1.0)  # every worker sees it
    history = stack.history()
    start, *moves = history[1:]
    assert (start["action"], start["allocation"]["chall"]) == ("start", 0.1)
    assert [(e["action"], e["allocation"]["chall"]) for e in moves] == [
        ("ramp", 0.25), ("ramp", 0.5), ("promote", 1.0)
    ]  # fmt: skip
    assert all(e["by"] == ACTOR for e in moves)
    *ramps, promote = moves
    assert all("passed its gates" in e["reason"] for e in ramps)
    # the last step is the read-out's: the challenger converts 60 % against 10 %
    assert promote["evidence"]["decision"] == "rollout_full"
    assert "read-out: rollout_full" in promote["reason"]
    assert (promote["state"], promote["allocation"]) == ("completed", {"champ": 0.0, "chall": 1.0})
    assert stack.state().state.value == "completed"
    later = [s for s in load.served if s.sent > promoted + 2 * POLL_S]
    assert later
    assert {(s.status, s.variant, s.model) for s in later} == {(200, "chall", "chall")}
    assert not _unexpected(load), _unexpected(load)[:5]
    t0 = _at(start)
    print("\nwalk: " + ", ".join(
        f"{100 * e['allocation']['chall']:g}% ({e['action']}) at +{_at(e) - t0:.1f} s"
        for e in [start, *moves]
    ) + f"; converted {outcomes.rates()}")  # fmt: skip


@pytest.mark.slow
def test_a_challenger_that_turns_bad_at_50_percent_is_taken_off_traffic(stacks):
    """Its outcomes are as good as the healthy one's: only the latency guardrail keeps it
    from the last step."""
    stack = stacks(_walk_spec())
    with (
        Conversions(stack.url) as outcomes,
        Load(stack.url, threads=12, per_thread=20, on_answer=outcomes.answer) as load,
    ):
        stack.wait_for(lambda s: s.allocation.get("chall") == 0.5, 90, "walk to 50 %")
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
