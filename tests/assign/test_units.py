"""Picking the id to hash from a request by the experiment's unit."""

from __future__ import annotations

import pytest

from champion.assign.units import pick_unit_id

IDS = {"user_id": "u1", "session_id": "s1", "request_id": "r1"}


@pytest.mark.parametrize(
    ("unit", "expected"), [("user", "u1"), ("session", "s1"), ("request", "r1")]
)
def test_unit_picks_its_own_id(unit, expected):
    assert pick_unit_id(unit, **IDS) == expected


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_id_names_the_field_and_the_fix(missing):
    with pytest.raises(
        ValueError,
        match=r"user_id=.* the experiment randomises by user: send the request's user_id",
    ):
        pick_unit_id("user", user_id=missing, session_id="s1")


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match=r"unit='device' is invalid: must be one of"):
        pick_unit_id("device", user_id="u1")


def test_non_str_id_is_refused():
    with pytest.raises(ValueError, match=r"session_id=7 is invalid: must be a str"):
        pick_unit_id("session", session_id=7)
