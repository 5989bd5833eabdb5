"""ONNX models through onnxruntime: the skl2onnx export and a hand-built per-feature graph."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tests.models._artefacts import FEATURES, Trained

from champion.errors import InvalidFeatures, ModelLoadError
from champion.models import OnnxAdapter, load_model


def _ref(path: Path, **options: object) -> dict:
    return {"kind": "onnx", "target": str(path), "options": {"features": FEATURES, **options}}


@pytest.fixture(scope="module")
def per_feature_onnx(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> Path:
    """logistic(w . [a, b, c] + b0) with one [N, 1] input per feature, built node by node."""
    from onnx import TensorProto, helper, numpy_helper

    inputs = [helper.make_tensor_value_info(f, TensorProto.DOUBLE, [None, 1]) for f in FEATURES]
    weights = numpy_helper.from_array(trained.coef.reshape(3, 1).astype(np.float64), "w")
    bias = numpy_helper.from_array(np.array([trained.intercept]), "b0")
    graph = helper.make_graph(
        [
            helper.make_node("Concat", FEATURES, ["x"], axis=1),
            helper.make_node("MatMul", ["x", "w"], ["z0"]),
            helper.make_node("Add", ["z0", "b0"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["score"]),
        ],
        "per_feature",
        inputs,
        [helper.make_tensor_value_info("score", TensorProto.DOUBLE, [None, 1])],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("onnx") / "per_feature.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_skl2onnx_export_serves_the_positive_class_probability(
    onnx_file: Path, trained: Trained
) -> None:
    model = load_model("lr", _ref(onnx_file), "/")
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained.closed_form(trained.X), rtol=0, atol=1e-5)


def test_batch_equals_one_row_at_a_time(onnx_file: Path, trained: Trained) -> None:
    model = load_model("lr", _ref(onnx_file), "/")
    batch = model.predict_batch(trained.rows)
    single = [model.predict(r) for r in trained.rows]
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-6)


def test_the_probability_output_is_chosen_over_the_label(onnx_file: Path) -> None:
    model = load_model("lr", _ref(onnx_file), "/")
    assert model.output == "probabilities"
    labels = load_model("lr", _ref(onnx_file, output="label"), "/")
    assert labels.predict({"amount": 5.0, "new_device": 0.0, "foreign": 0.0}) in (0, 1)


def test_proba_vector_serves_both_columns(onnx_file: Path, trained: Trained) -> None:
    model = load_model("lr", _ref(onnx_file, proba="vector"), "/")
    p = trained.closed_form(trained.X[:1])[0]
    np.testing.assert_allclose(model.predict(trained.rows[0]), [1 - p, p], atol=1e-5)


def test_zipmap_output_serves_the_positive_class(tmp_path: Path, trained: Trained) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onx = convert_sklearn(trained.model, initial_types=[("x", FloatTensorType([None, 3]))])
    (tmp_path / "zip.onnx").write_bytes(onx.SerializeToString())
    model = load_model("zip", _ref(Path("zip.onnx")), tmp_path)
    assert model.output == "output_probability"
    got = model.predict_batch(trained.rows[:3])
    np.testing.assert_allclose(got, trained.closed_form(trained.X[:3]), atol=1e-5)
    vector = load_model("zip", _ref(Path("zip.onnx"), proba="vector"), tmp_path)
    assert set(vector.predict(trained.rows[0])) == {"0", "1"}


def test_one_input_per_feature_reads_the_features_from_the_model(
    per_feature_onnx: Path, trained: Trained
) -> None:
    model = load_model("cols", {"kind": "onnx", "target": str(per_feature_onnx)}, "/")
    assert model.features == FEATURES
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained.closed_form(trained.X), rtol=0, atol=1e-12)
    assert model.predict(trained.rows[0]) == got[0]


def test_features_are_required_for_a_single_matrix_input(onnx_file: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'lr' failed to load: options.features is required: .* has one input "
        r"\(float_input \[None, 3\] tensor\(float\)\)",
    ):
        load_model("lr", {"kind": "onnx", "target": str(onnx_file)}, "/")


def test_a_column_count_mismatch_fails_at_load(onnx_file: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"shape mismatch: input 'float_input' has 3 columns but options.features names 4",
    ):
        load_model("lr", _ref(onnx_file, features=[*FEATURES, "hour"]), "/")


def test_features_for_a_per_feature_model_are_refused(per_feature_onnx: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"takes one input per feature .* drop options"):
        load_model("cols", _ref(per_feature_onnx), "/")


def test_an_unknown_output_lists_the_outputs(onnx_file: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"options.output 'proba' is not an output of .* \(outputs: label, probabilities\)",
    ):
        load_model("lr", _ref(onnx_file, output="proba"), "/")


def test_a_corrupt_file_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(
        ModelLoadError, match=r"model 'bad' failed to load: onnxruntime cannot open"
    ):
        load_model("bad", _ref(Path("bad.onnx")), tmp_path)


def test_a_missing_file_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"file not found: .*absent.onnx"):
        load_model("m", _ref(Path("absent.onnx")), tmp_path)


def test_a_non_numeric_feature_is_invalid_features(onnx_file: Path) -> None:
    model = load_model("lr", _ref(onnx_file), "/")
    with pytest.raises(InvalidFeatures, match=r"features must be numbers for this model"):
        model.predict({"amount": "lots", "new_device": 0, "foreign": 0})


def test_missing_onnxruntime_names_the_extra(
    onnx_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(
        ModelLoadError,
        match=r"onnxruntime cannot be imported .*; install it: pip install 'champion\[onnx\]'",
    ):
        OnnxAdapter("lr", onnx_file, features=FEATURES).load()
