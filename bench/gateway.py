"""Gateway benchmark: ``champion serve`` against a bare FastAPI app serving the same model.

In one run on 127.0.0.1, with the load generator ``wrk`` (Debian: ``apt-get install -y wrk``):

- **bare**: FastAPI + a pydantic request body + the scikit-learn ``LogisticRegression``'s
  ``predict_proba`` on the request's features, answered as a pydantic response model: what a
  team writes when it serves one model without champion.
- **champion**: ``champion serve`` on a spec whose champion, challenger (50/50) and one shadow
  (``sample: 1.0``) are the same kind of model (joblib files of three fitted
  ``LogisticRegression``), with events on (the Parquet writer in a temp folder).

Both run under uvicorn with its defaults (uvloop and httptools when installed), on a
listener with Nagle off, with 1 and then 2 worker processes. Per worker count and repeat,
the servers take turns (round robin, so a burst of load elsewhere hits both alike):

- throughput: ``wrk -t2 -c32`` requests per second;
- latency at 1 connection: ``wrk -t1 -c1 --latency`` p50 and p99;
- p99 at 32 connections, from the same run as the throughput.

Each request is a POST of one JSON body (a Lua script sets method, body and headers); every
unit id differs between requests of one connection so the split is exercised. The table
shows medians over ``--repeats``; ``--json`` prints one JSON object as the last line:
``throughput_ratio`` (champion / bare, 1 worker), ``throughput_ratio_2_workers``,
``added_p50_ms`` / ``added_p99_ms`` (champion minus bare at 1 connection, 1 worker),
``p99_32_ratio`` (champion / bare at 32 connections, 1 worker) and ``router_us_per_call``:
the in-process ``Router.apredict`` cost per call in microseconds (no HTTP; models that answer
a constant, so only champion's own work is timed: assignment, the exposure, the shadow's
hand-off).

    .venv/bin/python bench/gateway.py [--duration 4] [--repeats 3] [--workers 1 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

FEATURES = [f"f{i}" for i in range(8)]
PREDICT_PATH = "/v1/experiments/bench/predict"
START_TIMEOUT = 240.0  # seconds; each worker imports scikit-learn, pyarrow ... on a busy host

BARE_APP = '''\
"""The baseline: FastAPI, a pydantic body and the model's predict_proba, nothing else."""

from typing import Any

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

FEATURES = {features!r}
MODEL = joblib.load({model!r})


class PredictRequest(BaseModel):
    unit_id: str | None = None
    features: dict[str, Any]
    attributes: dict[str, Any] = {{}}


class PredictResponse(BaseModel):
    prediction: float
    model: str


app = FastAPI()


@app.post("/v1/experiments/bench/predict", response_model=PredictResponse)
async def predict(body: PredictRequest) -> PredictResponse:
    row = np.asarray([[body.features[f] for f in FEATURES]], dtype="float64")
    return PredictResponse(prediction=float(MODEL.predict_proba(row)[0, 1]), model="v1")
