"""Serving: the in-process Router and the HTTP gateway built on it."""

from champion.serve.router import Routed, Router, RouterObserver
from champion.serve.runtime import Runtime, build_runtime
from champion.serve.shadow import ShadowRunner
from champion.serve.sources import LiveState, RegistrySource, SpecSource, StateSource

__all__ = [
    "LiveState",
    "RegistrySource",
    "Routed",
    "Router",
    "RouterObserver",
    "Runtime",
    "ShadowRunner",
    "SpecSource",
    "StateSource",
    "build_runtime",
]
