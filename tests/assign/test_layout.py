"""The bucket layout: hand-worked layouts, refusals, and ramp properties under random histories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.assign.layout import build_layout, sector_bounds, share_to_buckets

NAMES = ["a", "b", "c", "d"]


def owners(layout) -> np.ndarray:
    return np.frombuffer(layout.table, dtype=np.uint8)


def layout_of(*shares: float):
    names = NAMES[: len(shares)]
    return build_layout("champ", names, dict(zip(names, shares, strict=True)))


@pytest.mark.parametrize(
    ("share", "buckets"),
    [
        (0, 0),
        (1, 10_000),
        (0.05, 500),
        (0.0285, 285),  # 0.0285 * 10000 is 284.99999999999997 in binary floating point
        (0.00005, 1),  # half a bucket rounds up
        (0.00004999, 0),
        (1 / 3, 3333),
        (0.12345, 1235),
    ],
)
def test_share_rounds_half_up_on_its_decimal_text(share, buckets):
    assert share_to_buckets(share) == buckets


def test_sector_bounds_are_floors_of_equal_cuts():
    assert sector_bounds(1) == [0, 10_000]
    assert sector_bounds(3) == [0, 3333, 6666, 10_000]
    assert sector_bounds(4) == [0, 2500, 5000, 7500, 10_000]


def test_one_challenger_grows_from_zero():
    layout = build_layout("champ", ["a"], {"champ": 0.95, "a": 0.05})
    assert layout.ranges == ((0, 500, "a"), (500, 10_000, "champ"))
    assert layout.probabilities == (0.95, 0.05)


def test_two_challengers_a_overflows_down_from_the_top():
    # Worked by hand: A owns [0, 5000) and overflows 1000 into [9000, 10000);
    # B owns [5000, 8000); the champion keeps the 1000 buckets in between.
    layout = build_layout("champ", ["a", "b"], {"champ": 0.1, "a": 0.6, "b": 0.3})
    assert layout.ranges == (
        (0, 5000, "a"),
        (5000, 8000, "b"),
        (8000, 9000, "champ"),
        (9000, 10_000, "a"),
    )


def test_overflow_fills_next_sectors_completely_in_cyclic_order():
    # C owns the third sector [6666, 10000) and needs 6668 buckets: its overflow of 3334
    # fills A's sector (next, cyclically) whole, then the top bucket of B's sector.
    layout = layout_of(0.0, 0.0, 0.6668)
    assert layout.ranges == ((0, 3333, "c"), (3333, 6665, "champ"), (6665, 10_000, "c"))


def test_champion_absorbs_rounding():
    layout = build_layout("champ", ["a", "b"], {"champ": 0.33333, "a": 0.33333, "b": 0.33334})
    assert layout.counts == (3334, 3333, 3333)


def test_winner_reaches_everything_once_the_others_stop():
    layout = layout_of(0.0, 1.0, 0.0)
    assert layout.ranges == ((0, 10_000, "b"),)
    assert layout.counts == (0, 0, 10_000, 0)


def test_collision_names_both_challengers_and_what_to_lower():
    with pytest.raises(
        ValueError,
        match=(
            r"cannot give a 50.00%: beyond its own sector \(33.33%\) it fills the sector of b "
            r"\(33.33%\) from the end with 16.67%, but b holds 30.00% there; lower b to 16.66% "
            r"or less first, or give a at most 36.66%"
        ),
    ):
        layout_of(0.5, 0.3, 0.2)


def test_two_overflows_are_refused():
    with pytest.raises(
        ValueError,
        match=r"a \(40.00%\) and b \(40.00%\) each exceed their own sector.*lower b to 33.33%",
    ):
        layout_of(0.4, 0.4, 0.0)


def test_suggested_fixes_are_valid():
    # The message's two ways out (lower the owner, or cap the overflowing one) both work.
    layout_of(0.5, 0.1666, 0.2)
    layout_of(0.3666, 0.3, 0.2)
    with pytest.raises(ValueError, match="cannot give a"):
        layout_of(0.3667, 0.3, 0.2)


@pytest.mark.parametrize(
    ("allocation", "message"),
    [
        ({"a": 0.5}, r"gives no share to \['b'\]"),
        ({"a": 0.5, "b": 0.1, "z": 0.1}, r"names \['z'\], not variants"),
        ({"champ": 0.5, "a": 0.3, "b": 0.1}, "shares sum to 0.9, not 1"),
        ({"a": 0.7, "b": 0.4}, "challenger shares sum to 1.1, more than 1"),
        ({"a": -0.1, "b": 0.1}, r"allocation\['a'\]=-0.1 is invalid: must lie in \[0, 1\]"),
        ({"a": True, "b": 0.1}, r"allocation\['a'\]=True is invalid: must be a number"),
        ({"a": 0.50005, "b": 0.49995}, "round to 10001 of 10000 buckets"),
    ],
)
def test_bad_allocations_name_the_problem(allocation, message):
    with pytest.raises(ValueError, match=message):
        build_layout("champ", ["a", "b"], allocation)


@pytest.mark.parametrize(
    ("champion", "challengers", "message"),
    [
        ("", ["a"], "champion='' is invalid"),
        ("champ", "a", "challengers='a' is invalid: must be a list"),
        ("champ", [], "must list at least one"),
        ("champ", ["a", "a"], "each variant appears once"),
        ("champ", ["champ"], "each variant appears once"),
    ],
)
def test_bad_variants_are_refused(champion, challengers, message):
    with pytest.raises(ValueError, match=message):
        build_layout(champion, challengers, {})


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_every_two_challenger_split_is_reachable(data):
    a = data.draw(st.integers(0, 10_000))
    b = data.draw(st.integers(0, 10_000 - a))
    layout = layout_of(a / 10_000, b / 10_000)
    assert layout.counts == (10_000 - a - b, a, b)


# --- ramps: random histories of allocations --------------------------------------------------

shares = st.integers(0, 10_000).map(lambda n: n / 10_000) | st.sampled_from([0.0, 1.0, 0.5])


@st.composite
def histories(draw):
    k = draw(st.integers(1, 4))
    steps = draw(
        st.lists(
            st.tuples(
                st.sets(st.integers(0, k - 1), min_size=1, max_size=k),  # who changes
                st.lists(shares, min_size=k, max_size=k),  # their new shares
                st.sampled_from(["any", "up", "down"]),  # direction of a joint change
            ),
            min_size=1,
            max_size=25,
        )
    )
    return k, steps


def valid_layout(k: int, current: list[float]):
    try:
        return layout_of(*current)
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(histories())
def test_ramps_move_units_only_through_the_champion(history):
    k, steps = history
    current = [0.0] * k
    before = owners(layout_of(*current))
    for who, targets, direction in steps:
        proposal = list(current)
        for i in who:
            if direction == "up":
                proposal[i] = max(current[i], targets[i])
            elif direction == "down":
                proposal[i] = min(current[i], targets[i])
            else:
                proposal[i] = targets[i]
        layout = valid_layout(k, proposal)
        if layout is None:
            continue  # the layout refused this transition; the history goes on without it
        after = owners(layout)
        lowered = {i + 1 for i in range(k) if proposal[i] < current[i]}
        raised = {i + 1 for i in range(k) if proposal[i] > current[i]}
        moved = before != after
        # A challenger that is not lowered keeps every unit it had.
        for x in range(1, k + 1):
            if x not in lowered:
                assert (after[before == x] == x).all()
        # Lowering moves units only from the lowered challenger to the champion ...
        if not raised:
            assert (after[moved] == 0).all()
            assert np.isin(before[moved], list(lowered)).all()
        # ... raising moves them only from the champion to the raised challenger, so a
        # change in one direction never passes a unit from one challenger to another.
        if not lowered:
            assert (before[moved] == 0).all()
            assert np.isin(after[moved], list(raised)).all()
        # The realised bucket counts are the configured shares, exactly.
        counts = np.bincount(after, minlength=k + 1)
        assert counts[1:].tolist() == [share_to_buckets(s) for s in proposal]
        assert counts.tolist() == list(layout.counts)
        current, before = proposal, after


@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 4), data=st.data())
def test_a_challengers_buckets_depend_only_on_its_own_share(k, data):
    # The heart of the design: if two valid allocations give X the same share, X holds
    # exactly the same buckets in both, whatever the others do.
    x = data.draw(st.integers(0, k - 1))
    first = data.draw(st.lists(shares, min_size=k, max_size=k))
    second = data.draw(st.lists(shares, min_size=k, max_size=k))
    second[x] = first[x]
    one, two = valid_layout(k, first), valid_layout(k, second)
    if one is None or two is None:
        return
    assert ((owners(one) == x + 1) == (owners(two) == x + 1)).all()
