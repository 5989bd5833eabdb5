"""Experiment specs: pydantic models and YAML I/O. Validation names the field and the fix."""

from champion.spec.design import Design, PlanInputs, load_plan_inputs
from champion.spec.io import dump_spec, load_spec, parse_spec, spec_to_dict
from champion.spec.models import (
    Condition,
    DecisionRules,
    Experiment,
    Guardrail,
    Holdout,
    Layer,
    Metric,
    Metrics,
    ModelRef,
    Rollout,
    Shadow,
)

__all__ = [
    "Condition",
    "DecisionRules",
    "Design",
    "Experiment",
    "Guardrail",
    "Holdout",
    "Layer",
    "Metric",
    "Metrics",
    "ModelRef",
    "PlanInputs",
    "Rollout",
    "Shadow",
    "dump_spec",
    "load_plan_inputs",
    "load_spec",
    "parse_spec",
    "spec_to_dict",
]
