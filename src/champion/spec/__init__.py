"""Experiment specs: pydantic models and YAML I/O. Validation names the field and the fix."""

from champion.spec.design import Design, PlanInputs, load_plan_inputs

__all__ = ["Design", "PlanInputs", "load_plan_inputs"]
