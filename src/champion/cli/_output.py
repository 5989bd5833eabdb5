"""Shared CLI plumbing: JSON printing and turning a caller's mistake into one line and exit 2."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from champion.errors import ChampionError

__all__ = [
    "console",
    "err_console",
    "print_error",
    "print_json",
    "user_errors",
    "write_html_file",
]

console = Console()
# Messages go to logs as often as to terminals: never break them mid-line.
err_console = Console(stderr=True, soft_wrap=True)

USAGE_EXIT = 2


def _clean(value: object) -> object:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def print_json(payload: object) -> None:
    typer.echo(json.dumps(_clean(payload), indent=2, allow_nan=False))


@contextmanager
def user_errors() -> Iterator[None]:
    """Bad input ends the command with a readable message and exit code 2, not a traceback."""
    try:
        yield
    except (ChampionError, ValueError) as e:
        print_error(str(e))
        raise typer.Exit(USAGE_EXIT) from None


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr; the message is the user's text, never rich markup
    (an install hint keeps its ``[sklearn]``, a value holding ``[/b]`` prints as written)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def write_html_file(write: Callable[[Any, Path], object], report: Any, path: Path) -> None:
    """Write an ``--html`` report; a missing folder, plotly or permission is the user's to fix."""
    if not path.parent.is_dir():
        raise ValueError(f"--html {path}: folder {path.parent} does not exist; create it first")
    try:
        write(report, path)
    except ImportError as e:
        raise ValueError(str(e)) from None
    except OSError as e:
        raise ValueError(f"--html {path}: cannot write the file ({e.strerror or e})") from None
