"""Rules that span fields of a spec, checked on the raw mapping so all problems surface at once.

Each rule reads defensively: a malformed part (already reported by the schema) is skipped,
never a crash, so one run lists every problem in the file.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

from champion.spec.models import BUILTIN_GUARDRAIL_METRICS, MONITOR_GUARDRAIL_METRICS

__all__ = ["cross_field_problems"]

Problem = tuple[tuple[Any, ...], str]


def _names(items: Any) -> list[str]:
    return [str(x) for x in items] if isinstance(items, list) else []


def _variants(data: dict[str, Any]) -> Iterator[Problem]:
    models = data.get("models")
    if not isinstance(models, dict):
        models = {}
    champion = data.get("champion")
    challengers = data.get("challengers")
    if isinstance(challengers, str):
        yield ("challengers",), "must be a list of model names, e.g. [v2_0]"
        challengers = [challengers]
    variants = ([str(champion)] if champion is not None else []) + _names(challengers)
    dupes = sorted(name for name, count in Counter(variants).items() if count > 1)
    if dupes:
        yield (
            ("challengers",),
            (
                f"duplicate variant names {dupes}: each variant (champion and challengers) "
                "must appear once"
            ),
        )
    declared = sorted(models)
    if champion is not None and models and str(champion) not in models:
        yield ("champion",), f"'{champion}' is not declared under models (declared: {declared})"
    for i, name in enumerate(_names(challengers)):
        if models and name not in models:
            yield (
                ("challengers", i),
                f"'{name}' is not declared under models (declared: {declared})",
            )
    yield from _allocation(data.get("allocation"), variants)
    overrides = data.get("overrides")
    for key, variant in overrides.items() if isinstance(overrides, dict) else ():
        if variants and str(variant) not in variants:
            yield (
                ("overrides", key),
                (f"pins unit '{key}' to '{variant}', not a variant (variants: {variants})"),
            )
    for i, shadow in enumerate(data.get("shadow") or []):
        if not isinstance(shadow, dict) or "model" not in shadow:
            continue
        name = str(shadow["model"])
        if models and name not in models:
            yield (
                ("shadow", i, "model"),
                (f"'{name}' is not declared under models (declared: {declared})"),
            )
        elif name == champion:
            yield ("shadow", i, "model"), "the champion cannot shadow itself; name another model"


def _allocation(allocation: Any, variants: list[str]) -> Iterator[Problem]:
    if not isinstance(allocation, dict) or not variants:
        return
    missing = [v for v in variants if v not in allocation]
    extra = [k for k in allocation if k not in variants]
    if missing:
        yield ("allocation",), f"gives no share to {missing}: list every variant (0 is allowed)"
    if extra:
        yield ("allocation",), f"names {extra}, which are not variants (variants: {variants})"
    shares = [v for v in allocation.values() if isinstance(v, int | float)]
    if len(shares) == len(allocation) and not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
        yield (
            ("allocation",),
            (f"shares sum to {sum(shares):.6g}, not 1: adjust them so they add up to 1"),
        )


def _metrics(data: dict[str, Any]) -> Iterator[Problem]:
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        return
    declared: list[str] = []
    entries: list[tuple[tuple[str | int, ...], Any]] = [
        (("metrics", "primary"), metrics.get("primary"))
    ]
    entries += [
        (("metrics", "secondary", i), m) for i, m in enumerate(metrics.get("secondary") or [])
    ]
    for path, metric in entries:
        if not isinstance(metric, dict) or "name" not in metric:
            continue
        declared.append(str(metric["name"]))
        kind = metric.get("kind", "proportion")
        if kind == "ratio" and not (metric.get("numerator") and metric.get("denominator")):
            yield path, "a ratio metric needs numerator and denominator (outcome names)"
        if kind == "quantile" and metric.get("quantile") is None:
            yield path, "a quantile metric needs quantile (e.g. 0.95)"
    dupes = sorted(n for n, c in Counter(declared).items() if c > 1)
    if dupes:
        yield ("metrics",), f"duplicate metric names {dupes}: each metric is declared once"
    known = set(declared) | BUILTIN_GUARDRAIL_METRICS | MONITOR_GUARDRAIL_METRICS
    for i, guard in enumerate(metrics.get("guardrails") or []):
        if not isinstance(guard, dict) or "name" not in guard:
            continue
        path = ("metrics", "guardrails", i, "name")
        if str(guard["name"]) not in known:
            yield (
                path,
                (
                    f"unknown metric '{guard['name']}': declare it under metrics.primary/secondary "
                    "or use one measured from exposures "
                    f"({sorted(BUILTIN_GUARDRAIL_METRICS | MONITOR_GUARDRAIL_METRICS)})"
                ),
            )
        if all(guard.get(k) is None for k in ("min", "max", "non_inferiority_margin", "max_ratio")):
            yield (
                ("metrics", "guardrails", i),
                "needs min, max, non_inferiority_margin or max_ratio",
            )
        if guard.get("max_ratio") is not None and str(guard["name"]) not in (
            BUILTIN_GUARDRAIL_METRICS - {"error_rate"}
        ):
            yield (
                ("metrics", "guardrails", i, "max_ratio"),
                (
                    "max_ratio compares serving latency with the champion's: use it on "
                    "latency_p50_ms, latency_p95_ms, latency_p99_ms or latency_mean_ms "
                    "(error_rate takes non_inferiority_margin)"
                ),
            )
        extra = [
            k for k in ("min", "non_inferiority_margin", "max_ratio") if guard.get(k) is not None
        ]
        if str(guard["name"]) in MONITOR_GUARDRAIL_METRICS and extra:
            yield (
                ("metrics", "guardrails", i, extra[0]),
                (
                    f"{guard['name']} takes only max (the largest drift allowed, e.g. "
                    f"max: 0.2): remove {extra[0]}"
                ),
            )
        lo, hi = guard.get("min"), guard.get("max")
        if isinstance(lo, int | float) and isinstance(hi, int | float) and lo >= hi:
            yield ("metrics", "guardrails", i), f"min {lo} must be below max {hi}"


def _rollout(data: dict[str, Any]) -> Iterator[Problem]:
    rollout = data.get("rollout")
    if not isinstance(rollout, dict):
        return
    stages = rollout.get("stages")
    if not isinstance(stages, list) or not all(isinstance(s, int | float) for s in stages):
        return
    for i, stage in enumerate(stages):
        if not 0 < stage <= 100:
            yield ("rollout", "stages", i), f"{stage} is not a percentage in (0, 100]"
    if any(b <= a for a, b in itertools.pairwise(stages)):
        yield ("rollout", "stages"), f"{stages} must be strictly increasing, e.g. [10, 25, 50, 100]"


def _layer(data: dict[str, Any]) -> Iterator[Problem]:
    layer = data.get("layer")
    if isinstance(layer, dict):
        start, end = layer.get("start", 0.0), layer.get("end", 1.0)
        if isinstance(start, int | float) and isinstance(end, int | float) and start >= end:
            yield ("layer",), f"start {start} must be below end {end}"


def _bandit(data: dict[str, Any]) -> Iterator[Problem]:
    bandit = data.get("bandit")
    if not isinstance(bandit, dict):
        return
    metrics = data.get("metrics")
    found: dict[str, str] = {}
    if isinstance(metrics, dict):
        listed = [metrics.get("primary"), *(metrics.get("secondary") or [])]
        for m in listed:
            if isinstance(m, dict) and isinstance(m.get("name"), str):
                found[m["name"]] = str(m.get("kind", "proportion"))
    reward = bandit.get("reward")
    if isinstance(reward, str):
        if reward not in found:
            yield (
                ("bandit", "reward"),
                (
                    f"{reward!r} is not a metric of this spec: name its primary or a secondary "
                    f"metric ({', '.join(found) or 'none declared'})"
                ),
            )
        elif found[reward] not in ("proportion", "mean"):
            yield (
                ("bandit", "reward"),
                (
                    f"{reward!r} is a {found[reward]} metric: a bandit's reward must be a "
                    "proportion or a mean"
                ),
            )
    arms = 1 + len(_names(data.get("challengers")))
    floor = bandit.get("min_share", 0.05)
    if isinstance(floor, int | float) and floor * arms > 1:
        yield (
            ("bandit", "min_share"),
            (
                f"{floor} for each of {arms} arms is more than all the traffic: "
                f"at most {1 / arms:.4g}"
            ),
        )
    if data.get("rollout") is not None:
        yield (
            ("bandit",),
            ("a bandit sets its own weights: remove 'rollout' (its stages would fight the policy)"),
        )


def cross_field_problems(data: dict[str, Any]) -> list[Problem]:
    """Every cross-field problem in a raw spec mapping, as (path, message) pairs."""
    problems: list[Problem] = []
    for rule in (_variants, _metrics, _rollout, _layer, _bandit):
        problems.extend(rule(data))
    return problems
