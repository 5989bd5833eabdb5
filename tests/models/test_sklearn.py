"""scikit-learn estimators saved with joblib, held to the fitted weights' closed form."""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from tests.models._artefacts import FEATURES, Trained

from champion.errors import InvalidFeatures, ModelLoadError
from champion.models import SklearnAdapter, load_model


def _ref(path: Path, **options: object) -> dict:
    return {"kind": "sklearn", "target": str(path), "options": {"features": FEATURES, **options}}


def test_binary_classifier_serves_the_positive_class_probability(
    joblib_file: Path, trained: Trained
) -> None:
    model = load_model("lr", _ref(joblib_file), "/")
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained.closed_form(trained.X), rtol=0, atol=1e-12)


def test_batch_equals_one_row_at_a_time(joblib_file: Path, trained: Trained) -> None:
    model = load_model("lr", _ref(joblib_file), "/")
    batch = model.predict_batch(trained.rows)
    single = [model.predict(r) for r in trained.rows]
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-14)  # BLAS may order sums apart


def test_relative_targets_are_read_from_the_spec_folder(joblib_file: Path) -> None:
    model = load_model("lr", _ref(Path(joblib_file.name)), joblib_file.parent)
    assert 0 < model.predict({"amount": 0, "new_device": 0, "foreign": 0}) < 1


def test_method_predict_serves_labels(joblib_file: Path, trained: Trained) -> None:
    model = load_model("lr", _ref(joblib_file, method="predict"), "/")
    labels = model.predict_batch(trained.rows)
    assert labels == (trained.closed_form(trained.X) > 0.5).astype(int).tolist()
    assert all(type(v) is int for v in labels)


def test_proba_vector_serves_both_columns(joblib_file: Path, trained: Trained) -> None:
    model = load_model("lr", _ref(joblib_file, proba="vector"), "/")
    p = trained.closed_form(trained.X[:1])[0]
    np.testing.assert_allclose(model.predict(trained.rows[0]), [1 - p, p], atol=1e-12)


def test_multiclass_serves_the_full_probability_vector(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 2))
    y = np.repeat([0, 1, 2], 30)
    X[y == 1] += 2
    est = LogisticRegression().fit(X, y)
    joblib.dump(est, tmp_path / "m.joblib")
    model = load_model(
        "multi",
        {"kind": "sklearn", "target": "m.joblib", "options": {"features": ["a", "b"]}},
        tmp_path,
    )
    got = model.predict({"a": 0.5, "b": -1.0})
    assert len(got) == 3
    np.testing.assert_allclose(got, est.predict_proba([[0.5, -1.0]])[0], atol=1e-12)
    assert sum(got) == pytest.approx(1.0)


def test_regressor_without_proba_defaults_to_predict(tmp_path: Path) -> None:
    X = np.array([[0.0], [1.0], [2.0]])
    joblib.dump(LinearRegression().fit(X, [1.0, 3.0, 5.0]), tmp_path / "r.joblib")
    model = load_model(
        "reg", {"kind": "sklearn", "target": "r.joblib", "options": {"features": ["x"]}}, tmp_path
    )
    assert model.predict({"x": 10}) == pytest.approx(21.0)


def test_columns_come_from_feature_names_in(joblib_file: Path, trained: Trained) -> None:
    model = load_model("lr", {"kind": "sklearn", "target": str(joblib_file)}, "/")
    assert model.features == FEATURES
    row = {"foreign": 0.1, "amount": 0.3, "new_device": -0.2}  # any key order
    expected = trained.closed_form(np.array([[0.3, -0.2, 0.1]]))[0]
    assert model.predict(row) == pytest.approx(expected, abs=1e-12)


def test_a_missing_feature_at_request_time_is_named(joblib_file: Path) -> None:
    model = load_model("lr", _ref(joblib_file), "/")
    with pytest.raises(
        InvalidFeatures,
        match=r"model 'lr' failed to predict: missing feature\(s\) foreign; "
        r"the model reads amount, new_device, foreign",
    ):
        model.predict({"amount": 1, "new_device": 0})


