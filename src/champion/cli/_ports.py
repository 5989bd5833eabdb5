"""A gateway port that is already taken is the user's to change, not a traceback."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from champion.cli._output import USAGE_EXIT, err_console

__all__ = ["check_port", "port_in_use"]


def _message(port: int) -> str:
    return f"port {port} is in use: pick another with --port"


def check_port(host: str, port: int) -> None:
    """Refuse, before announcing the gateway, a port another process listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ValueError(_message(port)) from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise ValueError(
                    f"--host {host}: no interface of this machine has that address"
                ) from None
            if e.errno == errno.EACCES:
                raise ValueError(
                    f"port {port} needs privileges: pick one above 1023 with --port"
                ) from None
            raise


@contextmanager
def port_in_use(port: int) -> Iterator[None]:
    """The same message if another process takes the port between the check and the bind."""
    try:
        yield
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        err_console.print(f"error: {_message(port)}", highlight=False, markup=False)
        raise typer.Exit(USAGE_EXIT) from None
