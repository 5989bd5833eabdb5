"""The one interface every model sits behind, the prediction type, and the registry of kinds.

A gateway only ever sees :class:`ModelAdapter`: ``load()`` once at start-up (so a broken
model stops the deploy, not the first customer), then ``predict``/``apredict`` per request.
Framework imports happen inside ``load()``, so ``import champion.models`` costs nothing and
a missing framework is reported with the ``pip install`` line that fixes it.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import importlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from champion.errors import InvalidFeatures, ModelLoadError, PredictionError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "INLINE_BUDGET_US",
    "AdapterOptions",
    "ModelAdapter",
    "Prediction",
    "adapter_class",
    "known_kinds",
    "register_kind",
    "score",
]

Prediction: TypeAlias = float | int | str | bool | list[Any] | dict[str, Any] | None
"""What a model answers for one row; always JSON-serialisable."""


class AdapterOptions(BaseModel):
    """Options every kind accepts; each kind adds its own and refuses unknown keys.

    Field names are the adapter's constructor keywords, so ``from_ref`` hands the parsed
    options over as ``cls(name, target, base_dir, **dict(opts))``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    example: dict[str, Any] | None = Field(
        default=None, description="features of one request; called once at load time as a check"
    )
    features: list[str] | None = Field(
        default=None, min_length=1, description="ordered feature names the model reads"
    )
    inline: bool | None = Field(
        default=None,
        description="true: apredict runs on the event loop; false: always in a worker thread; "
        "unset: decided at load time by timing the example (fast models run on the loop)",
    )


T = TypeVar("T", bound=AdapterOptions)

INLINE_BUDGET_US = 500.0
"""A sync model whose check call takes at most this long (fastest call, microseconds) runs on the
event loop: a hop to a thread and back would cost more than the model itself."""


def parse_options(model: str, cls: type[T], options: Mapping[str, Any]) -> T:
    """Validate a ``ModelRef.options`` mapping; every problem names ``options.<field>``."""
    try:
        return cls.model_validate(dict(options))
    except ValidationError as e:
        problems = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(sorted(cls.model_fields))
                problems.append(f"options.{where} is not an option here (allowed: {allowed})")
            else:
                problems.append(f"options.{where}: {err['msg']}")
        raise ModelLoadError(model, "; ".join(problems)) from None


def require(model: str, module: str, extra: str) -> ModuleType:
    """Import a framework lazily; if missing, say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ModelLoadError(
            model, f"{module} cannot be imported ({e}); install it: pip install 'champion[{extra}]'"
        ) from e


def resolve_path(model: str, target: str, base_dir: Path) -> Path:
    """A model file named in a spec, relative to the spec's folder; it must exist."""
    path = Path(target).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise ModelLoadError(
            model, f"file not found: {path} (relative targets are read from {base_dir})"
        )
    return path


