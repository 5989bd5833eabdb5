"""Shared set-up for the first-hour tests: a real registry file, a real event folder, and the
``champion`` command exactly as users run it (its root group, not a test harness)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from champion.cli import app
from champion.spec import dump_spec
from champion.spec.models import Experiment

__all__ = ["invoke", "one_line", "registered", "runner"]

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def one_line(text: str) -> str:
    """Words only: usage errors come in a box that wraps lines."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃━┏┓┗┛]", " ", text).split())


def registered(spec: Experiment, folder: Path, *, start: bool = True) -> tuple[Path, Path]:
    """The spec written to ``folder/spec.yaml`` and created (and started) in
    ``folder/champion.db`` through the command line (its models are not loaded: the specs
    here name models that only the analysis tests' event generator knows)."""
    spec_file = folder / "spec.yaml"
    spec_file.write_text(dump_spec(spec), encoding="utf-8")
    registry = folder / "champion.db"
    result = invoke("experiment", "create", "-f", str(spec_file), "--registry", str(registry),
                    "--no-load")  # fmt: skip
    assert result.exit_code == 0, result.output
    if start:
        result = invoke("experiment", "start", spec.name, "--registry", str(registry),
                        "--no-load")  # fmt: skip
        assert result.exit_code == 0, result.output
    return spec_file, registry
