"""ONNX models through onnxruntime on the CPU.

Two input layouts: one 2-D tensor whose columns are ``options.features`` (what skl2onnx,
tf2onnx and torch.onnx export), or one input per feature named after it (the columns are
then read from the model's input metadata). Rows of a batch go into one tensor.
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
    to_prediction,
)

__all__ = ["OnnxAdapter", "OnnxOptions"]

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


class OnnxOptions(AdapterOptions):
    output: str | None = Field(
        default=None,
        description="output to serve; default: the first whose name has 'prob', else 0",
    )
    proba: Literal["positive", "vector"] = Field(
        default="positive", description="rows of two numbers: serve the second (P(class 1)) or both"
    )
    threads: int | None = Field(default=None, ge=1, description="onnxruntime intra-op threads")


class OnnxAdapter(ModelAdapter):
    """An ``.onnx`` file scored by an onnxruntime ``InferenceSession`` (CPU provider)."""

    kind = "onnx"

    def __init__(
        self,
        name: str,
        path: str | Path,
        base_dir: str | Path = ".",
        *,
        features: Sequence[str] | None = None,
        output: str | None = None,
        proba: Literal["positive", "vector"] = "positive",
        threads: int | None = None,
        example: Mapping[str, Any] | None = None,
        inline: bool | None = None,
    ) -> None:
        super().__init__(name, features=features, example=example, inline=inline)
        self.path = Path(path)
        self.base_dir = Path(base_dir)
        self.output = output
        self.proba = proba
        self.threads = threads
        self.session: Any = None
        self._tensor: tuple[str, str] | None = None  # (input name, dtype) in tensor layout
        self._columns: list[tuple[str, str, int]] = []  # (input name, dtype, rank) per feature

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> OnnxAdapter:
        opts = parse_options(name, OnnxOptions, options)
        return cls(name, target, base_dir, **dict(opts))

    def load(self) -> None:
        ort = require(self.name, "onnxruntime", "onnx")
        path = resolve_path(self.name, str(self.path), self.base_dir)
        session_options = ort.SessionOptions()
        if self.threads is not None:
            session_options.intra_op_num_threads = self.threads
        try:
            session = ort.InferenceSession(
                str(path), session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            raise ModelLoadError(
                self.name, f"onnxruntime cannot open {path}: {type(e).__name__}: {e}"
            ) from e
        self._plan_inputs(session.get_inputs(), path)
        self.output = self._pick_output([o.name for o in session.get_outputs()], path)
        self.session = session
        self.loaded = True

    def _plan_inputs(self, inputs: list[Any], path: Path) -> None:
        described = ", ".join(f"{i.name} {i.shape} {i.type}" for i in inputs)
        for i in inputs:
            if i.type not in _DTYPES:
                raise ModelLoadError(
                    self.name,
                    f"input {i.name!r} of {path} has type {i.type}, not a tensor "
                    f"champion can build ({', '.join(sorted(_DTYPES))})",
                )
        matrix = len(inputs[0].shape) == 2 and inputs[0].shape[1] != 1
        if len(inputs) == 1 and (self.features or matrix):
            (tensor,) = inputs
            if len(tensor.shape) != 2:
                raise ModelLoadError(
                    self.name,
                    f"shape mismatch: input {tensor.name!r} has shape {tensor.shape}; "
                    "champion feeds a 2-D [rows, features] tensor",
                )
            if not self.features:
                raise ModelLoadError(
                    self.name,
                    f"options.features is required: {path} has one input ({described}), "
                    "so list its feature names in column order",
                )
            width = tensor.shape[1]
            if isinstance(width, int) and width != len(self.features):
                raise ModelLoadError(
                    self.name,
                    f"shape mismatch: input {tensor.name!r} has {width} columns but "
                    f"options.features names {len(self.features)} ({', '.join(self.features)})",
                )
            self._tensor = (tensor.name, _DTYPES[tensor.type])
            return
        if self.features:
            raise ModelLoadError(
                self.name,
                f"{path} takes one input per feature ({described}): drop options.features, "
                "the input names are the features",
            )
        for i in inputs:
            if len(i.shape) not in (1, 2) or (len(i.shape) == 2 and i.shape[1] not in (1, None)):
                raise ModelLoadError(
                    self.name,
                    f"shape mismatch: input {i.name!r} has shape {i.shape}; one input per "
                    "feature must be [rows] or [rows, 1]",
                )
        self._columns = [(i.name, _DTYPES[i.type], len(i.shape)) for i in inputs]
        self.features = [i.name for i in inputs]

    def _pick_output(self, names: list[str], path: Path) -> str:
        if self.output is not None:
            if self.output not in names:
                raise ModelLoadError(
                    self.name,
                    f"options.output {self.output!r} is not an output of {path} "
                    f"(outputs: {', '.join(names)})",
                )
            return self.output
        return next((n for n in names if "prob" in n.lower()), names[0])

    def predict(self, features: Mapping[str, Any]) -> Prediction:
        return self.predict_batch([features])[0]

    def predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if self.session is None or self.features is None:
            raise self._unloaded()
        if self._tensor is not None:
            name, dtype = self._tensor
            feed = {name: feature_matrix(self.name, rows, self.features, dtype)}
        else:
            feed = {}
            for name, dtype, rank in self._columns:
                column = feature_matrix(self.name, rows, [name], dtype)
                feed[name] = column if rank == 2 else column[:, 0]
        try:
            (out,) = self.session.run([self.output], feed)
        except Exception as e:
            problem = f"onnxruntime failed: {type(e).__name__}: {e}"
            raise PredictionError(self.name, problem) from e
        positive = self.proba == "positive"
        if isinstance(out, list):  # ZipMap: one {class: probability} per row
            return [_from_map(m, positive=positive) for m in out]
        return rows_from_array(out, positive=positive)


def _from_map(probabilities: Mapping[Any, Any], *, positive: bool) -> Prediction:
    if positive and len(probabilities) == 2:
        return to_prediction(probabilities[max(probabilities)])
    return to_prediction(dict(probabilities))
