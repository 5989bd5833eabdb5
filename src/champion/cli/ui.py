"""``champion ui``: the web dashboard alone, over a registry and an event store.

The same pages ``champion serve`` mounts at ``/ui``, without serving predictions. Actions
need the admin token the gateway uses (``CHAMPION_ADMIN_TOKEN``); without one configured
the dashboard is read-only (docs/ui.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from champion.cli._options import EventsOption, RegistryOnly
from champion.cli._output import err_console, user_errors
from champion.cli._ports import check_port, port_in_use
from champion.errors import InvalidArgument
from champion.registry.connection import DEFAULT_URL

__all__ = ["ui"]


def _registry_url(registry: str | None) -> str:
    """The registry to read; a SQLite file that does not exist is a mistake, not a new one."""
    url = registry or DEFAULT_URL
    if "://" not in url or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise InvalidArgument("--registry", url, "no registry file there: give the one "
                                  "champion serve or champion experiment uses")  # fmt: skip
    return url


def _events(events: str | None) -> str | None:
    if events is not None and "://" not in events and not Path(events).is_dir():
        raise InvalidArgument("--events", events, "is not a folder: give the gateway's event "
                              "folder, or a database URL")  # fmt: skip
    return events


def ui(
    registry: RegistryOnly = None,
    events: EventsOption = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CHAMPION_UI_PORT", help="Port to bind.")] = 8080,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn's log level (debug, info, warning, error).")
    ] = "warning",
) -> None:
    """Serve the web dashboard: experiments, guardrails, read-outs, history, planning tools."""
    with user_errors():
        from champion.serve.settings import load_settings
        from champion.ui import create_ui_app

        settings = load_settings(db=_registry_url(registry), events=_events(events))
        check_port(host, port)
        app = create_ui_app(settings)
    import uvicorn

    mode = "actions need the admin token" if settings.admin_principals() else (
        "read-only: set CHAMPION_ADMIN_TOKEN to allow actions")  # fmt: skip
    err_console.print(f"champion dashboard on http://{host}:{port}/ui ({mode})", highlight=False)
    with port_in_use(port):
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
