"""Outcome metric names against the experiments that read them.

An outcome row whose metric no registered experiment reads is stored but never analysed; a
misspelling (``fraud_cought``) would go unnoticed until a read-out says "no outcomes". The
names an experiment reads are its metrics' outcome names (a ratio's numerator and
denominator, not its own name) and their covariates.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from champion.errors import ChampionError
from champion.events.schema import Outcome
from champion.registry.connection import DEFAULT_URL
from champion.spec.outcome_names import spec_outcome_names, unknown_metric_lines

__all__ = ["known_outcome_names", "spec_outcome_names", "unknown_metrics"]

def known_outcome_names(registry_url: str | None, required: bool = False) -> set[str] | None:
    """Every outcome name a registered experiment reads; None when there is nothing to check
    against (no registry here, or an empty one) unless ``required`` (``--strict``)."""
    from champion.registry import Registry

    if registry_url is None:
        default = Path(DEFAULT_URL.removeprefix("sqlite:///"))
        if not default.is_file():
            if required:
                raise ValueError(
                    f"--strict checks metric names against the registry: there is no {default} "
                    "here; give --registry URL|PATH"
                )
            return None
        registry_url = DEFAULT_URL
    with Registry(registry_url) as registry:
        experiments = registry.snapshot().experiments
    if not experiments:
        if required:
            raise ValueError(
                "--strict checks metric names against the registered experiments, and the "
                "registry holds none: create the experiment first"
            )
        return None
    names: set[str] = set()
    for state in experiments:
        try:
            names |= spec_outcome_names(state.spec)
        except ChampionError:  # a spec this version cannot read names nothing to check
            continue
    return names


def unknown_metrics(outcomes: Iterable[Outcome], known: set[str], strict: bool) -> list[str]:
    """One line per metric name no experiment reads, with the close match; with ``strict``
    the same lines refuse the file (ValueError) before anything is stored."""
    lines = unknown_metric_lines((o.metric for o in outcomes), known, "registered experiment")
    if lines and strict:
        raise ValueError("refused (--strict), nothing was loaded: " + "; ".join(lines))
    if lines:
        lines.append("loaded anyway; --strict refuses such a file")
    return lines
