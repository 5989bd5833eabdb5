"""MLflow models through the generic ``pyfunc`` flavour.

The target is a local model folder (relative to the spec) or any URI MLflow resolves, above
all the registry aliases teams already move: ``models:/fraud@champion``. The tracking and
registry URIs come from ``options`` (nothing global is changed) or MLflow's own
``MLFLOW_TRACKING_URI``. Rows are scored in one call as a pandas DataFrame.
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
    missing_features,
    parse_options,
    require,
    resolve_path,
    rows_from_array,
    to_prediction,
)

__all__ = ["MlflowAdapter", "MlflowOptions"]

_URI_PREFIXES = ("models:/", "runs:/", "file:", "mlflow-artifacts:")


class MlflowOptions(AdapterOptions):
    tracking_uri: str | None = Field(default=None, description="default: MLFLOW_TRACKING_URI")
    registry_uri: str | None = Field(default=None, description="default: the tracking URI")
    proba: Literal["positive", "vector"] = Field(
        default="positive", description="rows of two numbers: serve the second (P(class 1)) or both"
    )


def is_uri(target: str) -> bool:
    return target.startswith(_URI_PREFIXES) or "://" in target


class MlflowAdapter(ModelAdapter):
    """An MLflow model loaded with ``mlflow.pyfunc.load_model``."""

    kind = "mlflow"

    def __init__(
        self,
        name: str,
        target: str,
        base_dir: str | Path = ".",
        *,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        proba: Literal["positive", "vector"] = "positive",
        features: Sequence[str] | None = None,
        example: Mapping[str, Any] | None = None,
        inline: bool = False,
    ) -> None:
        super().__init__(name, features=features, example=example, inline=inline)
        self.target = target
        self.base_dir = Path(base_dir)
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.proba = proba
        self.model: Any = None
        self.version: str | None = None  # the registry version an alias resolved to
        self._frame: Any = None

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> MlflowAdapter:
        opts = parse_options(name, MlflowOptions, options)
        return cls(name, target, base_dir, **dict(opts))

    def load(self) -> None:
        pyfunc = require(self.name, "mlflow.pyfunc", "mlflow")
        artifacts = require(self.name, "mlflow.artifacts", "mlflow")
        import pandas as pd  # type: ignore[import-untyped]  # mlflow.pyfunc needs it too

        try:
            if is_uri(self.target):
                local = artifacts.download_artifacts(
                    artifact_uri=self._source(), tracking_uri=self.tracking_uri
                )
            else:
                local = str(resolve_path(self.name, self.target, self.base_dir))
            model = pyfunc.load_model(local)
        except ModelLoadError:
            raise
        except Exception as e:
            message = getattr(e, "message", None) or str(e)
            where = f" (tracking URI {self.tracking_uri})" if self.tracking_uri else ""
            raise ModelLoadError(
                self.name,
                f"MLflow cannot load {self.target}{where}: {type(e).__name__}: {message}",
            ) from e
        if self.features is None:
            self.features = _signature_columns(model)
        self._frame = pd.DataFrame
        self.model = model
        self.loaded = True

    def _source(self) -> str:
        """Resolve ``models:/name@alias`` or ``models:/name/version`` in the given registry.

        MLflow itself resolves registry URIs only against its process-wide registry, so
        the alias is looked up here with a client bound to ``options`` instead.
        """
        registry = self.registry_uri or self.tracking_uri
        if not self.target.startswith("models:/") or registry is None:
            return self.target
        from mlflow import MlflowClient

        name, _, rest = self.target.removeprefix("models:/").partition("/")
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=registry)
        if "@" in name:
            name, _, alias = name.partition("@")
            version = str(client.get_model_version_by_alias(name, alias).version)
            subpath = rest
        else:
            version, _, subpath = rest.partition("/")
            if not version.isdigit():
                return self.target  # a stage, or a logged model id: MLflow's own resolution
        self.version = version
        source = client.get_model_version_download_uri(name, version)
        return f"{source.rstrip('/')}/{subpath}" if subpath else source

    def predict(self, features: Mapping[str, Any]) -> Prediction:
        return self.predict_batch([features])[0]

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if self.model is None:
            raise self._unloaded()
        columns = self.features
        if columns is not None:
            if any(c not in row for row in rows for c in columns):
                raise missing_features(self.name, rows, columns)
            frame = self._frame([[row[c] for c in columns] for row in rows], columns=columns)
        else:
            frame = self._frame([dict(row) for row in rows])
        try:
            out = self.model.predict(frame)
        except Exception as e:
            message = getattr(e, "message", None) or str(e)
            raise PredictionError(
                self.name, f"pyfunc predict failed: {type(e).__name__}: {message}"
            ) from e
        return self._rows(out, len(rows))

    def _rows(self, out: Any, n: int) -> list[Prediction]:
        positive = self.proba == "positive"
        if hasattr(out, "to_dict") and hasattr(out, "columns"):  # a DataFrame
            if len(out.columns) == 1:
                values = rows_from_array(out.iloc[:, 0].to_numpy(), positive=positive)
            else:
                values = [to_prediction(r) for r in out.to_dict(orient="records")]
        elif hasattr(out, "to_numpy"):  # a Series
            values = rows_from_array(out.to_numpy(), positive=positive)
        elif isinstance(out, list):
            values = [to_prediction(v) for v in out]
        else:
            values = rows_from_array(out, positive=positive)
        if len(values) != n:
            raise PredictionError(
                self.name, f"pyfunc returned {len(values)} predictions for {n} rows"
            )
        return values


def _signature_columns(model: Any) -> list[str] | None:
    """Column names from the model's input signature, when it was logged with one."""
    try:
        schema = model.metadata.get_input_schema()
    except Exception:
        return None
    if schema is None or not getattr(schema, "has_input_names", lambda: False)():
        return None
    return list(schema.input_names())
