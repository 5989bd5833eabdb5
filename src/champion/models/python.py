"""Plain Python models: any callable (the in-package test double) or ``module:function``.

A ``python`` target is imported from the spec file's folder, the way a data scientist runs
it next to the spec. The folder is on ``sys.path`` only while the module is imported, and
a module found there is registered under a name private to that folder, so two specs may
each keep a ``models.py`` of their own.

Loading a python target runs code: the module's top level, then the function on
``options.example``. Spec files are the operator's and trusted; a spec that reaches the
gateway through its admin API is checked first (``champion.models.loader.
check_untrusted_models``: only modules the operator allowed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from champion.errors import InvalidFeatures, ModelLoadError, PredictionError
from champion.models.base import (
    AdapterOptions,
    ModelAdapter,
    Prediction,
    parse_options,
    to_prediction,
)

__all__ = ["FunctionAdapter", "PythonAdapter"]


class FunctionAdapter(ModelAdapter):
    """Wrap a callable that takes one features dict; an ``async def`` is awaited natively.

    >>> model = FunctionAdapter(lambda f: 2 * f["x"], name="double")
    >>> model.load()
    >>> model.predict({"x": 0.25}), model.predict_batch([{"x": 1}, {"x": 2}])
    (0.5, [2, 4])
    """

    kind = "python"

    def __init__(
        self,
        fn: Callable[[dict[str, Any]], Any] | None,
        name: str | None = None,
        *,
        features: Sequence[str] | None = None,
        example: Mapping[str, Any] | None = None,
        inline: bool = False,
    ) -> None:
        if name is None:
            name = getattr(fn, "__name__", None) or type(fn).__name__
        super().__init__(name, features=features, example=example, inline=inline)
        self.fn = fn
        self._is_async = fn is not None and inspect.iscoroutinefunction(fn)

    def load(self) -> None:
        if not callable(self.fn):
            raise ModelLoadError(self.name, f"{self.fn!r} is not callable")
        self._is_async = inspect.iscoroutinefunction(self.fn)
        self.loaded = True

    def _fail(self, e: Exception) -> PredictionError:
        if isinstance(e, PredictionError):
            return e
        if isinstance(e, KeyError):
            return InvalidFeatures(self.name, f"missing feature {e}")
        return PredictionError(self.name, f"{type(e).__name__}: {e}")

    def predict(self, features: Mapping[str, Any]) -> Prediction:
        if not self.loaded or self.fn is None:
            raise self._unloaded()
        try:
            out = self.fn(dict(features))
            if self._is_async:
                out = asyncio.run(out)
        except Exception as e:
            raise self._fail(e) from e
        return to_prediction(out)

    @property
    def is_async(self) -> bool:
        return self._is_async

    async def apredict(self, features: Mapping[str, Any]) -> Prediction:
        if not self._is_async:
            return await super().apredict(features)
        if not self.loaded or self.fn is None:
            raise self._unloaded()
        try:
            out = await self.fn(dict(features))
        except Exception as e:
            raise self._fail(e) from e
        return to_prediction(out)

    async def apredict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if not self._is_async:
            return await super().apredict_batch(rows)
        return list(await asyncio.gather(*(self.apredict(row) for row in rows)))


class PythonAdapter(FunctionAdapter):
    """``module:function`` importable from the spec's folder (``base_dir``)."""

    def __init__(
        self,
        name: str,
        target: str,
        base_dir: str | Path = ".",
        *,
        features: Sequence[str] | None = None,
        example: Mapping[str, Any] | None = None,
        inline: bool = False,
    ) -> None:
        super().__init__(None, name, features=features, example=example, inline=inline)
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr or ":" in attr:
            raise ModelLoadError(
                name,
                f"target {target!r} is not module:function "
                "(e.g. fraud_models:score_v1_3, importable from the spec's folder)",
            )
        self.target = target
        self.module = module
        self.attr = attr
        self.base_dir = Path(base_dir).resolve()

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> PythonAdapter:
        opts = parse_options(name, AdapterOptions, options)
        return cls(name, target, base_dir, **dict(opts))

    def load(self) -> None:
        module = self._import()
        fn: Any = module
        for part in self.attr.split("."):
            if not hasattr(fn, part):
                defined = sorted(
                    n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                )
                raise ModelLoadError(
                    self.name,
                    f"module {self.module!r} ({getattr(module, '__file__', '?')}) has no "
                    f"attribute {self.attr!r}; it defines: {', '.join(defined) or 'nothing'}",
                )
            fn = getattr(fn, part)
        if not callable(fn):
            raise ModelLoadError(
                self.name, f"{self.target} is a {type(fn).__name__}, not a function"
            )
        self.fn = fn
        super().load()

    def _import(self) -> Any:
        folder = str(self.base_dir)
        importlib.invalidate_caches()
        sys.path.insert(0, folder)  # for the modules it imports in turn
        try:
            return self._import_from(folder)
        except ModuleNotFoundError as e:
            if e.name == self.module or self.module.startswith(f"{e.name}."):
                raise ModelLoadError(
                    self.name,
                    f"module {self.module!r} not found in {folder} nor on sys.path; "
                    "python targets are module:function beside the spec file",
                ) from e
            raise ModelLoadError(
                self.name, f"importing {self.module!r} failed: {type(e).__name__}: {e}"
            ) from e
        except Exception as e:
            raise ModelLoadError(
                self.name, f"importing {self.module!r} failed: {type(e).__name__}: {e}"
            ) from e
        finally:
            with contextlib.suppress(ValueError):  # the module removed it itself
                sys.path.remove(folder)

    def _import_from(self, folder: str) -> Any:
        """Import the module; one beside the spec gets a name private to its folder.

        Two experiments may each keep a ``models.py`` beside their spec: importing both as
        ``models`` would hand the second experiment the first one's functions.
        """
        top, _, rest = self.module.partition(".")
        found = importlib.machinery.PathFinder.find_spec(top, [folder])
        if found is None or found.origin is None:  # installed, or a namespace package
            return importlib.import_module(self.module)
        digest = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()[:12]
        alias = f"_champion_models_{digest}_{top}"
        if alias not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                alias, found.origin, submodule_search_locations=found.submodule_search_locations
            )
            if spec is None or spec.loader is None:
                return importlib.import_module(self.module)
            module = importlib.util.module_from_spec(spec)
            sys.modules[alias] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[alias]
                raise
        return importlib.import_module(f"{alias}.{rest}") if rest else sys.modules[alias]
