"""Toy models for the serving tests: fast ones, a slow shadow, a failing one."""

import math
import time


def champion(features: dict) -> float:
    return 1.0 / (1.0 + math.exp(-(0.01 * features.get("amount", 0.0) - 1.0)))


def challenger(features: dict) -> float:
    return 1.0 / (1.0 + math.exp(-(0.012 * features.get("amount", 0.0) - 1.1)))


def close_shadow(features: dict) -> float:
    return champion(features) + 0.01


def slow_shadow(features: dict) -> float:
    time.sleep(2.0)
    return champion(features)


def broken(features: dict) -> float:
    raise RuntimeError("shadow model is broken")


def label(features: dict) -> str:
    return "fraud" if features.get("amount", 0.0) > 100 else "ok"