'''

# The same listener champion uses: IPPROTO_TCP so asyncio turns Nagle off on every worker.
BARE_LAUNCHER = """\
import inspect
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess


def main(port: int, workers: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    config = uvicorn.Config("bare_app:app", host="127.0.0.1", port=port, workers=workers,
                            log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if workers == 1:
        server.run(sockets=[sock])
    elif "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
        Multiprocess(config, target=server.run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":  # worker processes are spawned and import this file again
    main(int(sys.argv[1]), int(sys.argv[2]))
"""

WRK_SCRIPT = """\
local counter = 0
local id = tostring(math.random(1, 1000000000))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local body = '{"unit_id":"user-' .. id .. '-' .. counter .. '","features":%s,'
    .. '"attributes":{"country":"DE","device":"ios"}}'
  return wrk.format(nil, nil, nil, body)
end
"""


def write_workspace(root: Path) -> Path:
    """Three fitted logistic regressions, the spec, the bare app and the wrk script."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5_000, len(FEATURES)))
    for i, name in enumerate(("v1", "v2", "v3")):
        w = rng.normal(size=len(FEATURES))
        y = (X @ w + rng.normal(scale=0.5, size=len(X)) > 0).astype(int)
        joblib.dump(LogisticRegression(random_state=i).fit(X, y), root / f"{name}.joblib")
    features = {f: round(float(v), 3) for f, v in zip(FEATURES, X[0], strict=True)}
    options = f"{{features: {FEATURES}, example: {json.dumps(features)}}}"
    (root / "bench.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: bench
            unit: user
            models:
              v1: {{kind: sklearn, target: v1.joblib, options: {options}}}
              v2: {{kind: sklearn, target: v2.joblib, options: {options}}}
              v3: {{kind: sklearn, target: v3.joblib, options: {options}}}
            champion: v1
            challengers: [v2]
            allocation: {{v1: 0.5, v2: 0.5}}
            shadow:
              - {{model: v3, sample: 1.0, timeout_ms: 200}}
            metrics:
              primary: {{name: converted, kind: proportion}}
            segments: [country, device]
            """
        )
    )
    (root / "bare_app.py").write_text(
        BARE_APP.format(features=FEATURES, model=str(root / "v1.joblib"))
    )
    (root / "bare_launcher.py").write_text(BARE_LAUNCHER)
    (root / "features.json").write_text(json.dumps(features))
    (root / "post.lua").write_text(WRK_SCRIPT.replace("%s", json.dumps(features)))
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group, ready once a POST answers 200."""

    def __init__(self, name: str, argv: list[str], cwd: Path, port: int, body: dict) -> None:
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        log = open(cwd / f"{name}-{port}.log", "w")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.log = log
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                log.close()
                tail = Path(log.name).read_text()[-2000:]
                raise SystemExit(f"{name} exited at start:\n{tail}")
            try:
                if httpx.post(self.url + PREDICT_PATH, json=body, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                log.close()
                tail = Path(log.name).read_text()[-2000:]
                raise SystemExit(f"{name} did not answer within {START_TIMEOUT:g} s:\n{tail}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU of every process of the server (its workers too) so far."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # process group: the server and its workers
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.log.close()


@dataclass(frozen=True, slots=True)
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_us: float = 0.0  # the server's CPU per request (all its processes and threads)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, script: Path, *, connections: int, duration: float) -> WrkRun:
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
         "-s", str(script), url + PREDICT_PATH],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+)"):
        found = re.search(pattern, out)
        errors += int(found.group(1)) if found else 0
    return WrkRun(rps, p50, p99, errors, requests)


def measured(server: Server, script: Path, *, connections: int, duration: float) -> WrkRun:
    """One wrk run, with the server's CPU time per request over it."""
    before = server.cpu_seconds()
    run = wrk(server.url, script, connections=connections, duration=duration)
    cpu = server.cpu_seconds() - before
    return replace(run, cpu_us=cpu / max(1, run.requests) * 1e6)


def router_us_per_call(root: Path, calls: int) -> float:
    """In-process ``Router.apredict`` per call, on an event loop, with constant models."""
    from champion.events import open_writer
    from champion.models.python import FunctionAdapter
    from champion.serve import Router, SpecSource
    from champion.spec import load_spec

    def constant(features: dict) -> float:
        return 0.25

    spec = load_spec(root / "bench.yaml")
    models = {}
    for name in spec.models:
        adapter = FunctionAdapter(constant, name, inline=True)
        adapter.load()
        models[name] = adapter
    features = json.loads((root / "features.json").read_text())
    attributes = {"country": "DE", "device": "ios"}
    with (
        open_writer(root / "router-events") as events,
        Router(SpecSource([spec]), events=events, models=models) as router,
    ):

        async def run(n: int) -> float:
            start = time.perf_counter()
            for i in range(n):
                await router.apredict("bench", f"user-{i}", features, attributes)
                if i % 16 == 15:  # the loop's turn, as between a server's requests: the
                    await asyncio.sleep(0)  # shadow batches run on it (timed too)
            await asyncio.sleep(0.03)  # the last batch
            return time.perf_counter() - start - 0.03

        asyncio.run(run(2_000))  # warm-up
        gc.freeze()  # as a gateway worker does once loaded (champion.serve.app.app_from_env)
        rounds = [asyncio.run(run(calls)) / calls * 1e6 for _ in range(5)]
        router.drain_shadows(10)
        stats = router.shadow_stats
    if stats["dropped"] or stats["completed"] != stats["submitted"]:
        print(f"in-process router: not every shadow call completed: {stats}", file=sys.stderr)
    return statistics.median(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per wrk run")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per setup (median)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--router-calls", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    console = Console()
    if load > 0.5 * cores:
        console.print(f"[yellow]load average {load:.1f} on {cores} cores: timings will be noisy")

    root = write_workspace(Path(tempfile.mkdtemp(prefix="champion-bench-gateway-")))
    body = {"unit_id": "warm-up", "features": dict.fromkeys(FEATURES, 0.1)}
    champion = str(Path(sys.executable).parent / "champion")
    results: dict[tuple[int, str, str], list[WrkRun]] = {}
    try:
        for workers in args.workers:
            bare_port, champ_port = free_port(), free_port()
            servers: dict[str, Server] = {}
            try:
                servers["bare"] = Server(
                    "bare", [sys.executable, "bare_launcher.py", str(bare_port), str(workers)],
                    root, bare_port, body,
                )  # fmt: skip
                servers["champion"] = Server(
                    "champion",
                    [champion, "serve", "-f", "bench.yaml", "--events", str(root / "events"),
                     "--port", str(champ_port), "--workers", str(workers),
                     "--log-level", "warning"],
                    root, champ_port, body,
                )  # fmt: skip
                script = root / "post.lua"
                for server in servers.values():  # warm-up: imports, caches, first batches
                    wrk(server.url, script, connections=32, duration=1.0)
                loads = [32, 1] if workers == 1 else [32]
                for _ in range(args.repeats):
                    for connections in loads:
                        for name, server in servers.items():
                            run = measured(server, script, connections=connections,
                                           duration=args.duration)  # fmt: skip
                            results.setdefault((workers, name, f"c{connections}"), []).append(run)
            finally:
                for server in servers.values():
                    server.stop()
        router_us = router_us_per_call(root, args.router_calls)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def med(workers: int, name: str, load: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results[(workers, name, load)])

    table = Table(
        title=f"gateway on 127.0.0.1, {cores} cores (load {load:.1f}); medians of "
        f"{args.repeats} x {args.duration:g} s wrk runs; events on, shadow at 100%"
    )
    for column in ("workers", "server", "req/s (32 conn)", "p99 32 conn ms",
                   "CPU µs/req 32 conn", "p50 1 conn ms", "p99 1 conn ms", "errors"):  # fmt: skip
        table.add_column(column, justify="right" if column != "server" else "left")
    for workers in args.workers:
        for name in ("bare", "champion"):
            one = (workers, name, "c1") in results
            errors = sum(r.errors for key, runs in results.items() if key[:2] == (workers, name)
                         for r in runs)  # fmt: skip
            table.add_row(
                str(workers), name, f"{med(workers, name, 'c32', 'rps'):,.0f}",
                f"{med(workers, name, 'c32', 'p99_ms'):.2f}",
                f"{med(workers, name, 'c32', 'cpu_us'):.0f}",
                f"{med(workers, name, 'c1', 'p50_ms'):.3f}" if one else "-",
                f"{med(workers, name, 'c1', 'p99_ms'):.3f}" if one else "-",
                str(errors),
            )  # fmt: skip
    console.print(table)

    def ratio(workers: int, load: str, field: str) -> float:
        return med(workers, "champion", load, field) / med(workers, "bare", load, field)

    def added(load: str, field: str) -> float:
        return med(1, "champion", load, field) - med(1, "bare", load, field)

    summary: dict[str, Any] = {}
    if 1 in args.workers:
        summary["throughput_ratio"] = ratio(1, "c32", "rps")
    if 2 in args.workers:
        summary["throughput_ratio_2_workers"] = ratio(2, "c32", "rps")
    if 1 in args.workers:
        summary["added_p50_ms"] = added("c1", "p50_ms")
        summary["added_p99_ms"] = added("c1", "p99_ms")
        summary["p99_32_ratio"] = ratio(1, "c32", "p99_ms")
    summary["router_us_per_call"] = router_us
    targets = {
        "throughput_ratio": (">=", 0.9),
        "throughput_ratio_2_workers": (">=", 0.8),
        "added_p50_ms": ("<=", 0.3),
        "added_p99_ms": ("<=", 1.0),
        "p99_32_ratio": ("<=", 1.5),
        "router_us_per_call": ("<", 20.0),
    }
    for key, (op, bound) in targets.items():
        if key in summary:
            value = summary[key]
            met = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
            console.print(f"{key:28} {value:8.3f}  target {op} {bound:g}: "
                          f"{'met' if met else 'MISSED'}")  # fmt: skip
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in summary.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
