"""From a spec's ``models:`` block to loaded adapters, failing at start-up with every cause.

A gateway calls :func:`load_models` before it accepts traffic: each model is opened and
called once (on ``options.example`` or a zero row of its declared features), so a missing
file, a missing framework or a shape mismatch stops the deploy with the model's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.errors import ModelLoadError, ModelsFailedToLoad
from champion.models.base import ModelAdapter, adapter_class, known_kinds

if TYPE_CHECKING:
    from champion.spec.models import Experiment, ModelRef

__all__ = ["load_model", "load_models"]


def _fields(name: str, ref: ModelRef | Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    if isinstance(ref, Mapping):
        kind, target, options = ref.get("kind"), ref.get("target"), ref.get("options") or {}
    else:
        kind, target, options = ref.kind, ref.target, ref.options
    if not isinstance(kind, str) or not kind:
        raise ModelLoadError(name, f"kind is missing; use one of: {', '.join(known_kinds())}")
    if not isinstance(target, str) or not target:
        raise ModelLoadError(name, "target is missing: a path, URI, URL or module:function")
    if not isinstance(options, Mapping):
        raise ModelLoadError(name, f"options must be a mapping, got {type(options).__name__}")
    return kind, target, options


def load_model(
    name: str, ref: ModelRef | Mapping[str, Any], base_dir: str | os.PathLike[str] = "."
) -> ModelAdapter:
    """Build, load and check one model; relative targets are read from ``base_dir``.

    ``base_dir`` is the folder of the spec file. Raises :class:`ModelLoadError` naming the
    model and the cause; a model that loaded but failed its check call is closed first.
    """
    kind, target, options = _fields(name, ref)
    try:
        cls = adapter_class(kind)
    except KeyError:
        raise ModelLoadError(
            name,
            f"unknown kind {kind!r}; known kinds: {', '.join(known_kinds())} "
            "(add one with champion.models.register_kind)",
        ) from None
    adapter: ModelAdapter | None = None
    try:
        adapter = cls.from_ref(name, target, options, Path(base_dir).resolve())
        adapter.load()
        adapter.validate()
    except Exception as e:
        if adapter is not None:
            adapter.close()
        if isinstance(e, ModelLoadError):
            raise
        raise ModelLoadError(name, f"{type(e).__name__}: {e}") from e
    return adapter


def load_models(
    experiment: Experiment, base_dir: str | os.PathLike[str] = "."
) -> dict[str, ModelAdapter]:
    """Load every model the experiment declares, or raise one error listing each failure."""
    loaded: dict[str, ModelAdapter] = {}
    errors: list[ModelLoadError] = []
    for name, ref in experiment.models.items():
        try:
            loaded[name] = load_model(name, ref, base_dir)
        except ModelLoadError as e:
            errors.append(e)
    if errors:
        for adapter in loaded.values():
            adapter.close()
        raise ModelsFailedToLoad(errors)
    return loaded