class ModelAdapter(abc.ABC):
    """A model behind one interface: ``load`` once, then ``predict`` per request.

    Subclasses implement :meth:`load` and :meth:`predict`; frameworks that score a whole
    matrix at once also override :meth:`predict_batch`. The async variants run the sync
    ones on the adapter's own thread pool (never the event loop's shared default executor,
    so a slow model cannot starve another) unless the adapter is natively async or
    ``inline``. ``inline=None`` is decided by :meth:`decide_inline` once loaded.
    """

    kind: ClassVar[str] = "custom"

    def __init__(
        self,
        name: str,
        *,
        features: Sequence[str] | None = None,
        example: Mapping[str, Any] | None = None,
        inline: bool | None = None,
    ) -> None:
        self.name = name
        self.features: list[str] | None = list(features) if features is not None else None
        self.example: dict[str, Any] | None = dict(example) if example is not None else None
        self.inline = inline
        self.loaded = False
        self.check_us: float | None = None  # median time of the check call, when measured
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, loaded={self.loaded})"

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> ModelAdapter:
        """Build the adapter a spec's ``ModelRef`` describes (not loaded yet)."""
        raise ModelLoadError(name, f"{cls.__name__} does not implement from_ref()")

    @abc.abstractmethod
    def load(self) -> None:
        """Open the model; raise :class:`ModelLoadError` naming the cause and the fix."""

    @abc.abstractmethod
    def predict(self, features: Mapping[str, Any]) -> Prediction:
        """Score one request's features."""

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        """Score many rows; frameworks override this to score them in one call."""
        return [self.predict(row) for row in rows]

    @property
    def is_async(self) -> bool:
        """True when ``apredict`` awaits I/O itself instead of running ``predict`` in a thread.

        Callers that must keep slow models off shared threads (the shadow runner) run the
        others on a pool of their own.
        """
        return False

    async def apredict(self, features: Mapping[str, Any]) -> Prediction:
        if self.inline:
            return self.predict(features)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads(), self.predict, features)

    async def apredict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if self.inline:
            return self.predict_batch(rows)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads(), self.predict_batch, rows)

    def _threads(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            pool = self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=8, thread_name_prefix=f"champion-model-{self.name}"
            )
        return pool

    def stop_threads(self) -> None:
        """Shut the adapter's thread pool down (calls already running finish on their own)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def decide_inline(self, budget_us: float = INLINE_BUDGET_US) -> bool:
        """Settle ``inline`` once loaded: a sync model whose check call takes at most
        ``budget_us`` (the fastest of a few calls) runs on the event loop; a slower one, one that
        cannot be timed (no example, no declared features) or a natively async one does not.
        An ``inline`` set explicitly is kept.
        """
        if self.inline is not None:
            return self.inline
        row = self.check_row() if not self.is_async else None
        if row is None:
            self.inline = False
            return False
        took: list[float] = []
        for _ in range(8):
            start = time.perf_counter()
            try:
                self.predict(row)
            except Exception:  # the check call already reported what fails on this row
                self.inline = False
                return False
            took.append((time.perf_counter() - start) * 1e6)
            # Clearly slow twice (the first call may be a warm-up): no need to call it again.
            if len(took) > 2 and min(took[1:]) > 20 * budget_us:
                break
        # The fastest call after the first: a busy host's preemptions are not the model's.
        self.check_us = min(took[1:])
        self.inline = self.check_us <= budget_us
        return self.inline

    def close(self) -> None:  # noqa: B027 (optional hook: most adapters hold nothing to free)
        """Free connections or sessions; the adapter must be loaded again to be used."""

    async def aclose(self) -> None:
        self.close()

    def check_row(self) -> dict[str, Any] | None:
        """The row :meth:`validate` calls: the example, or zeros for the declared features."""
        if self.example is not None:
            return self.example
        if self.features:
            return dict.fromkeys(self.features, 0.0)
        return None

    def validate(self) -> Prediction:
        """Call the loaded model once on :meth:`check_row`, so a shape mismatch fails now.

        Returns the prediction, or ``None`` when there is nothing to call it with.
        """
        row = self.check_row()
        if row is None:
            return None
        which = "options.example" if self.example is not None else "a zero row of the features"
        hint = ""
        if self.example is None:
            hint = " (if zeros are not valid input, set options.example to one real request)"
        try:
            out = self.predict_batch([row])
        except ModelLoadError:
            raise
        except Exception as e:
            cause = e.problem if isinstance(e, PredictionError) else f"{type(e).__name__}: {e}"
            problem = f"the check call on {which} failed: {cause}{hint}"
            raise ModelLoadError(self.name, problem) from e
        if len(out) != 1:
            raise ModelLoadError(
                self.name, f"the check call on {which} returned {len(out)} predictions for 1 row"
            )
        try:
            json.dumps(out[0])
        except (TypeError, ValueError) as e:
            raise ModelLoadError(
                self.name,
                f"the check call on {which} returned {type(out[0]).__name__}, which is not "
                f"JSON-serialisable ({e}); return a float, int, str, list or dict",
            ) from e
        return out[0]

    def _unloaded(self) -> PredictionError:
        return PredictionError(self.name, "the model is not loaded; call load() at start-up")


def missing_features(
    model: str, rows: Sequence[Mapping[str, Any]], needed: Sequence[str]
) -> InvalidFeatures:
    """The error for a row that lacks some of the features the model reads."""
    missing: list[str] = []
    for row in rows:
        missing.extend(f for f in needed if f not in row and f not in missing)
    return InvalidFeatures(
        model,
        f"missing feature(s) {', '.join(missing)}; the model reads {', '.join(needed)}",
    )


def feature_matrix(
    model: str,
    rows: Sequence[Mapping[str, Any]],
    features: Sequence[str],
    dtype: Any = "float64",
    *,
    lenient: bool = False,
) -> Any:
    """Rows as a ``len(rows) x len(features)`` numpy array in the declared column order.

    ``lenient`` falls back to an object array for values that are not numbers (a pipeline
    with its own encoders); otherwise they are the caller's mistake.
    """
    import numpy as np

    try:
        values = [[row[f] for f in features] for row in rows]
    except KeyError:
        raise missing_features(model, rows, features) from None
    except TypeError as e:
        raise InvalidFeatures(model, f"features must be a mapping of name to value ({e})") from e
    try:
        return np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as e:
        if lenient:
            return np.asarray(values, dtype=object)
        raise InvalidFeatures(model, f"features must be numbers for this model: {e}") from e


_PLAIN = frozenset({str, bool, int, float})


def to_prediction(value: Any) -> Prediction:
    """Turn numpy scalars/arrays, tuples and non-str dict keys into plain JSON values."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, Mapping):
        return {str(k): to_prediction(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_prediction(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return to_prediction(tolist())
    return value


def rows_from_array(values: Any, *, positive: bool) -> list[Prediction]:
    """One prediction per row of a framework's output array.

    A row of one number becomes that number. A row of exactly two numbers is read as the
    probabilities of a binary classifier and, when ``positive``, becomes the second one.
    """
    import numpy as np

    arr = np.asarray(values)
    if arr.ndim == 0:
        return [to_prediction(arr)]
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2 and arr.shape[1] == 2 and positive:
        arr = arr[:, 1]
    return [to_prediction(v) for v in arr.tolist()]


def score(prediction: Prediction) -> float | None:
    """The number a prediction stands for, so two models' answers can be compared.

    A scalar is itself; ``[p0, p1]`` is ``p1`` (the positive class); a dict gives its
    ``score`` or ``probability`` entry (read the same way). Anything else, or a non-finite
    number, has no score.

    >>> score(0.25), score([0.75, 0.25]), score({"probability": [0.9, 0.1]}), score("fraud")
    (0.25, 0.25, 0.1, None)
    """
    value: Any = prediction
    if isinstance(value, Mapping):
        for key in ("score", "probability"):
            if key in value:
                return score(value[key])
        return None
    if isinstance(value, list | tuple):
        if len(value) == 1:
            value = value[0]
        elif len(value) == 2:
            value = value[1]
        else:
            return None
        if isinstance(value, list | tuple | Mapping):
            return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        out = float(value)
        return out if math.isfinite(out) else None
    item = getattr(value, "item", None)  # a numpy scalar that slipped through
    if callable(item):
        return score(item())
    return None


# kind -> "module:Class" for the built-in kinds (imported on first use), or a class.
_KINDS: dict[str, str | type[ModelAdapter]] = {
    "python": "champion.models.python:PythonAdapter",
    "sklearn": "champion.models.sklearn:SklearnAdapter",
    "onnx": "champion.models.onnx:OnnxAdapter",
    "mlflow": "champion.models.mlflow:MlflowAdapter",
    "http": "champion.models.http:HttpAdapter",
}


def register_kind(kind: str, cls: type[ModelAdapter]) -> None:
    """Add a kind of model: ``cls.from_ref(name, target, options, base_dir)`` builds it."""
    if not (isinstance(cls, type) and issubclass(cls, ModelAdapter)):
        raise TypeError(f"register_kind({kind!r}, ...) needs a ModelAdapter subclass")
    _KINDS[kind] = cls


def known_kinds() -> list[str]:
    return sorted(_KINDS)


def adapter_class(kind: str) -> type[ModelAdapter]:
    """The adapter class for a kind; its module is imported now (frameworks are not)."""
    entry = _KINDS.get(kind)
    if entry is None:
        raise KeyError(kind)
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _KINDS[kind] = entry
    return entry
