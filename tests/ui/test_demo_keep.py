"""``champion demo --keep`` leaves the gateway and the dashboard running and prints the URL.

With ``--json`` the report is the one JSON document on stdout and the URL line goes to
stderr (read here together).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serve._support import free_port

DEMO = "fraud-detector-v2"


def test_demo_keep_serves_the_demo_with_its_dashboard_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "champion.cli", "demo", "--dir", str(tmp_path / "demo"),
         "--units-per-day", "150", "--days", "3", "--keep", "--port", str(port), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url, token, seen = None, None, []
        deadline = time.monotonic() + 180
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+/ui)\b.*admin token (\w+)", line)
            if found:
                url, token = found.group(1), found.group(2)
        assert url == f"http://127.0.0.1:{port}/ui", "".join(seen)
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{url}/api/experiments", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answer is not None, "".join(seen)
        assert answer.status_code == 200
        assert [e["name"] for e in answer.json()["experiments"]] == [DEMO]
        assert httpx.get(url).status_code == 200
        # the printed token is the gateway's admin token: reads of the admin API take it
        admin = httpx.get(f"http://127.0.0.1:{port}/v1/experiments/{DEMO}",
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert admin.status_code == 200
        assert admin.json()["name"] == DEMO
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        proc.stdout.close()
    assert proc.returncode in (0, -signal.SIGTERM)
