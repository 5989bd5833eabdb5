"""Loading a spec's models: every failure at start-up, all at once; one model, every kind."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from tests.models._artefacts import FEATURES, Trained

from champion.errors import ModelLoadError, ModelsFailedToLoad
from champion.models import ModelAdapter, load_model, load_models, score
from champion.models import base as models_base
from champion.spec import ModelRef, load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Recorder(ModelAdapter):
    """A kind that loads or fails on demand and remembers whether it was closed."""

    closed: ClassVar[list[str]] = []

    @classmethod
    def from_ref(
        cls, name: str, target: str, options: Mapping[str, Any], base_dir: Path
    ) -> _Recorder:
        if target == "explode":
            raise RuntimeError("boom while building")
        return cls(name)

    def load(self) -> None:
        self.loaded = True

    def predict(self, features: Mapping[str, Any]) -> Any:
        return 0.5

    def close(self) -> None:
        self.closed.append(self.name)


@pytest.fixture
def recorder_kind() -> Iterator[None]:
    models_base.register_kind("recorder", _Recorder)
    _Recorder.closed.clear()
    yield
    models_base._KINDS.pop("recorder")


def test_example_spec_models_all_load_and_score() -> None:
    experiment = load_spec(EXAMPLES / "fraud-detector.yaml")
    models = load_models(experiment, EXAMPLES)
    assert sorted(models) == ["v1_3", "v2_0", "v2_1_candidate"]
    row = {"amount": 200.0, "new_device": 0, "foreign": 1}
    # the example's formulas by hand
    assert models["v1_3"].predict(row) == pytest.approx(_logistic(-2.0 + 0.8), abs=1e-12)
    assert models["v2_0"].predict(row) == pytest.approx(_logistic(-2.2 + 1.0 + 0.9), abs=1e-12)
    assert score(models["v2_1_candidate"].predict(row)) == pytest.approx(
        _logistic(-2.1 + 0.9 + 1.1), abs=1e-12
    )


def test_every_failing_model_is_listed_in_one_error(tmp_path: Path) -> None:
    experiment = load_spec(EXAMPLES / "fraud-detector.yaml")
    broken = experiment.model_copy(
        update={
            "models": {
                "v1_3": ModelRef(kind="python", target="fraud_models:score_v1_3"),
                "v2_0": ModelRef(kind="sklearn", target="missing.joblib"),
                "v2_1_candidate": ModelRef(
                    kind="python", target="fraud_models:score_v2_1", options={"inline": "sure"}
                ),
            }
        }
    )
    with pytest.raises(ModelsFailedToLoad) as caught:
        load_models(broken, EXAMPLES)
    message = str(caught.value)
    assert message.startswith("2 model(s) failed to load\n")
    assert f"  - v2_0: file not found: {EXAMPLES}/missing.joblib" in message
    assert "  - v2_1_candidate: options.inline: Input should be a valid boolean" in message
    assert [e.model for e in caught.value.errors] == ["v2_0", "v2_1_candidate"]
    assert isinstance(caught.value, ModelLoadError)


def test_models_that_loaded_are_closed_when_another_fails(recorder_kind: None) -> None:
    experiment = load_spec(EXAMPLES / "fraud-detector.yaml")
    mixed = experiment.model_copy(
        update={
            "models": {
                "v1_3": {"kind": "recorder", "target": "fine"},
                "v2_0": {"kind": "recorder", "target": "explode"},
            }
        }
    )
    with pytest.raises(ModelsFailedToLoad, match=r"  - v2_0: RuntimeError: boom while building"):
        load_models(mixed, EXAMPLES)
    assert _Recorder.closed == ["v1_3"]


def test_an_unknown_kind_lists_the_known_kinds() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'm' failed to load: unknown kind 'torch'; known kinds: http, mlflow, onnx, "
        r"python, sklearn \(add one with champion.models.register_kind\)",
    ):
        load_model("m", {"kind": "torch", "target": "model.pt"}, EXAMPLES)


def test_a_ref_without_a_target_is_refused() -> None:
    with pytest.raises(ModelLoadError, match=r"model 'm' failed to load: target is missing"):
        load_model("m", {"kind": "python"}, EXAMPLES)


# MLflow 3 warns at import about its own type hints: not about champion, so only here.
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning")
def test_one_model_gives_the_same_answers_through_every_kind(
    tmp_path: Path, trained: Trained, joblib_file: Path, onnx_file: Path
) -> None:
    import mlflow.sklearn
    import pandas as pd

    mlflow.sklearn.save_model(
        trained.model,
        str(tmp_path / "mlflow-model"),
        pyfunc_predict_fn="predict_proba",
        pip_requirements=["scikit-learn"],
        serialization_format="cloudpickle",
    )
    opts = {"features": FEATURES}
    refs = {
        "sklearn": {"kind": "sklearn", "target": str(joblib_file), "options": opts},
        "onnx": {"kind": "onnx", "target": str(onnx_file), "options": opts},
        "mlflow": {"kind": "mlflow", "target": "mlflow-model", "options": opts},
        "python": {
            "kind": "python",
            "target": "lr_by_hand:score",
            "options": {"example": trained.rows[0]},
        },
    }
    coef = ", ".join(repr(float(c)) for c in trained.coef)
    (tmp_path / "lr_by_hand.py").write_text(
        "import math\n\n"
        f"W = [{coef}]\nB = {trained.intercept!r}\nF = {FEATURES!r}\n\n"
        "def score(f):\n"
        "    z = B + sum(w * f[k] for w, k in zip(W, F))\n"
        "    return 1 / (1 + math.exp(-z))\n"
    )
    expected = trained.closed_form(trained.X)
    frame = pd.DataFrame(trained.X, columns=FEATURES)
    np.testing.assert_allclose(trained.model.predict_proba(frame)[:, 1], expected, atol=1e-12)
    for kind, ref in refs.items():
        got = np.array(load_model(kind, ref, tmp_path).predict_batch(trained.rows))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=kind)
