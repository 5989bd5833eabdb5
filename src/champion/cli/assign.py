"""``champion assign``: which variant a unit gets, exactly as the router would serve it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from champion.cli._options import RegistryOption
from champion.cli._output import console, print_json, user_errors
from champion.serve.runtime import Runtime, build_runtime

__all__ = ["assign"]


def _runtime(name: str, db: str | None, spec: Path | None) -> Runtime:
    if spec is not None:
        from champion.spec import load_spec

        experiment = load_spec(spec)
        if experiment.name != name:
            raise ValueError(f"{spec} defines experiment {experiment.name!r}, not {name!r}")
        return build_runtime(experiment)
    from champion.registry import Registry

    with Registry(db) as registry:
        state = registry.get(name)
        return build_runtime(
            state.spec, state=state.state.value, allocation=state.allocation, version=state.version
        )


def _attributes(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--attr {pair!r}: write it as key=value, e.g. --attr country=US")
        out[key] = value
    return out


def assign(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    unit: Annotated[str | None, typer.Option("--unit", help="One unit id.")] = None,
    units: Annotated[
        Path | None,
        typer.Option("--units", help="A file of unit ids, one a line; prints JSON lines."),
    ] = None,
    attr: Annotated[
        list[str] | None, typer.Option("--attr", help="Targeting attribute key=value.")
    ] = None,
    db: RegistryOption = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", "-f", help="Assign from a spec file instead.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Assign one unit (--unit ID), or every unit id of a file (--units FILE, one id a line;
    prints one JSON object a line)."""
    with user_errors():
        if (unit is None) == (units is None):
            raise ValueError("give exactly one of --unit ID or --units FILE")
        runtime = _runtime(name, db, spec)
        attributes = _attributes(attr)
        if units is not None:
            try:
                lines = units.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise ValueError(f"--units {units}: cannot read it ({e.strerror})") from None
            ids = [line.strip() for line in lines if line.strip()]
        else:
            ids = [unit]
    assigner = runtime.assigner
    if units is not None:
        for unit_id in ids:
            result = assigner.assign(unit_id, attributes)
            typer.echo(json.dumps(_row(result.to_dict(), runtime)))
        return
    result = assigner.assign(ids[0], attributes)
    if json_output:
        print_json(_row(result.to_dict(), runtime))
    else:
        console.print(
            f"{result.unit_id} -> [bold]{result.variant}[/] (bucket {result.bucket}, "
            f"{result.reason}{'' if result.exposed else ', not exposed'}; "
            f"experiment {runtime.state})",
            highlight=False,
        )


def _row(fields: dict, runtime: Runtime) -> dict:
    # A variant not split by the allocation (draft, stopped) is served but never counted.
    fields["exposed"] = bool(fields["exposed"] and runtime.splits_traffic)
    fields["state"] = runtime.state
    return fields
