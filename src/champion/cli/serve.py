"""``champion serve``: the HTTP gateway over spec files or the registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from champion.cli._options import EventsOption, RegistryOption, registry_given_on_command_line
from champion.cli._output import err_console, user_errors
from champion.cli._ports import check_port, port_in_use

__all__ = ["serve"]


def serve(
    file: Annotated[
        list[Path] | None, typer.Option("-f", "--file", help="Spec file(s) to serve.")
    ] = None,
    db: RegistryOption = None,
    events: EventsOption = None,
    sync_events: Annotated[
        bool, typer.Option("--sync-events", help="Acknowledge requests only once logged durably.")
    ] = False,
    models_dir: Annotated[
        Path | None, typer.Option("--models-dir", help="Folder python models import from.")
    ] = None,
    allow_python_module: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-python-module",
            help="Module pattern (fnmatch, repeatable) whose functions specs registered through "
            "the admin API may name as python models; by default none may.",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-body-bytes", help="Largest request body (default 1,000,000).", min=1024
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CHAMPION_PORT", help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Serve predictions with deterministic assignment, shadows and exposure logging."""
    with user_errors():
        if file and db and not registry_given_on_command_line():
            db = None  # $CHAMPION_REGISTRY does not override spec files named on the line
        if not file and not db:
            raise ValueError(
                "give -f FILE (one or more spec files) or --registry URL|PATH (the registry)"
            )
        if file and db:
            raise ValueError("give either -f FILE or --registry URL|PATH, not both")
        specs = [str(p.resolve()) for p in file or []]
        base = models_dir or (Path(specs[0]).parent if specs else Path.cwd())
        os.environ["CHAMPION_SPECS"] = _json_list(specs)
        os.environ["CHAMPION_MODELS_DIR"] = str(Path(base).resolve())
        for key, value in (("CHAMPION_DB", db), ("CHAMPION_EVENTS", events)):
            if value:
                os.environ[key] = value
            else:
                os.environ.pop(key, None)
        os.environ["CHAMPION_EVENTS_SYNC"] = "true" if sync_events else "false"
        if allow_python_module:
            os.environ["CHAMPION_ALLOW_PYTHON_MODULES"] = _json_list(allow_python_module)
        if max_body_bytes is not None:
            os.environ["CHAMPION_MAX_BODY_BYTES"] = str(max_body_bytes)
        check_port(host, port)
        _check_startup()
    from champion.serve.server import serve as run

    err_console.print(f"champion gateway on http://{host}:{port} ({workers} worker(s))")
    with port_in_use(port):
        run(host=host, port=port, workers=workers, log_level=log_level)


def _json_list(items: list[str]) -> str:
    import json

    return json.dumps(items)


def _check_startup() -> None:
    """Check the settings and load every spec and model once in this process, so a bad
    setting or a broken model of a spec file stops the start."""
    from champion.serve.app import build_router
    from champion.serve.metrics import GatewayMetrics
    from champion.serve.settings import load_settings

    # An empty token or a bad limit stops here with the variable's name (exit 2).
    router, registry = build_router(load_settings(), None, GatewayMetrics())
    router.close()
    if registry is not None:
        registry.close()
