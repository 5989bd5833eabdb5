"""Serving fixtures: specs over the toy models, and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.serve._support import HERE, ThreadServer, spec_text


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    def write(**kwargs: object) -> Path:
        path = tmp_path / f"{kwargs.get('name', 'checkout')}.yaml"
        path.write_text(spec_text(**kwargs))  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture
def models_dir() -> Path:
    return HERE


@pytest.fixture
def serve_app() -> Iterator[Callable[[object], ThreadServer]]:
    started: list[ThreadServer] = []

    def start(app: object) -> ThreadServer:
        server = ThreadServer(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()
