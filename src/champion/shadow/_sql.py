"""SQL text of the shadow comparison (DuckDB dialect), kept apart from the code that runs it.

Tables and views the statements expect: ``exposures_x`` and ``shadow_x`` (one experiment's
events), then ``served`` and ``pairs`` built by :data:`SERVED_TABLE` and :data:`PAIRS_TABLE`.
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "DECILES",
    "DECISION_MACROS",
    "PAIRS_TABLE",
    "SERVED_DUPLICATES",
    "SERVED_IN_RANGE",
    "SERVED_SUMMARY",
    "SERVED_TABLE",
    "SERVED_TABLE_PLAIN",
    "SHADOW_SUMMARY",
    "TIMEOUT_PATTERNS",
    "literal",
]

DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

#: A shadow error whose text holds one of these (any case) counts as a timeout; the last is
#: the HTTP adapter's wording ("... did not answer within 0.2 s").
TIMEOUT_PATTERNS = ("timeout", "timed out", "did not answer within")


# -- decisions: what "the two models agree" means, per side ------------------------------
# kind 'label': the JSON value of a label (string, integer, bool) or of a "label"/"class" key;
# kind 'argmax': the index of the largest of >= 3 numbers (class probabilities);
# kind 'score': score >= 0.5, for a score in [0, 1] (a float, [P(neg), P(pos)], a mapping).
# Pairs agree when both sides have a decision of the same kind with the same value.
DECISION_MACROS = (
    "CREATE OR REPLACE TEMP MACRO shadow_vector(p) AS TRY_CAST(json(p) AS DOUBLE[])",
    # the JSON type of a prediction, 'TEXT' when it is not JSON, NULL when there is none
    """CREATE OR REPLACE TEMP MACRO shadow_type(p) AS
       CASE WHEN json_valid(p) THEN json_type(p) WHEN p IS NOT NULL THEN 'TEXT' END""",
    """CREATE OR REPLACE TEMP MACRO shadow_threshold(s) AS
       CASE WHEN s BETWEEN 0 AND 1
            THEN {'kind': 'score', 'value': CASE WHEN s >= 0.5 THEN '1' ELSE '0' END} END""",
    # p: prediction text, s: score, t: shadow_type(p), computed once per row
    """CREATE OR REPLACE TEMP MACRO shadow_decision(p, s, t) AS CASE
       WHEN t IS NULL OR t IN ('DOUBLE', 'NULL') THEN shadow_threshold(s)
       WHEN t = 'TEXT' THEN {'kind': 'label', 'value': to_json(p)::VARCHAR}
       WHEN t = 'ARRAY' AND len(shadow_vector(p)) >= 3
            AND list_count(shadow_vector(p)) = len(shadow_vector(p))
            THEN {'kind': 'argmax', 'value': CAST(
                list_position(shadow_vector(p), list_max(shadow_vector(p))) - 1 AS VARCHAR)}
       WHEN t = 'OBJECT' AND json_exists(p, '$.label')
            THEN {'kind': 'label', 'value': json(json_extract(p, '$.label'))::VARCHAR}
       WHEN t = 'OBJECT' AND json_exists(p, '$.class')
            THEN {'kind': 'label', 'value': json(json_extract(p, '$.class'))::VARCHAR}
       WHEN t IN ('OBJECT', 'ARRAY') THEN shadow_threshold(s)
       ELSE {'kind': 'label', 'value': json(p)::VARCHAR}
    END""",
)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _timeout_sql(column: str) -> str:
    return " OR ".join(f"lower({column}) LIKE {literal('%' + p + '%')}" for p in TIMEOUT_PATTERNS)


# A request_id logged twice (a retry) keeps its first exposure; the plain copy is for the
# usual log without duplicates, where it costs a fifth of the deduplication.
SERVED_DUPLICATES = "SELECT count(request_id) - count(DISTINCT request_id) FROM exposures_x"
SERVED_TABLE_PLAIN = """
CREATE TEMP TABLE served AS
SELECT request_id, ts, prediction, score, latency_ms, error
FROM exposures_x WHERE request_id IS NOT NULL
"""
SERVED_TABLE = """
CREATE TEMP TABLE served AS
SELECT request_id, UNNEST(first) FROM (
    SELECT request_id,
           arg_min({'ts': ts, 'prediction': prediction, 'score': score,
                    'latency_ms': latency_ms, 'error': error}, ts) AS first
    FROM exposures_x WHERE request_id IS NOT NULL GROUP BY request_id)
