"""Python models: any callable, and module:function imported from the spec's folder."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest

from champion.errors import InvalidFeatures, ModelLoadError, PredictionError
from champion.models import FunctionAdapter, PythonAdapter, load_model
from champion.spec import ModelRef

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_function_adapter_scores_a_row_and_a_batch() -> None:
    model = FunctionAdapter(lambda f: f["a"] + f["b"], name="sum")
    model.load()
    assert model.predict({"a": 1, "b": 2}) == 3
    assert model.predict_batch([{"a": 1, "b": 2}, {"a": 0.5, "b": 0}]) == [3, 0.5]


def test_function_adapter_takes_its_name_from_the_function() -> None:
    def fraud_score(features: dict) -> float:
        return 0.1

    assert FunctionAdapter(fraud_score).name == "fraud_score"


def test_function_adapter_awaits_an_async_function_natively() -> None:
    async def double(features: dict) -> float:
        await asyncio.sleep(0)
        return 2 * features["x"]

    model = FunctionAdapter(double)
    model.load()

    async def main() -> tuple[float, list[float]]:
        return await model.apredict({"x": 1.5}), await model.apredict_batch([{"x": 1}, {"x": 2}])

    assert asyncio.run(main()) == (3.0, [2, 4])
    assert model.predict({"x": 4}) == 8


def test_function_adapter_returns_numpy_results_as_plain_values() -> None:
    import numpy as np

    model = FunctionAdapter(lambda f: np.array([0.25, 0.75]), name="np")
    model.load()
    assert model.predict({}) == [0.25, 0.75]


def test_a_missing_feature_is_invalid_features_naming_it() -> None:
    model = FunctionAdapter(lambda f: f["amount"], name="m")
    model.load()
    with pytest.raises(
        InvalidFeatures, match=r"model 'm' failed to predict: missing feature 'amount'"
    ):
        model.predict({})


def test_an_exception_in_the_model_is_a_prediction_error() -> None:
    model = FunctionAdapter(lambda f: 1 / f["x"], name="div")
    model.load()
    with pytest.raises(PredictionError, match=r"model 'div' failed to predict: ZeroDivisionError"):
        model.predict({"x": 0})


def test_predict_before_load_says_to_load_first() -> None:
    model = FunctionAdapter(lambda f: 0, name="cold")
    with pytest.raises(PredictionError, match=r"not loaded; call load\(\) at start-up"):
        model.predict({})


def test_a_non_callable_fails_at_load() -> None:
    with pytest.raises(ModelLoadError, match=r"model 'x' failed to load: 3 is not callable"):
        FunctionAdapter(3, name="x").load()  # type: ignore[arg-type]


def test_example_models_load_from_the_spec_folder_and_score() -> None:
    features = {"amount": 100.0, "new_device": 1, "foreign": 1}
    model = load_model("v2_0", ModelRef(kind="python", target="fraud_models:score_v2_0"), EXAMPLES)
    # the example's formula, by hand: logistic(-2.2 + 0.005 * 100 + 1.8 + 0.9)
    assert model.predict(features) == pytest.approx(_logistic(1.0), abs=1e-12)
    assert model.predict({}) == pytest.approx(_logistic(-2.2), abs=1e-12)


def test_the_spec_folder_is_not_left_on_sys_path() -> None:
    before = list(sys.path)
    load_model("v1_3", {"kind": "python", "target": "fraud_models:score_v1_3"}, EXAMPLES)
    assert sys.path == before


def test_a_module_importing_its_neighbours_loads(tmp_path: Path) -> None:
    (tmp_path / "helpers_nb.py").write_text("OFFSET = 0.5\n")
    (tmp_path / "model_nb.py").write_text(
        "from helpers_nb import OFFSET\n\ndef score(f):\n    return f['x'] + OFFSET\n"
    )
    model = load_model("nb", {"kind": "python", "target": "model_nb:score"}, tmp_path)
    assert model.predict({"x": 1}) == 1.5


def test_a_target_without_a_colon_is_refused() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'm' failed to load: target 'fraud_models' is not module:function",
    ):
        load_model("m", {"kind": "python", "target": "fraud_models"}, EXAMPLES)


def test_a_missing_module_names_the_folder_searched(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=rf"module 'no_such_module_x' not found in {tmp_path}",
    ):
        load_model("m", {"kind": "python", "target": "no_such_module_x:f"}, tmp_path)


def test_a_missing_function_lists_what_the_module_defines() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"has no attribute 'score_v9'; it defines: score_v1_3, score_v2_0, score_v2_1",
    ):
        load_model("m", {"kind": "python", "target": "fraud_models:score_v9"}, EXAMPLES)


def test_a_module_that_fails_to_import_names_the_cause(tmp_path: Path) -> None:
    (tmp_path / "broken_mod.py").write_text("import not_installed_framework_x\n")
    with pytest.raises(
        ModelLoadError,
        match=r"importing 'broken_mod' failed: ModuleNotFoundError: "
        r"No module named 'not_installed_framework_x'",
    ):
        load_model("m", {"kind": "python", "target": "broken_mod:f"}, tmp_path)


def test_same_named_modules_in_two_spec_folders_stay_apart(tmp_path: Path) -> None:
    (tmp_path / "fraud_models.py").write_text("def score_v1_3(f):\n    return -1.0\n")
    ref = {"kind": "python", "target": "fraud_models:score_v1_3"}
    theirs = load_model("theirs", ref, tmp_path)
    ours = load_model("ours", ref, EXAMPLES)
    assert theirs.predict({}) == -1.0
    assert ours.predict({}) == pytest.approx(_logistic(-2.0), abs=1e-12)
    assert ours.fn.__module__ != theirs.fn.__module__


def test_a_package_beside_the_spec_loads_with_its_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "scorers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_weights.py").write_text("SLOPE = 3.0\n")
    (package / "linear.py").write_text(
        "from ._weights import SLOPE\n\ndef score(f):\n    return SLOPE * f['x']\n"
    )
    model = load_model("pkg", {"kind": "python", "target": "scorers.linear:score"}, tmp_path)
    assert model.predict({"x": 2.0}) == 6.0


def test_an_installed_module_is_imported_as_usual(tmp_path: Path) -> None:
    model = load_model("len", {"kind": "python", "target": "operator:length_hint"}, tmp_path)
    assert model.predict({"a": 1, "b": 2}) == 2


def test_python_options_are_checked_by_name() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"options.methd is not an option here \(allowed: example, features, inline\)",
    ):
        load_model(
            "m",
            {"kind": "python", "target": "fraud_models:score_v1_3", "options": {"methd": 1}},
            EXAMPLES,
        )


def test_python_adapter_is_a_function_adapter() -> None:
    model = PythonAdapter("v1_3", "fraud_models:score_v1_3", EXAMPLES)
    model.load()
    assert isinstance(model, FunctionAdapter)
    assert model.predict({"amount": 0}) == pytest.approx(_logistic(-2.0), abs=1e-12)
