"""docs/cli.md lists every command, flag, environment variable and exit code, and is the
page the code generates (``python -m champion.cli._reference > docs/cli.md``)."""

from __future__ import annotations

from pathlib import Path

import typer

from champion.cli import app
from champion.cli._reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(command, path=()):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from _commands(sub, (*path, name))
    else:
        yield path, command


def test_docs_cli_md_is_the_page_the_code_generates():
    assert DOC.read_text(encoding="utf-8") == render_reference(), (
        "docs/cli.md is out of date: python -m champion.cli._reference > docs/cli.md"
    )


def test_every_command_flag_and_environment_variable_is_on_the_page():
    text = DOC.read_text(encoding="utf-8")
    for path, command in _commands(typer.main.get_command(app)):
        section = text.split(f"### `champion {' '.join(path)}`\n", 1)[1].split("\n### ", 1)[0]
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert f"`{opt}`" in section, (path, opt)
            env = getattr(param, "envvar", None) or []
            for name in [env] if isinstance(env, str) else env:
                assert f"`{name}`" in section, (path, name)
        assert "Exit codes: 0, 2" in section, path


def test_the_page_has_the_vocabulary_and_the_exit_codes():
    text = DOC.read_text(encoding="utf-8")
    for needle in ("`CHAMPION_REGISTRY`", "`CHAMPION_EVENTS`", "## Exit codes", "| 2 |"):
        assert needle in text