"""

PAIRS_TABLE = """
CREATE TEMP TABLE pairs AS
WITH joined AS (
    SELECT s.model, s.ts, s.request_id, e.request_id IS NOT NULL AS matched, e.ts AS e_ts,
           s.prediction AS s_pred, s.score AS s_score, s.latency_ms AS s_lat, s.error AS s_error,
           e.prediction AS e_pred, e.score AS e_score, e.latency_ms AS e_lat, e.error AS e_error
    FROM shadow_x s LEFT JOIN served e ON s.request_id = e.request_id
), flagged AS (
    SELECT *, s_error IS NOT NULL AS s_err, matched AND e_error IS NOT NULL AS e_err,
           matched AND s_error IS NULL AND e_error IS NULL AS answered
    FROM joined
), typed AS (
    SELECT *, CASE WHEN answered THEN shadow_type(s_pred) END AS s_type,
           CASE WHEN answered THEN shadow_type(e_pred) END AS e_type
    FROM flagged
)
SELECT model, ts, request_id, matched, e_ts, s_lat, e_lat, s_err, e_err, answered,
       coalesce(s_err AND ({timeouts}), false) AS s_timeout,
       CASE WHEN answered THEN s_score END AS s_score,
       CASE WHEN answered THEN e_score END AS e_score,
       CASE WHEN answered THEN abs(s_score - e_score) END AS diff,
       CASE WHEN answered THEN shadow_decision(s_pred, s_score, s_type) END AS s_dec,
       CASE WHEN answered THEN shadow_decision(e_pred, e_score, e_type) END AS e_dec
FROM typed
""".format(timeouts=_timeout_sql("s_error"))

SERVED_SUMMARY = """
SELECT count(*), count(request_id), (SELECT count(*) FROM served),
       count(*) FILTER (WHERE error IS NOT NULL),
       count(latency_ms), avg(latency_ms), quantile_cont(latency_ms, [0.5, 0.95, 0.99]),
       max(latency_ms), epoch_us(min(ts)), epoch_us(max(ts))
FROM exposures_x
"""

_LATENCY_QUANTILES = "[0.5, 0.95, 0.99]"
SHADOW_SUMMARY = f"""
WITH compared AS (
    SELECT *, coalesce(s_dec.kind = e_dec.kind, false) AS comparable FROM pairs
)
SELECT model, count(*), count(*) FILTER (WHERE matched), count(*) FILTER (WHERE request_id IS NULL),
       count(DISTINCT request_id) FILTER (WHERE matched),
       epoch_us(min(ts)), epoch_us(max(ts)), epoch_us(min(e_ts)), epoch_us(max(e_ts)),
       count(*) FILTER (WHERE s_err), count(*) FILTER (WHERE s_timeout),
       count(*) FILTER (WHERE matched AND s_err), count(*) FILTER (WHERE e_err),
       count(*) FILTER (WHERE s_err AND e_err),
       count(*) FILTER (WHERE answered), count(*) FILTER (WHERE comparable),
       count(*) FILTER (WHERE comparable AND s_dec.value = e_dec.value),
       count(diff), avg(diff), quantile_cont(diff, [0.5, 0.9, 0.99]), max(diff),
       count(*) FILTER (WHERE diff > $threshold),
       quantile_cont(e_score, {list(DECILES)}) FILTER (WHERE diff IS NOT NULL),
       least(min(s_score), min(e_score)), greatest(max(s_score), max(e_score)),
       count(s_lat), avg(s_lat), quantile_cont(s_lat, {_LATENCY_QUANTILES}), max(s_lat),
       count(e_lat), avg(e_lat), quantile_cont(e_lat, {_LATENCY_QUANTILES}), max(e_lat)
FROM compared GROUP BY model ORDER BY model
"""

# Served requests inside the span of the requests each shadow model answered.
SERVED_IN_RANGE = """
WITH span AS (
    SELECT model, min(e_ts) AS lo, max(e_ts) AS hi FROM pairs WHERE matched GROUP BY model
)
SELECT span.model, count(*) FROM served JOIN span ON served.ts BETWEEN span.lo AND span.hi
GROUP BY span.model
"""

# What each histogram column counts: scores and |diff| on answered pairs with both scores,
# shadow latency on every call, served latency on the matched requests.
COLUMNS = {
    "s_score": "diff IS NOT NULL",
    "e_score": "diff IS NOT NULL",
    "diff": "diff IS NOT NULL",
    "s_lat": "s_lat IS NOT NULL",
    "e_lat": "e_lat IS NOT NULL",
}
