"""Journal records: any event survives encode/decode; damaged lines are skipped and counted."""

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from champion.events import Exposure, Outcome, Shadow
from champion.events._codec import decode, encode, read_records
from tests.events._helpers import make_exposure, make_outcome

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
texts = st.text(min_size=1, max_size=30)
maybe_texts = st.none() | st.text(max_size=30)
numbers = st.floats(allow_nan=False, allow_infinity=False)
maybe_numbers = st.none() | numbers
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)

exposures = st.builds(
    Exposure,
    experiment=names, unit_id=texts, variant=texts, model=texts,
    allocation_version=st.integers(0, 2**31 - 1),
    probability=st.floats(min_value=1e-9, max_value=1.0),
    request_id=maybe_texts, latency_ms=maybe_numbers, error=maybe_texts,
    prediction=maybe_texts, score=maybe_numbers,
    attributes=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4),
    exposed=st.booleans(), ts=times,
)  # fmt: skip
shadows = st.builds(
    Shadow,
    experiment=names, unit_id=texts, model=texts, request_id=maybe_texts,
    prediction=maybe_texts, score=maybe_numbers, latency_ms=maybe_numbers, error=maybe_texts,
    served_score=maybe_numbers, ts=times,
)  # fmt: skip
outcomes = st.builds(Outcome, unit_id=texts, metric=names, value=numbers, ts=times)


@settings(max_examples=300, deadline=None)
@given(st.one_of(exposures, shadows, outcomes))
def test_any_event_round_trips_through_a_record(event):
    line = encode(event)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # one event, one line, whatever its strings hold
    assert decode(line[:-1]) == event


def test_a_torn_tail_is_skipped_and_counted():
    events = [make_exposure(i) for i in range(3)]
    data = b"".join(encode(e) for e in events)
    torn = data + encode(make_outcome())[:25]
    assert read_records(torn) == (events, 1)


def test_a_corrupted_line_is_skipped_and_the_rest_kept():
    first, second, third = (encode(make_outcome(i)) for i in range(3))
    flipped = second.replace(b"u1", b"u9")  # same length, wrong checksum
    got, damaged = read_records(first + flipped + third)
    assert [o.unit_id for o in got] == ["u0", "u2"]
    assert damaged == 1
