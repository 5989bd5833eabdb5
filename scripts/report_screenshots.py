"""Screenshots of the HTML read-out for docs/report.md, taken with headless Chromium.

    python scripts/report_screenshots.py [--chromium /usr/bin/chromium]

Needs plotly (champion[report]) and Playwright's Python package; the browser is the
system's Chromium. Writes docs/img/report-*.png from two seeded experiments: one a week
after the windows closed (every section), one a day old (before the windows close).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.analysis._events import make_spec, write_experiment  # noqa: E402
from tests.analysis._sim import Sim, analysis_data, spec  # noqa: E402

from champion.analysis.aggregate import load_analysis_data  # noqa: E402
from champion.analysis.readout import build_report  # noqa: E402
from champion.analysis.store import open_store  # noqa: E402
from champion.report import write_html  # noqa: E402
from champion.report.early import early_readout  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = {  # element -> file
    "mature": [("#decision", "decision"), ("#health", "health"), ("#metrics", "metrics"),
               ("#cumulative-fraud_caught", "cumulative"), ("#forest", "forest"),
               ("#latency", "latency")],
    "young": [("#early", "early")],
}  # fmt: skip


def _pages(folder: Path) -> dict[str, Path]:
    mature = Sim(seed=52, n=20_000, fraud_lift=0.2, mobile_lift=-0.3,
                 latency_ms={"v1_3": 80.0, "v2_0": 95.0})  # fmt: skip
    out = {"mature": write_html(build_report(analysis_data(mature), spec(looks=5)),
                                folder / "mature.html")}  # fmt: skip
    experiment = make_spec()
    start = datetime.now(UTC) - timedelta(hours=20)
    write_experiment(folder / "events", experiment, units=800, days=0.3, start=start, seed=9)
    with open_store(str(folder / "events"), experiment=experiment.name) as store:
        report = build_report(load_analysis_data(store, experiment), experiment)
    out["young"] = write_html(report, folder / "young.html", early_readout(report, experiment))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    target = ROOT / "docs" / "img"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        pages = _pages(Path(tmp))
        browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        for name, path in pages.items():
            page.goto(path.as_uri())
            page.wait_for_load_state("networkidle")
            for selector, shot in SHOTS[name]:
                element = page.locator(selector)
                element.scroll_into_view_if_needed()
                element.screenshot(path=str(target / f"report-{shot}.png"))
                print(f"docs/img/report-{shot}.png")
        browser.close()


if __name__ == "__main__":
    main()
