"""The interface itself: abstractness, async defaults, the score helper, the kind registry."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from champion.errors import ModelLoadError
from champion.models import FunctionAdapter, ModelAdapter, adapter_class, known_kinds, score
from champion.models.base import register_kind, rows_from_array, to_prediction


class _Echo(ModelAdapter):
    """A minimal adapter: scores a row as its ``x``; remembers the thread it ran on."""

    def load(self) -> None:
        self.loaded = True

    def predict(self, features: Mapping[str, Any]) -> Any:
        self.thread = threading.get_ident()
        return features["x"]


def test_adapter_without_predict_cannot_be_instantiated() -> None:
    class Incomplete(ModelAdapter):
        def load(self) -> None:
            pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete("half")  # type: ignore[abstract]


def test_predict_batch_defaults_to_one_predict_per_row() -> None:
    model = _Echo("echo")
    assert model.predict_batch([{"x": 1}, {"x": 2.5}]) == [1, 2.5]


def test_apredict_runs_the_sync_model_in_a_worker_thread() -> None:
    model = _Echo("echo")

    async def main() -> tuple[Any, int]:
        return await model.apredict({"x": 3}), threading.get_ident()

    value, loop_thread = asyncio.run(main())
    assert value == 3
    assert model.thread != loop_thread


def test_inline_apredict_runs_on_the_event_loop() -> None:
    model = _Echo("echo", inline=True)

    async def main() -> tuple[list[Any], int]:
        return await model.apredict_batch([{"x": 1}, {"x": 2}]), threading.get_ident()

    values, loop_thread = asyncio.run(main())
    assert values == [1, 2]
    assert model.thread == loop_thread


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        (0.25, 0.25),
        (3, 3.0),
        (True, 1.0),
        ([0.75, 0.25], 0.25),
        ([0.4], 0.4),
        ({"score": 0.9, "label": "fraud"}, 0.9),
        ({"probability": [0.9, 0.1]}, 0.1),
        ([0.2, 0.3, 0.5], None),
        ("fraud", None),
        ({"label": "fraud"}, None),
        (float("nan"), None),
        (None, None),
        (np.float32(0.5), 0.5),
    ],
)
def test_score_extracts_the_number_a_prediction_stands_for(
    prediction: Any, expected: float | None
) -> None:
    assert score(prediction) == expected


def test_rows_from_array_reads_two_columns_as_binary_probabilities() -> None:
    proba = np.array([[0.9, 0.1], [0.3, 0.7]])
    assert rows_from_array(proba, positive=True) == [0.1, 0.7]
    assert rows_from_array(proba, positive=False) == [[0.9, 0.1], [0.3, 0.7]]
    assert rows_from_array(np.array([[1.5], [2.5]]), positive=True) == [1.5, 2.5]
    assert rows_from_array(np.array([[1, 2, 3]]), positive=True) == [[1, 2, 3]]


def test_to_prediction_returns_plain_json_types() -> None:
    value = to_prediction({1: np.float64(0.5), "v": (np.int64(2), b"x"), "a": np.arange(2)})
    assert value == {"1": 0.5, "v": [2, "x"], "a": [0, 1]}
    assert type(value["1"]) is float
    assert type(value["v"][0]) is int


def test_validate_calls_the_model_on_a_zero_row_of_its_features() -> None:
    seen: list[dict[str, Any]] = []
    model = FunctionAdapter(lambda f: seen.append(f) or 0.0, name="m", features=["a", "b"])
    model.load()
    assert model.validate() == 0.0
    assert seen == [{"a": 0.0, "b": 0.0}]


def test_validate_prefers_the_example_and_skips_without_one() -> None:
    model = FunctionAdapter(lambda f: f["a"] * 2, name="m", features=["a"], example={"a": 4})
    model.load()
    assert model.validate() == 8
    bare = FunctionAdapter(lambda f: 1 / 0, name="bare")
    bare.load()
    assert bare.validate() is None


def test_validate_refuses_a_prediction_that_is_not_json() -> None:
    model = FunctionAdapter(lambda f: object(), name="odd", example={})
    model.load()
    with pytest.raises(
        ModelLoadError, match=r"model 'odd' failed to load: .*not JSON-serialisable"
    ):
        model.validate()


def test_validate_reports_a_failing_check_call_at_load_time() -> None:
    model = FunctionAdapter(lambda f: f["a"] / f["b"], name="div", example={"a": 1, "b": 0})
    model.load()
    with pytest.raises(
        ModelLoadError,
        match=r"model 'div' failed to load: the check call on options.example failed: "
        r"ZeroDivisionError",
    ):
        model.validate()


def test_builtin_kinds_are_registered_and_imported_lazily() -> None:
    assert known_kinds() == ["http", "mlflow", "onnx", "python", "sklearn"]
    assert adapter_class("python").__name__ == "PythonAdapter"


def test_register_kind_adds_a_kind_and_refuses_non_adapters() -> None:
    register_kind("echo-test", _Echo)
    try:
        assert adapter_class("echo-test") is _Echo
    finally:
        from champion.models import base

        base._KINDS.pop("echo-test")
    with pytest.raises(TypeError, match="needs a ModelAdapter subclass"):
        register_kind("bad", dict)  # type: ignore[arg-type]
