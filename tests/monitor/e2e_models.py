"""Toy models for the monitor's end-to-end tests, switched at run time by a flag file.

``$CHAMPION_E2E_FLAGS`` names a JSON file ``{model: behaviour}`` that the test rewrites
while the gateway runs, so a challenger turns bad at a known instant without a restart.
Behaviours: ``ok`` (also a missing file or key), ``errors`` (5 % of calls raise) and
``slow`` (300 ms more per call). The models are ``async def`` so a slow call waits on the
event loop, as a remote model would, instead of holding one of the few worker threads
the champion's calls also need.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

ENV_VAR = "CHAMPION_E2E_FLAGS"
ERROR_RATE = 0.05
SLOWDOWN_S = 0.3


def behaviour(model: str) -> str:
    """What the flag file says ``model`` should do now (``ok`` without a file)."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return "ok"
    try:
        with open(path, encoding="utf-8") as f:
            flags = json.load(f)
    except (OSError, ValueError):  # absent, or caught half-written: keep behaving
        return "ok"
    return str(flags.get(model, "ok"))


def _score(features: dict[str, Any], slope: float, shift: float) -> float:
    return 1.0 / (1.0 + math.exp(-(slope * float(features.get("amount", 0.0)) - shift)))


def _switchable(name: str, slope: float, shift: float) -> Callable[..., Awaitable[float]]:
    async def model(features: dict[str, Any]) -> float:
        mode = behaviour(name)
        if mode == "errors" and random.random() < ERROR_RATE:
            raise RuntimeError(f"{name} failed (injected by the flag file)")
        if mode == "slow":
            await asyncio.sleep(SLOWDOWN_S)
        return _score(features, slope, shift)

    model.__name__ = model.__qualname__ = name
    return model


champion = _switchable("champion", 0.01, 1.0)
challenger = _switchable("challenger", 0.012, 1.1)
