"""The two arms of the end-to-end bandit: what they answer does not matter, who they serve does."""

from __future__ import annotations


def arm_a(features: dict) -> float:
    return 0.1


def arm_b(features: dict) -> float:
    return 0.4
