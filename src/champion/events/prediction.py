"""A model's answer as JSON text, and the one number to compare models on."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from champion.errors import InvalidArgument

__all__ = ["encode_prediction"]

_SCORE_KEYS = ("score", "probability", "proba", "prediction", "value")


def _plain(value: Any) -> Any:
    """numpy arrays and scalars as plain Python, so json can write them."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _as_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        if len(value) == 1:  # a batch of one, or [score]
            return _as_score(value[0])
        if len(value) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            return _as_score(value[1])  # [P(negative), P(positive)]
        return None
    if isinstance(value, Mapping):
        for key in _SCORE_KEYS:
            if key in value:
                return _as_score(value[key])
        if "probabilities" in value:
            return _as_score(value["probabilities"])
    return None


def encode_prediction(value: Any) -> tuple[str, float | None]:
    """A model's answer as JSON text, and the number to compare models on (or None).

    The score is the answer itself when it is a number (a bool counts as 0/1), the second
    of two class probabilities, or the first of ``score``, ``probability``, ``proba``,
    ``prediction``, ``value``, ``probabilities`` in a mapping. Pass ``score=`` yourself
    when your model answers in another shape.

    >>> encode_prediction({"label": "fraud", "probability": 0.93})
    ('{"label":"fraud","probability":0.93}', 0.93)
    >>> encode_prediction([0.2, 0.8])
    ('[0.2,0.8]', 0.8)
    """
    plain = _plain(value) if hasattr(value, "tolist") or hasattr(value, "item") else value
    try:
        text = json.dumps(plain, separators=(",", ":"), default=_plain, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(
            "prediction", value, f"cannot be written as JSON ({e}); return plain numbers, "
            "strings, lists or dicts from the model"
        ) from None  # fmt: skip
    return text, _as_score(json.loads(text))
