"""docs/cli.md, written from the typer app itself: every command, flag, environment variable
and exit code. ``python -m champion.cli._reference > docs/cli.md`` regenerates it; a test
fails when the file and the code disagree."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperOption

__all__ = ["EXIT_CODES", "render_reference"]

# Exit codes beyond the common ones (0 done, 2 the user's to fix), per command path.
EXIT_CODES = {
    "monitor": "1: with `--once`, a tick failed for some experiment (its error is printed)",
    "rollout promote": "1: promoted, but the MLflow alias could not be moved (said why)",
    "analyze": "2 also when a metric has no outcomes (printed after the report)",
    "decide apply": "2 also when the stage has not been held `rollout.min_stage_hours` "
    "(`--force --reason` moves anyway)",
}

_INTRO = """\
# Command line reference

Generated from the code by `python -m champion.cli._reference > docs/cli.md`; a test fails
when this page and the code disagree. `champion COMMAND --help` prints the same.

## One vocabulary

| flag | environment | meaning |
|---|---|---|
| `--registry URL\\|PATH` | `CHAMPION_REGISTRY`, then `CHAMPION_DB` | experiment state |
| `--events DIR\\|URL` | `CHAMPION_EVENTS` | the event store |
| `--json` | | JSON on stdout; messages go to stderr |

The registry is a SQLite path or a database URL, `champion.db` in the working folder by
default. The event store is the Parquet folder the gateway writes, or a database URL
(`postgresql://...`). The old spelling `--db` still works for one release and prints a
warning: it meant the registry in `serve`, `assign`, `experiment`, `rollout` and
`monitor`, and the event store in `analyze` and `outcomes load` (a `--db` there that names
a registry file is refused with the flag to use).

## Exit codes

| code | meaning |
|---|---|
| 0 | done |
| 1 | a fault that is not the user's (a bug: the traceback is printed), or a code below |
| 2 | the user's to fix: bad input or option, a refused change; `error: ...` on stderr |
"""


def _walk(command: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "commands"):  # a group
        out = []
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                out += _walk(sub, (*path, name))
        return out
    return [(path, command)]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _envvars(param: Any) -> list[str]:
    env = getattr(param, "envvar", None)
    if not env:
        return []
    return [env] if isinstance(env, str) else list(env)


def _value(param: TyperOption, ctx: Any) -> str:
    if param.is_flag or param.count:
        return ""
    return param.display_type_rich(ctx) or ""


def _default(param: Any) -> str:
    default = param.default
    if (
        default is None
        or default is False
        or callable(default)
        or getattr(param, "show_default", True) is False
    ):
        return ""
    if isinstance(default, list | tuple | str) and not default:
        return ""
    return f"`{default}`"


def _command(path: tuple[str, ...], command: Any) -> list[str]:
    ctx = typer.Context(command, info_name=" ".join(path))
    title = " ".join(path)
    lines = [f"### `champion {title}`", ""]
    help_text = (command.help or "").strip().split("\n\n")[0]
    lines += [_cell(help_text), ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += ["```", f"champion {title} {usage}".rstrip(), "```", ""]
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if isinstance(param, TyperArgument):
            rows.append((f"`{(param.name or '').upper()}`", "", "", "",
                         _cell(getattr(param, "help", "") or "")))  # fmt: skip
            continue
        assert isinstance(param, TyperOption)
        names = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
        value = _value(param, ctx)
        env = ", ".join(f"`{e}`" for e in _envvars(param))
        shown = f"`{value}`".replace("|", "\\|") if value else ""
        rows.append((names, shown, _default(param), env,
                     _cell(param.help or "")))  # fmt: skip
    if rows:
        lines += ["| argument or flag | value | default | environment | meaning |",
                  "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {' | '.join(row)} |" for row in rows]
        lines.append("")
    extra = EXIT_CODES.get(title)
    lines += [f"Exit codes: 0, 2{'; ' + extra if extra else ''}.", ""]
    return lines


def _gateway_settings() -> list[str]:
    from champion.serve.settings import PREFIX, GatewaySettings

    lines = [
        "## Gateway settings (`champion serve`)",
        "",
        (
            "`champion serve` passes its flags to its workers as these variables; set them "
            "directly for settings without a flag."
        ),
        "",
        "| environment | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in GatewaySettings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "" if default in (None, [], {}, "") else f"`{default}`"
        lines.append(f"| `{PREFIX}{name.upper()}` | {shown} | {_cell(field.description or '')} |")
    return [*lines, ""]


def render_reference(app: typer.Typer | None = None) -> str:
    """The whole of docs/cli.md."""
    if app is None:
        from champion.cli import app as champion_app

        app = champion_app
    root = typer.main.get_command(app)
    commands = _walk(root, ())
    lines = [_INTRO, "## Commands", ""]
    lines += [f"- [`champion {' '.join(p)}`](#champion-{'-'.join(p)})" for p, _ in commands]
    lines.append("")
    for path, command in commands:
        lines += _command(path, command)
    lines += _gateway_settings()
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_reference(), end="")
