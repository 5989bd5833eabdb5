"""Event schemas: checks at construction, UTC days, and a round trip through Parquet and DuckDB."""

import doctest
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

import champion.events.prediction as prediction_module
import champion.events.signals as signals_module
import champion.events.store as store_module
from champion.events import EXPOSURE_SCHEMA, OUTCOME_SCHEMA, SHADOW_SCHEMA, ParquetSink
from champion.events.prediction import encode_prediction
from champion.events.schema import file_schema
from tests.events._helpers import make_exposure, make_outcome, make_shadow, rows

AT = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_schemas_have_exactly_the_fields_the_analysis_reads():
    assert EXPOSURE_SCHEMA.names == [
        "ts", "experiment", "unit_id", "variant", "model", "request_id", "latency_ms", "error",
        "prediction", "score", "attributes", "allocation_version", "probability", "exposed",
        "date",
    ]  # fmt: skip
    assert SHADOW_SCHEMA.names == [
        "ts", "experiment", "request_id", "unit_id", "model", "prediction", "score",
        "latency_ms", "error", "divergence", "served_score", "date",
    ]  # fmt: skip
    assert OUTCOME_SCHEMA.names == ["ts", "unit_id", "metric", "value", "date"]
    assert str(EXPOSURE_SCHEMA.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(EXPOSURE_SCHEMA.field("attributes").type) == "map<string, string>"


def test_partition_columns_live_in_folder_names_not_in_files():
    assert "experiment" not in file_schema("exposures").names
    assert "date" not in file_schema("exposures").names
    assert file_schema("outcomes").names == ["ts", "unit_id", "metric", "value"]


def test_timestamps_are_converted_to_utc_and_the_day_is_the_utc_day():
    evening_in_brazil = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-3)))
    event = make_exposure(ts=evening_in_brazil)
    assert event.ts == datetime(2024, 5, 2, 2, 30, tzinfo=UTC)
    assert event.ts.tzinfo is UTC
    assert event.date.isoformat() == "2024-05-02"


def test_naive_timestamps_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"Exposure\.ts=.* must be timezone-aware; use datetime"):
        make_exposure(ts=datetime(2024, 5, 1, 12))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unit_id", "", r"Exposure\.unit_id='' is invalid: must be a non-empty string"),
        ("probability", 0.0, r"Exposure\.probability=0\.0 is invalid: must be in \(0, 1\]"),
        ("probability", 1.5, r"must be in \(0, 1\]"),
        ("experiment", "../etc", r"Exposure\.experiment='\.\./etc' is invalid: must be an exp"),
        ("attributes", {"country": 1}, r"Exposure\.attributes=.* must map strings to strings"),
        ("score", float("nan"), r"Exposure\.score=nan is invalid: must be a finite number"),
        ("allocation_version", -1, r"Exposure\.allocation_version=-1 .* int >= 0"),
        ("exposed", 1, r"Exposure\.exposed=1 is invalid: must be True or False"),
        ("prediction", {"p": 1}, r"Exposure\.prediction=.* must be a string or None"),
    ],
)
def test_a_bad_field_is_refused_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        make_exposure(**{field: value})


def test_outcome_metric_must_be_a_spec_name():
    with pytest.raises(ValueError, match=r"Outcome\.metric='Conversion Rate' .* metric name"):
        make_outcome(metric="Conversion Rate")


def test_integer_ids_are_stored_as_text_so_joins_match():
    assert make_exposure(unit_id=42).unit_id == "42"
    assert make_outcome(unit_id=42, value=3).value == 3.0


def test_numpy_scalars_are_accepted_as_numbers():
    assert make_exposure(score=np.float32(0.5), latency_ms=np.int64(3)).latency_ms == 3.0


def test_lone_surrogates_from_json_requests_are_replaced_not_fatal():
    event = make_exposure(unit_id="u\ud800", attributes={"device": "\udcff"})
    assert event.unit_id == "u?"
    assert event.attributes == {"device": "?"}
    assert event.unit_id.encode()  # valid UTF-8 now


def test_shadow_divergence_is_the_absolute_score_difference():
    assert make_shadow(score=0.4, served_score=0.75).divergence == pytest.approx(0.35)
    assert make_shadow(score=None).divergence is None


def test_prediction_encoding_finds_the_score():
    assert encode_prediction(0.7) == ("0.7", 0.7)
    assert encode_prediction(True) == ("true", 1.0)
    assert encode_prediction(np.array([0.1, 0.9])) == ("[0.1,0.9]", 0.9)
    assert encode_prediction({"label": "fraud", "proba": 0.8}) == (
        '{"label":"fraud","proba":0.8}', 0.8,
    )  # fmt: skip
    assert encode_prediction({"probabilities": [0.3, 0.7]})[1] == 0.7
    assert encode_prediction("cat") == ('"cat"', None)
    assert encode_prediction([1, 2, 3])[1] is None


def test_prediction_that_is_not_json_is_refused():
    with pytest.raises(ValueError, match=r"prediction=.* cannot be written as JSON"):
        encode_prediction({"p": float("nan")})


def test_every_field_survives_parquet_and_duckdb(tmp_path):
    exposure = make_exposure(7, ts=AT, error=None, attributes={"country": "DE", "tier": "gold"})
    failed = make_exposure(
        8, ts=AT, error="timeout", prediction=None, score=None, latency_ms=None,
        request_id=None, exposed=False, attributes={},
    )  # fmt: skip
    shadow = make_shadow(7, ts=AT)
    outcome = make_outcome(7, ts=AT, metric="revenue", value=12.5)
    ParquetSink(tmp_path).write([exposure, failed, shadow, outcome], "b1")

    got = rows(
        tmp_path, "exposures",
        "SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%f%z'), * EXCLUDE (ts), attributes['country'] "
        "FROM events ORDER BY unit_id",
    )  # fmt: skip
    assert got[0] == (
        "2024-05-01T12:30:15.123456+00", "fraud-v2", "u7", "challenger", "fraud@2", "r7", 1.5,
        None, '{"label":"ok","probability":0.25}', 0.25, {"country": "DE", "tier": "gold"}, 3,
        0.5, True, AT.date(), "DE",
    )  # fmt: skip
    assert got[1][1:] == (
        "fraud-v2", "u8", "champion", "fraud@1", None, None, "timeout", None, None, {}, 3, 0.5,
        False, AT.date(), None,
    )  # fmt: skip
    assert rows(tmp_path, "shadow", "SELECT * EXCLUDE (ts) FROM events") == [
        ("fraud-v2", "r7", "u7", "fraud@3", "0.4", 0.4, 3.0, None, pytest.approx(0.15), 0.25,
         AT.date()),
    ]  # fmt: skip
    assert rows(tmp_path, "outcomes", "SELECT epoch_us(ts), * EXCLUDE (ts) FROM events") == [
        (1714566615123456, "u7", "revenue", 12.5, AT.date())
    ]


def test_timestamps_read_back_as_utc_instants(tmp_path):
    ParquetSink(tmp_path).write([make_outcome(ts=AT)], "b1")
    ((kind, zone_free),) = rows(
        tmp_path, "outcomes", "SELECT typeof(ts), strftime(ts AT TIME ZONE 'UTC', '%H:%M') "
        "FROM events"
    )  # fmt: skip
    assert kind == "TIMESTAMP WITH TIME ZONE"
    assert zone_free == "12:30"


@pytest.mark.parametrize("module", [prediction_module, signals_module, store_module])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
