"""scikit-learn estimators (or pipelines) saved with joblib.

joblib files are pickles: load only files you trust, and with the scikit-learn version that
saved them. Rows are scored in one call; the columns follow ``options.features`` or the
estimator's own ``feature_names_in_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from champion.errors import ModelLoadError, PredictionError
from champion.models.base import (
    AdapterOptions,
    ModelAdapter,
    Prediction,
    feature_matrix,
    parse_options,
    require,
    resolve_path,
    rows_from_array,
)

__all__ = ["SklearnAdapter", "SklearnOptions"]


class SklearnOptions(AdapterOptions):
    method: Literal["predict_proba", "predict"] | None = Field(
        default=None, description="default: predict_proba when the estimator has it, else predict"
    )
    proba: Literal["positive", "vector"] = Field(
        default="positive", description="binary predict_proba: serve P(class 1), or both columns"
    )


class SklearnAdapter(ModelAdapter):
    """A joblib-saved estimator; ``predict_proba`` of a binary classifier serves P(class 1)."""

    kind = "sklearn"

    def __init__(
        self,
        name: str,
        path: str | Path,
        base_dir: str | Path = ".",
        *,
        method: Literal["predict_proba", "predict"] | None = None,
        proba: Literal["positive", "vector"] = "positive",
        features: Sequence[str] | None = None,
        example: Mapping[str, Any] | None = None,
        inline: bool | None = None,
    ) -> None:
        super().__init__(name, features=features, example=example, inline=inline)
        self.path = Path(path)
        self.base_dir = Path(base_dir)
        self.method = method
        self.proba = proba
        self.estimator: Any = None
        self._frame: Any = None  # pandas.DataFrame when the estimator was fit on named columns

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> SklearnAdapter:
        opts = parse_options(name, SklearnOptions, options)
        return cls(name, target, base_dir, **dict(opts))

    def load(self) -> None:
        joblib = require(self.name, "joblib", "sklearn")
        require(self.name, "sklearn", "sklearn")
        path = resolve_path(self.name, str(self.path), self.base_dir)
        try:
            estimator = joblib.load(path)
        except Exception as e:
            raise ModelLoadError(
                self.name, f"cannot read {path} with joblib: {type(e).__name__}: {e}"
            ) from e
        method = self.method or ("predict_proba" if hasattr(estimator, "predict_proba") else "")
        method = method or "predict"
        if not callable(getattr(estimator, method, None)):
            raise ModelLoadError(
                self.name,
                f"{type(estimator).__name__} from {path} has no {method}(); "
                "set options.method to one it has (predict_proba or predict)",
            )
        self.method = method
        self.features = self._columns(estimator, path)
        self.estimator = estimator
        self.loaded = True

    def _columns(self, estimator: Any, path: Path) -> list[str]:
        fitted = getattr(estimator, "feature_names_in_", None)
        declared = self.features
        kind = type(estimator).__name__
        if fitted is not None:
            fitted = [str(c) for c in fitted]
            if declared is not None and sorted(declared) != sorted(fitted):
                raise ModelLoadError(
                    self.name,
                    f"options.features {declared} differ from the columns {kind} was fit on "
                    f"{fitted}; drop options.features or list the same names",
                )
            try:
                import pandas as pd  # type: ignore[import-untyped]
            except ImportError:  # without pandas, columns go in the fitted order as an array
                self._frame = None
            else:
                self._frame = pd.DataFrame
            return fitted
        if declared is None:
            raise ModelLoadError(
                self.name,
                f"options.features is required: {kind} in {path} was fit on an unnamed array, "
                "so list its feature names in column order",
            )
        expected = getattr(estimator, "n_features_in_", None)
        if expected is not None and expected != len(declared):
            raise ModelLoadError(
                self.name,
                f"shape mismatch: {kind} expects {expected} features but options.features "
                f"names {len(declared)} ({', '.join(declared)})",
            )
        return list(declared)

    def predict(self, features: Mapping[str, Any]) -> Prediction:
        return self.predict_batch([features])[0]

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if self.estimator is None or self.features is None:
            raise self._unloaded()
        columns = self.features
        X = feature_matrix(self.name, rows, columns, lenient=True)
        if self._frame is not None:  # fit on named columns: hand them over by name
            if X.dtype == object:  # mixed types: let pandas type each column
                X = self._frame(X.tolist(), columns=columns)
            else:
                X = self._frame(X, columns=columns, copy=False)
        try:
            out = getattr(self.estimator, str(self.method))(X)
        except Exception as e:
            raise PredictionError(
                self.name, f"{self.method} failed: {type(e).__name__}: {e}"
            ) from e
        positive = self.method == "predict_proba" and self.proba == "positive"
        return rows_from_array(out, positive=positive)
