"""Stopping a real process: SIGTERM flushes the buffer, and so does a plain exit without close()."""

import signal
import subprocess
import sys

from tests.events._helpers import count

TERMINATED = r"""
import signal, sys, time
from champion.events import EventWriter, Outcome, ParquetSink, flush_on_sigterm

root, chain = sys.argv[1], sys.argv[2] == "chain"
if chain:
    def app_handler(signum, frame):
        print("app handler ran", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, app_handler)
writer = EventWriter(ParquetSink(root), flush_interval=3600, flush_events=10**6)
flush_on_sigterm(writer)
for i in range(5000):
    writer.log(Outcome(unit_id=f"u{i}", metric="converted", value=1.0))
print("ready", flush=True)
time.sleep(60)
"""

FORGOTTEN = r"""
import sys
from champion.events import EventWriter, Outcome, ParquetSink

writer = EventWriter(ParquetSink(sys.argv[1]), flush_interval=3600)
for i in range(300):
    writer.log(Outcome(unit_id=f"u{i}", metric="converted", value=1.0))
"""

WORKER_OUTLIVES_MAIN = r"""
import sys, threading, time
from champion.events import EventWriter, Outcome, ParquetSink

writer = EventWriter(ParquetSink(sys.argv[1]), flush_interval=3600)

def late_worker():
    time.sleep(0.6)  # main has returned by now
    for i in range(200):
        writer.log(Outcome(unit_id=f"late{i}", metric="converted", value=1.0))

threading.Thread(target=late_worker).start()
"""


def _start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_ready(child: subprocess.Popen) -> None:
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        raise AssertionError(f"child failed to start: {line}{child.communicate()[1]}")


def test_sigterm_flushes_everything_then_exits_as_sigterm_does(tmp_path):
    child = _start(TERMINATED, str(tmp_path), "alone")
    _wait_ready(child)
    assert count(tmp_path, "outcomes") == 0  # all 5000 still in the child's memory
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGTERM, err
    assert count(tmp_path, "outcomes") == 5000


def test_sigterm_flushes_then_runs_the_handler_installed_before(tmp_path):
    child = _start(TERMINATED, str(tmp_path), "chain")
    _wait_ready(child)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "app handler ran" in out
    assert count(tmp_path, "outcomes") == 5000


def test_a_program_that_ends_without_close_still_flushes(tmp_path):
    child = _start(FORGOTTEN, str(tmp_path))
    _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert count(tmp_path, "outcomes") == 300


def test_the_writer_outlives_a_main_thread_that_returns_before_its_workers(tmp_path):
    child = _start(WORKER_OUTLIVES_MAIN, str(tmp_path))
    _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "Error" not in err  # no EventWriterClosed in the worker
    assert count(tmp_path, "outcomes") == 200