@pytest.fixture
def unnamed_file(tmp_path: Path, trained: Trained) -> Path:
    """The same kind of model fit on a bare array: it knows no feature names."""
    path = tmp_path / "unnamed.joblib"
    joblib.dump(LogisticRegression().fit(trained.X, trained.X[:, 0] > 0), path)
    return path


def test_an_unnamed_array_model_reads_the_declared_features(
    unnamed_file: Path, trained: Trained
) -> None:
    model = load_model("lr", _ref(unnamed_file), "/")
    est = joblib.load(unnamed_file)
    expected = est.predict_proba(trained.X)[:, 1]
    np.testing.assert_allclose(model.predict_batch(trained.rows), expected, atol=1e-12)


def test_features_are_required_for_an_unnamed_array_model(unnamed_file: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'lr' failed to load: options.features is required: LogisticRegression "
        r"in .* was fit on an unnamed array",
    ):
        load_model("lr", {"kind": "sklearn", "target": str(unnamed_file)}, "/")


def test_a_feature_count_mismatch_fails_at_load(unnamed_file: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"shape mismatch: LogisticRegression expects 3 features but options.features "
        r"names 2 \(amount, foreign\)",
    ):
        load_model("lr", _ref(unnamed_file, features=["amount", "foreign"]), "/")


def test_features_other_than_the_fitted_columns_are_refused(joblib_file: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"options.features \['amount', 'hour', 'foreign'\] differ from the columns "
        r"LogisticRegression was fit on \['amount', 'new_device', 'foreign'\]",
    ):
        load_model("lr", _ref(joblib_file, features=["amount", "hour", "foreign"]), "/")


def test_a_missing_file_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(
        ModelLoadError,
        match=rf"model 'lr' failed to load: file not found: {tmp_path}/nope.joblib "
        rf"\(relative targets are read from {tmp_path}\)",
    ):
        load_model("lr", _ref(Path("nope.joblib")), tmp_path)


def test_a_file_joblib_cannot_read_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "junk.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError, match=r"cannot read .*junk.joblib with joblib"):
        load_model("lr", _ref(Path("junk.joblib")), tmp_path)


def test_a_method_the_estimator_lacks_fails_at_load(tmp_path: Path) -> None:
    joblib.dump(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path / "r.joblib")
    with pytest.raises(
        ModelLoadError, match=r"LinearRegression from .* has no predict_proba\(\); set options"
    ):
        load_model(
            "reg",
            {
                "kind": "sklearn",
                "target": "r.joblib",
                "options": {"features": ["x"], "method": "predict_proba"},
            },
            tmp_path,
        )


def test_an_unknown_method_value_is_refused_by_name(joblib_file: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"options.method: Input should be 'predict_proba'"):
        load_model("lr", _ref(joblib_file, method="decision_function"), "/")


def test_missing_scikit_learn_names_the_extra(
    joblib_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(
        ModelLoadError,
        match=r"model 'lr' failed to load: sklearn cannot be imported .*; install it: "
        r"pip install 'champion\[sklearn\]'",
    ):
        SklearnAdapter("lr", joblib_file, features=FEATURES).load()


def test_a_pipeline_with_a_text_column_gets_typed_columns(tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame(
        {"amount": [10.0, 500.0, 20.0, 900.0] * 5, "country": ["FR", "US", "FR", "BR"] * 5}
    )
    y = (frame["amount"] > 100).astype(int)
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["country"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    with pytest.raises(
        ModelLoadError,
        match=r"the check call on a zero row of the features failed: .* \(if zeros are not "
        r"valid input, set options.example to one real request\)",
    ):
        load_model("pipe", {"kind": "sklearn", "target": "pipe.joblib"}, tmp_path)
    ref = {
        "kind": "sklearn",
        "target": "pipe.joblib",
        "options": {"example": {"amount": 1.0, "country": "FR"}},
    }
    model = load_model("pipe", ref, tmp_path)
    row = {"country": "US", "amount": 700.0}
    expected = pipe.predict_proba(pd.DataFrame([row])[["amount", "country"]])[0, 1]
    assert model.predict(row) == pytest.approx(expected, abs=1e-12)
