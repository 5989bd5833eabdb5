"""The outcome names an experiment reads, against the analysis's own metric kinds."""

from champion.analysis.kinds import kind_of
from champion.spec import load_spec, parse_spec
from champion.spec.outcome_names import spec_outcome_names, unknown_metric_lines

SPEC = """
name: names
models: {a: {kind: python, target: "m:a"}, b: {kind: python, target: "m:b"}}
champion: a
challengers: [b]
allocation: {a: 0.5, b: 0.5}
metrics:
  primary: {name: converted, kind: proportion, covariate: converted_before}
  secondary:
    - {name: revenue, kind: mean}
    - {name: revenue_per_visit, kind: ratio, numerator: revenue, denominator: visits}
"""


def _oracle(spec):
    names = set()
    for metric in spec.metrics.all():
        y, d = kind_of(metric.kind).outcomes(metric)
        names.update(n for n in (y, d, metric.covariate) if n)
    return names


def test_the_names_are_those_the_metric_kinds_read():
    spec = parse_spec(SPEC)
    assert spec_outcome_names(spec) == _oracle(spec)
    assert spec_outcome_names(spec) == {"converted", "converted_before", "revenue", "visits"}
    example = load_spec("examples/fraud-detector.yaml")
    assert spec_outcome_names(example) == _oracle(example)


def test_unknown_names_get_their_rows_and_the_close_match():
    lines = unknown_metric_lines(["revenu", "revenu", "zzz", "visits"], {"revenue", "visits"},
                                 "registered experiment")  # fmt: skip
    assert lines == [
        "metric 'revenu' (2 rows) is read by no registered experiment; did you mean 'revenue'?",
        "metric 'zzz' (1 row) is read by no registered experiment",
    ]
    many = unknown_metric_lines([f"m{i}" for i in range(12)], {"x"}, "e")
    assert many[-1] == "and 2 more unknown metric names"
