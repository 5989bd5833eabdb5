"""One small logistic model trained on seeded data: the model every kind is checked against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FEATURES", "Trained", "fit"]

FEATURES = ["amount", "new_device", "foreign"]


@dataclass(frozen=True)
class Trained:
    """A fitted binary LogisticRegression with the rows it is checked on."""

    model: object
    X: np.ndarray  # rows to score (not the training rows)
    rows: list[dict[str, float]]
    coef: np.ndarray
    intercept: float

    def closed_form(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) from the fitted weights: the oracle every kind is held to."""
        return 1.0 / (1.0 + np.exp(-(X @ self.coef + self.intercept)))


def fit(seed: int, weights: list[float]) -> Trained:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3))
    y = (X @ np.array(weights) + rng.logistic(size=300) > 0).astype(int)
    # Fit on named columns, as a feature pipeline hands them over: scikit-learn then knows
    # its feature_names_in_ and every kind below is fed the same named columns.
    model = LogisticRegression().fit(pd.DataFrame(X, columns=FEATURES), y)
    X_new = np.round(rng.normal(size=(20, 3)), 3)
    rows = [dict(zip(FEATURES, map(float, x), strict=True)) for x in X_new]
    return Trained(model, X_new, rows, model.coef_[0].copy(), float(model.intercept_[0]))
