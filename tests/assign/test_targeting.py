"""Targeting conditions: each operator's truth table, missing attributes, and bad specs."""

from __future__ import annotations

import pytest

from champion.assign.targeting import Targeting
from champion.spec.models import Condition


def matches(op, value, attributes, attribute="x"):
    return Targeting([{"attribute": attribute, "op": op, "value": value}]).matches(attributes)


@pytest.mark.parametrize(
    ("op", "value", "present", "expected"),
    [
        ("eq", "DE", "DE", True),
        ("eq", "DE", "FR", False),
        ("eq", 1, "1", False),  # no coercion between str and number
        ("ne", "DE", "FR", True),
        ("ne", "DE", "DE", False),
        ("in", ["DE", "FR"], "FR", True),
        ("in", ["DE", "FR"], "IT", False),
        ("not_in", ["DE", "FR"], "IT", True),
        ("not_in", ["DE", "FR"], "DE", False),
        ("gt", 18, 19, True),
        ("gt", 18, 18, False),
        ("gte", 18, 18, True),
        ("lt", 18, 17.5, True),
        ("lt", 18, 18, False),
        ("lte", 18, 18, True),
        ("gte", "2024-01-01", "2024-06-30", True),  # ISO dates order as strings
        ("gt", 18, "19", False),  # str against number does not order: the condition fails
        ("in", ["DE"], ["DE"], False),  # an unhashable attribute is not a member
        ("exists", None, "anything", True),
        ("exists", True, 0, True),
        ("exists", False, "anything", False),
    ],
)
def test_operator_on_a_present_attribute(op, value, present, expected):
    assert matches(op, value, {"x": present}) is expected


@pytest.mark.parametrize("op", ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("attributes", [None, {}, {"x": None}, {"other": 1}])
def test_missing_attribute_fails_every_operator_but_exists(op, attributes):
    value = ["DE"] if op in ("in", "not_in") else 1
    assert matches(op, value, attributes) is False


@pytest.mark.parametrize("attributes", [None, {}, {"x": None}])
def test_exists_false_holds_only_when_absent(attributes):
    assert matches("exists", False, attributes) is True
    assert matches("exists", True, attributes) is False


def test_all_conditions_must_hold():
    t = Targeting(
        [
            Condition(attribute="country", op="in", value=["DE", "AT"]),
            Condition(attribute="tier", op="ne", value="internal"),
        ]
    )
    assert t.matches({"country": "AT", "tier": "gold"})
    assert not t.matches({"country": "AT", "tier": "internal"})
    assert not t.matches({"country": "US", "tier": "gold"})


def test_no_conditions_is_falsy_and_matches_everyone():
    t = Targeting([])
    assert not t
    assert t.matches(None)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"attribute": "x", "op": "in", "value": "DE"},
            r"targeting\[0\]\.value='DE'.*needs a list",
        ),
        ({"attribute": "x", "op": "gt", "value": [1]}, r"op 'gt' needs a number or a str"),
        ({"attribute": "x", "op": "lt", "value": True}, r"op 'lt' needs a number or a str"),
        (
            {"attribute": "x", "op": "eq"},
            r"op 'eq' needs a value; to test presence use op 'exists'",
        ),
        ({"attribute": "x", "op": "exists", "value": "yes"}, r"takes true, false or nothing"),
        ({"attribute": "x", "op": "like", "value": "a%"}, r"targeting\[0\]=.*op"),
    ],
)
def test_bad_conditions_name_the_field_and_the_fix(condition, message):
    with pytest.raises(ValueError, match=message):
        Targeting([condition])


def test_targeting_must_be_a_list():
    with pytest.raises(ValueError, match=r"targeting=.* must be a list of conditions"):
        Targeting({"attribute": "x", "op": "eq", "value": 1})
