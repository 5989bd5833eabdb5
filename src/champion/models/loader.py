"""From a spec's ``models:`` block to loaded adapters, failing at start-up with every cause.

A gateway calls :func:`load_models` before it accepts traffic: each model is opened and
called once (on ``options.example`` or a zero row of its declared features), so a missing
file, a missing framework or a shape mismatch stops the deploy with the model's name.

Loading a ``python`` model imports a module and calls a function: it runs code. A spec
that arrives through the gateway's admin API passes :func:`check_untrusted_models` first,
which lets through only the kinds that load data (:data:`DATA_KINDS`) and python targets
from modules the operator allowed; pickled models (sklearn, an MLflow folder) must lie
inside the models folder. Spec files the operator serves are trusted as they are.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from champion.errors import ModelLoadError, ModelNotAllowed, ModelsFailedToLoad
from champion.models.base import ModelAdapter, adapter_class, known_kinds

if TYPE_CHECKING:
    from champion.spec.models import Experiment, ModelRef

__all__ = ["DATA_KINDS", "check_untrusted_models", "load_model", "load_models"]

# Kinds whose loading reads data (a file, a registry entry, a URL) rather than running code
# the spec names. Pickles are code too, so their files must come from the operator's folder.
DATA_KINDS = frozenset({"sklearn", "onnx", "mlflow", "http"})
_PICKLED = frozenset({"sklearn", "mlflow"})


def _is_remote(target: str) -> bool:
    """A registry or store URI (not a local file, which ``file:`` also names)."""
    return not target.startswith("file:") and (
        "://" in target or target.startswith(("models:/", "runs:/", "mlflow-artifacts:"))
    )


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


def _headers(ref: ModelRef | Mapping[str, Any]) -> list[Any]:
    options = ref.get("options") if isinstance(ref, Mapping) else ref.options
    headers = (options or {}).get("headers") if isinstance(options, Mapping) else None
    return list(headers.values()) if isinstance(headers, Mapping) else []


def _module_allowed(module: str, patterns: Sequence[str]) -> bool:
    """``fraud_models.v2`` is allowed by ``fraud_models``, ``fraud_models.*`` or ``fraud_*``."""
    top = module.split(".")[0]
    return any(fnmatch.fnmatchcase(module, p) or fnmatch.fnmatchcase(top, p) for p in patterns if p)


def check_untrusted_models(
    experiment: Experiment,
    allowed_modules: Sequence[str] = (),
    models_dir: str | os.PathLike[str] = ".",
) -> None:
    """Refuse, before anything is imported or called, a model a spec from the API may not load.

    Allowed: the kinds in :data:`DATA_KINDS` (pickled ones only from files inside
    ``models_dir``), and ``python`` targets whose module matches one of ``allowed_modules``
    (fnmatch patterns). Raises :class:`ModelNotAllowed` naming the model, the spec path
    and how the operator allows it.
    """
    base = Path(models_dir).resolve()
    for name, ref in experiment.models.items():
        kind, target, _ = _fields(name, ref)
        field = f"models.{name}"
        if kind == "python":
            module = target.partition(":")[0]
            if not _module_allowed(module, allowed_modules):
                allowed = ", ".join(allowed_modules) or "none"
                raise ModelNotAllowed(
                    name, f"{field}.target",
                    f"python target {target!r} would import and run module {module!r}, which "
                    f"the operator has not allowed (allowed: {allowed}); specs registered "
                    f"through the API may use {', '.join(sorted(DATA_KINDS))} models, or "
                    "python modules allowed with --allow-python-module / "
                    "CHAMPION_ALLOW_PYTHON_MODULES",
                )  # fmt: skip
        elif kind == "http" and any("$" in str(v) for v in _headers(ref)):
            raise ModelNotAllowed(
                name, f"{field}.options.headers",
                "header values that read the environment (${VAR}) are not accepted through "
                "the API: they would send the gateway's secrets to the URL the spec names",
            )  # fmt: skip
        elif kind not in DATA_KINDS:
            raise ModelNotAllowed(
                name, f"{field}.kind",
                f"kind {kind!r} is not one of the kinds the API may register "
                f"({', '.join(sorted(DATA_KINDS))}, python from allowed modules)",
            )  # fmt: skip
        elif kind in _PICKLED and not _is_remote(target):
            local = target.removeprefix("file:").removeprefix("//")  # file:///x is /x
            path = (base / local).resolve()
            if not path.is_relative_to(base):
                raise ModelNotAllowed(
                    name, f"{field}.target",
                    f"{target!r} is outside the models folder {base}; a pickled model runs "
                    "code when loaded, so the API only loads files from that folder",
                )  # fmt: skip
