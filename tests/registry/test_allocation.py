"""Ramp arithmetic, served allocations and stage matching, without a database."""

import math

import pytest

from champion.errors import InvalidArgument
from champion.registry.allocation import (
    champion_only,
    check_shares,
    layout_check,
    no_layout_check,
    ramped,
    spec_allocation,
    stage_for,
)


def test_ramp_gives_the_first_challenger_its_share_and_the_champion_the_rest(make_spec):
    spec = make_spec()
    allocation, which = ramped(spec, {"champ": 0.9, "b": 0.1}, 25)
    assert which == "b"
    assert allocation == {"champ": 0.75, "b": 0.25}


def test_ramp_of_a_named_challenger_leaves_the_others_alone(make_spec):
    spec = make_spec(challengers=("b", "c", "d"))
    current = {"champ": 0.7, "b": 0.1, "c": 0.15, "d": 0.05}
    allocation, which = ramped(spec, current, 30, challenger="c")
    assert which == "c"
    assert allocation == {"champ": 0.55, "b": 0.1, "c": 0.3, "d": 0.05}
    assert math.fsum(allocation.values()) == pytest.approx(1, abs=1e-12)


def test_ramp_stores_rounded_shares_that_sum_to_one(make_spec):
    spec = make_spec(challengers=("b", "c"))
    allocation, _ = ramped(spec, {"champ": 0.85, "b": 0.1, "c": 0.05}, 5, challenger="c")
    assert allocation["champ"] == 0.85  # 1 - 0.1 - 0.05 is 0.8500000000000001 in binary
    check_shares(allocation)


@pytest.mark.parametrize("to", [0, 100])
def test_ramp_accepts_the_ends_of_the_range(make_spec, to):
    allocation, _ = ramped(make_spec(), {"champ": 0.9, "b": 0.1}, to)
    assert allocation == {"champ": 1 - to / 100, "b": to / 100}


@pytest.mark.parametrize("to", [-1, 100.5, math.nan, math.inf, "25", True])
def test_ramp_refuses_a_share_outside_0_to_100(make_spec, to):
    with pytest.raises(InvalidArgument, match=r"to=.* is invalid: a percentage between 0 and 100"):
        ramped(make_spec(), {"champ": 0.9, "b": 0.1}, to)


def test_ramp_refuses_an_unknown_challenger_and_lists_the_real_ones(make_spec):
    spec = make_spec(challengers=("b", "c"))
    with pytest.raises(InvalidArgument, match=r"challenger='champ' is invalid: .* \['b', 'c'\]"):
        ramped(spec, spec_allocation(spec), 10, challenger="champ")


def test_ramp_refuses_more_than_the_other_challengers_leave(make_spec):
    spec = make_spec(challengers=("b", "c"))
    with pytest.raises(
        InvalidArgument, match="other challengers hold 60%, so b can get at most 40%"
    ):
        ramped(spec, {"champ": 0.4, "b": 0.0, "c": 0.6}, 50)


def test_champion_only_and_spec_allocation_follow_variant_order(make_spec):
    spec = make_spec(challengers=("b", "c"))
    assert list(champion_only(spec).items()) == [("champ", 1.0), ("b", 0.0), ("c", 0.0)]
    assert list(spec_allocation(spec).items()) == [("champ", 0.9), ("b", 0.05), ("c", 0.05)]


def test_stage_is_the_index_of_the_matching_rollout_percentage(make_spec):
    spec = make_spec(stages=[10, 25, 50, 100])
    assert [stage_for(spec, s) for s in (0.1, 0.25, 0.5, 1.0)] == [0, 1, 2, 3]
    assert stage_for(spec, 0.3) is None
    assert stage_for(make_spec(stages=None), 0.1) is None


@pytest.mark.parametrize(
    ("allocation", "message"),
    [
        ({"a": 0.5, "b": 0.4}, "shares sum to 0.9, not 1"),
        ({"a": 1.2, "b": -0.2}, r"shares \{'a': 1.2, 'b': -0.2\} are outside \[0, 1\]"),
    ],
)
def test_check_shares_refuses_bad_allocations(allocation, message):
    with pytest.raises(InvalidArgument, match=message):
        check_shares(allocation)


def test_layout_check_refuses_an_overflow_into_an_occupied_sector(make_spec):
    # Three challengers own thirds of the buckets; b at 50% spills 16.67% into the end of
    # c's third, where c already holds 20% from the start: the units would have to move.
    spec = make_spec(challengers=("b", "c", "d"))
    old = {"champ": 0.55, "b": 0.2, "c": 0.2, "d": 0.05}
    new, _ = ramped(spec, old, 50, challenger="b")
    with pytest.raises(InvalidArgument, match=r"lower c to 16\.66% or less first"):
        layout_check(spec, old, new)


def test_layout_check_accepts_what_the_layout_can_build(make_spec):
    spec = make_spec(challengers=("b", "c"))
    old = {"champ": 0.5, "b": 0.05, "c": 0.45}
    new, _ = ramped(spec, old, 55, challenger="b")  # spills into c's half, which has room
    layout_check(spec, old, new)
    assert no_layout_check(spec, old, {"x": 2.0}) is None
