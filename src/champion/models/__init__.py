"""Model adapters: every kind of model behind one interface, loaded and checked at start-up.

``load_models(experiment, base_dir)`` turns a spec's ``models:`` block into adapters;
``FunctionAdapter(callable)`` wraps any function (and is the test double for a model).
Framework imports (scikit-learn, onnxruntime, MLflow, httpx) happen only when a model of
that kind is loaded.
"""

from champion.models.base import (
    ModelAdapter,
    Prediction,
    adapter_class,
    known_kinds,
    register_kind,
    score,
)
from champion.models.http import HttpAdapter
from champion.models.loader import load_model, load_models
from champion.models.mlflow import MlflowAdapter
from champion.models.onnx import OnnxAdapter
from champion.models.python import FunctionAdapter, PythonAdapter
from champion.models.sklearn import SklearnAdapter

__all__ = [
    "FunctionAdapter",
    "HttpAdapter",
    "MlflowAdapter",
    "ModelAdapter",
    "OnnxAdapter",
    "Prediction",
    "PythonAdapter",
    "SklearnAdapter",
    "adapter_class",
    "known_kinds",
    "load_model",
    "load_models",
    "register_kind",
    "score",
]
