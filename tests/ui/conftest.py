"""The dashboard against a real gateway: a SQLite registry and Parquet events written by the
demo's run (real Router, real writer), uvicorn on 127.0.0.1, Debian's Chromium via Playwright.

Chromium missing on a developer's machine skips these tests with the reason; as root (CI,
where scripts/test.sh installs it) a missing browser fails them instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from champion.demo import example_dir, run_demo
from champion.registry import Registry
from tests.serve._support import ThreadServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "ui-test-admin-token"
DEMO = "fraud-detector-v2"
ARTIFACTS = Path(__file__).parent / "artifacts"


def _unavailable(reason: str) -> None:
    if os.geteuid() == 0:
        pytest.fail(f"{reason}; as root (CI) the browser tests must run: scripts/test.sh "
                    "installs chromium and the dev extra installs playwright")  # fmt: skip
    pytest.skip(f"{reason} (and this is not root): the browser tests are skipped")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"Debian's Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield found
        found.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on("console", lambda m: errors.append(m.text)
              if m.type == "error" and "Content Security Policy" in m.text else None)  # fmt: skip
    yield opened
    context.close()
    assert not errors, f"the page raised or broke its content policy: {errors}"


def shoot(page: Any, name: str) -> Path:
    """Write a full-page screenshot to tests/ui/artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class Stack:
    """The demo's registry and events, more experiments beside it, and a gateway over them."""

    def __init__(self, folder: Path) -> None:
        run_demo(folder, units_per_day=300, days=3, seed=7)
        self.folder = folder
        self.db = f"sqlite:///{folder / 'champion.db'}"
        self.events = str(folder / "events")
        with Registry(self.db) as registry:
            spec = registry.get(DEMO).spec
            for name in ("stop-me", "guarded", "paused-one", "walk-me"):
                registry.create(spec.model_copy(update={"name": name}), by="test", reason="ui")
                registry.start(name, by="test", reason="ui test")
            registry.pause("paused-one", by="test", reason="hold for the test")
            registry.create(spec.model_copy(update={"name": "draft-one"}), by="test")

    def registry(self) -> Registry:
        return Registry(self.db)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return Stack(tmp_path_factory.mktemp("ui-stack"))


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[str]:
    """``champion serve``'s app over the stack, with an admin token, on a real uvicorn."""
    from champion.serve.app import create_app
    from champion.serve.settings import load_settings

    settings = load_settings(db=stack.db, events=stack.events, admin_token=TOKEN,
                             models_dir=str(example_dir()), poll_interval=0.2)  # fmt: skip
    with ThreadServer(create_app(settings)) as server:
        yield server.url


def copy_to_docs(path: Path) -> None:
    """Keep a screenshot for docs/ui.md when CHAMPION_UI_DOCS_IMG is set (by hand, not CI)."""
    if os.environ.get("CHAMPION_UI_DOCS_IMG"):
        shutil.copy(path, Path(__file__).resolve().parents[2] / "docs" / "img" / path.name)
