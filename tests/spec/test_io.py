"""Spec loading: the example loads as written, round-trips, and every problem is named."""

import textwrap

import pytest
import yaml

from champion.errors import SpecError
from champion.spec import dump_spec, load_spec, parse_spec

VALID = textwrap.dedent(
    """\
    name: checkout-ranker
    models:
      a: {kind: python, target: "m:a"}
      b: {kind: python, target: "m:b"}
      c: {kind: http, target: "http://127.0.0.1:9000/v2/models/c/infer"}
    champion: a
    challengers: [b, c]
    allocation: {a: 0.8, b: 0.1, c: 0.1}
    metrics:
      primary: {name: conversion, kind: proportion}
      secondary:
        - {name: revenue, kind: mean, covariate: revenue_pre}
        - {name: rps, kind: ratio, numerator: revenue, denominator: sessions}
      guardrails:
        - {name: latency_p99_ms, max: 300}
        - {name: revenue, non_inferiority_margin: 0.5}
    rollout: {stages: [5, 20, 50, 100], min_stage_hours: 12, min_stage_sample: 2000}
    segments: [country]
    targeting:
      - {attribute: country, op: in, value: [US, CA]}
    overrides: {qa-user-1: b, 42: c}
    holdout: {share: 0.02}
    layer: {name: ranking, start: 0.0, end: 0.5}
    """
)


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "spec.yaml")
    return info.value.problems


def test_fraud_example_loads_as_written(fraud_spec):
    spec = load_spec(fraud_spec)
    assert spec.variants == ["v1_3", "v2_0"]
    assert spec.effective_salt == "fraud-detector-v2"
    assert spec.shadow[0].timeout_ms == 200
    assert spec.metrics.guardrails[2].non_inferiority_margin == 0.005
    assert spec.rollout.stages == [10, 25, 50, 100]
    assert spec.segments == ["country", "device"]


@pytest.mark.parametrize("source", ["fraud", "valid"])
def test_yaml_to_spec_to_yaml_is_lossless(source, fraud_spec):
    text = fraud_spec.read_text() if source == "fraud" else VALID
    spec = parse_spec(text)
    again = dump_spec(spec)
    assert yaml.safe_load(again) == _normalised(yaml.safe_load(text))
    assert parse_spec(again) == spec


def _normalised(data: dict) -> dict:
    """YAML lets override keys be numbers; the spec stores unit ids as text."""
    if "overrides" in data:
        data["overrides"] = {str(k): v for k, v in data["overrides"].items()}
    return data


def test_every_problem_is_listed_with_field_and_line():
    text = (
        VALID.replace("challengers: [b, c]", "challengers: [b, d, b]")
        .replace("allocation: {a: 0.8, b: 0.1, c: 0.1}", "allocation: {a: 0.8, b: 0.3}")
        .replace("name: latency_p99_ms", "name: refunds")
        .replace("stages: [5, 20, 50, 100]", "stages: [5, 50, 20]")
        + "design: {alpha: 1.5, mde: 0.1, baseline: 0.1}\n"
    )
    problems = _problems(text)
    joined = "\n".join(problems)
    assert "challengers (spec.yaml:7): duplicate variant names ['b']" in joined
    assert "challengers[1] (spec.yaml:7): 'd' is not declared under models" in joined
    assert "allocation (spec.yaml:8): shares sum to 1.1, not 1" in joined
    assert "allocation (spec.yaml:8): gives no share to ['d']" in joined
    assert "metrics.guardrails[0].name (spec.yaml:15): unknown metric 'refunds'" in joined
    assert "rollout.stages (spec.yaml:17): [5, 50, 20] must be strictly increasing" in joined
    assert "design.alpha (spec.yaml:24)" in joined
    assert "overrides[42] (spec.yaml:21): pins unit '42' to 'c', not a variant" in joined
    assert len(problems) == 8


def test_unknown_field_and_wrong_type_are_named():
    problems = _problems(
        VALID.replace("segments: [country]", "segmnts: [country]").replace(
            "min_stage_hours: 12", "min_stage_hours: soon"
        )
    )
    assert any(p.startswith("segmnts (spec.yaml:18): unknown field") for p in problems)
    assert any(p.startswith("rollout.min_stage_hours (spec.yaml:17)") and "'soon'" in p
               for p in problems)  # fmt: skip


def test_undeclared_shadow_model_and_bad_override_variant():
    text = VALID + "shadow:\n  - {model: z, sample: 0.5}\n"
    text = text.replace("qa-user-1: b", "qa-user-1: zz")
    joined = "\n".join(_problems(text))
    assert "shadow[0].model (spec.yaml:25): 'z' is not declared under models" in joined
    assert (
        "overrides.qa-user-1 (spec.yaml:21): pins unit 'qa-user-1' to 'zz', not a variant" in joined
    )


def test_ratio_metric_without_denominator_is_refused():
    joined = "\n".join(_problems(VALID.replace(", denominator: sessions", "")))
    assert "needs numerator and denominator" in joined


def test_missing_required_fields_are_listed():
    problems = _problems("name: x\n")
    assert {p.split(" ")[0] for p in problems} >= {
        "models",
        "champion",
        "challengers",
        "allocation",
        "metrics",
    }


def test_malformed_yaml_names_the_line():
    problems = _problems("name: x\nmodels: {a: [1, 2}\n")
    assert problems[0].startswith("(spec.yaml:2): not valid YAML")


def test_top_level_must_be_a_mapping():
    assert "top level must be a mapping" in _problems("- a\n")[0]


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_salt_defaults_to_the_name_and_can_be_set():
    assert parse_spec(VALID).effective_salt == "checkout-ranker"
    assert parse_spec(VALID + "salt: s1\n").effective_salt == "s1"
