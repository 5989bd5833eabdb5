"""Toy models for the safety tests: one that raises on demand, one that needs a feature."""


def picky(features: dict) -> float:
    if features.get("explode"):
        raise RuntimeError("the model blew up")
    return 0.5


def needs_amount(features: dict) -> float:
    return 0.01 * float(features["amount"])


def anything(features: dict) -> float:
    """Answers every request, whatever the features: for fuzzing the gateway, not the model."""
    return 0.25
