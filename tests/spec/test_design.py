"""The design block loader: the example spec loads; bad specs name every field at fault."""

import pytest

from champion.errors import SpecError
from champion.spec.design import load_plan_inputs


def test_fraud_example_design_loads(fraud_spec):
    inputs = load_plan_inputs(fraud_spec)
    assert inputs.design.baseline == 0.15
    assert inputs.design.relative is True
    assert inputs.design.looks == 5
    assert inputs.champion == "v1_3"
    assert inputs.challengers == ("v2_0",)
    assert inputs.ratio == pytest.approx(0.05 / 0.95)
    assert inputs.shares == (0.95, 0.05)


def test_every_design_problem_is_listed(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("design: {alpha: 1.5, power: 0, mde: 0.1, baseline: 0.2, colour: red}\n")
    with pytest.raises(SpecError) as info:
        load_plan_inputs(spec)
    text = str(info.value)
    assert "3 problem(s)" in text
    assert "design.alpha" in text
    assert "design.power" in text
    assert "design.colour: Extra inputs are not permitted" in text


def test_missing_design_block_says_what_to_add(tmp_path):
    spec = tmp_path / "empty.yaml"
    spec.write_text("name: x\n")
    with pytest.raises(SpecError, match="design: missing; add a design block"):
        load_plan_inputs(spec)


def test_malformed_yaml_names_the_line(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text("design:\n  alpha: [0.05\n")
    with pytest.raises(SpecError, match=r"line \d+, column \d+: not valid YAML"):
        load_plan_inputs(spec)


def test_top_level_list_is_refused(tmp_path):
    spec = tmp_path / "list.yaml"
    spec.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="top level must be a mapping"):
        load_plan_inputs(spec)


def test_proportion_baseline_outside_unit_interval_suggests_std(tmp_path):
    spec = tmp_path / "mean.yaml"
    spec.write_text("design: {mde: 1.0, baseline: 20}\n")
    with pytest.raises(SpecError, match="set std for a mean metric"):
        load_plan_inputs(spec)
