"""HTTP upstreams: a real uvicorn server on 127.0.0.1 speaking OIP v2 and plain JSON."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.models._artefacts import FEATURES, Trained
from tests.models._upstream import free_port, make_app, serve

from champion.errors import InvalidFeatures, ModelLoadError, PredictionError
from champion.models import HttpAdapter, load_model
from champion.models.base import ModelAdapter


@pytest.fixture(scope="module")
def upstream(trained: Trained) -> Iterator[str]:
    def proba(X: np.ndarray) -> np.ndarray:
        return trained.model.predict_proba(pd.DataFrame(X, columns=FEATURES))[:, 1]

    with serve(make_app(proba, FEATURES)) as url:
        yield url


def _v2(url: str, model: str = "fraud", **options: Any) -> dict:
    return {"kind": "http", "target": url, "options": {"model": model, **options}}


def _json(url: str, path: str, **options: Any) -> dict:
    return {"kind": "http", "target": f"{url}{path}", "options": {"protocol": "json", **options}}


def _load(name: str, ref: dict) -> ModelAdapter:
    return load_model(name, ref, "/")


def test_v2_tensor_serves_the_positive_class_probability(upstream: str, trained: Trained) -> None:
    model = _load("fraud", _v2(upstream, features=FEATURES, output="probabilities"))
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained.closed_form(trained.X), rtol=0, atol=1e-12)
    model.close()


def test_v2_batch_equals_one_row_at_a_time(upstream: str, trained: Trained) -> None:
    model = _load("fraud", _v2(upstream, features=FEATURES, output="probabilities"))
    batch = model.predict_batch(trained.rows)
    np.testing.assert_allclose(batch, [model.predict(r) for r in trained.rows], atol=1e-14)
    model.close()


def test_v2_async_matches_sync(upstream: str, trained: Trained) -> None:
    model = _load("fraud", _v2(upstream, features=FEATURES, output="probabilities"))

    async def main() -> tuple[list[Any], Any]:
        try:
            return await model.apredict_batch(trained.rows), await model.apredict(trained.rows[0])
        finally:
            await model.aclose()

    batch, one = asyncio.run(main())
    np.testing.assert_allclose(batch, trained.closed_form(trained.X), atol=1e-12)
    assert one == pytest.approx(batch[0], abs=1e-14)


def test_v2_first_output_by_default(upstream: str, trained: Trained) -> None:
    model = _load("fraud", _v2(upstream, features=FEATURES))
    expected = (trained.closed_form(trained.X) > 0.5).astype(int).tolist()
    assert model.predict_batch(trained.rows) == expected
    model.close()


def test_v2_columns_layout_sends_one_input_per_feature(upstream: str, trained: Trained) -> None:
    model = _load("cols", _v2(upstream, "fraud-cols"))
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained.closed_form(trained.X), atol=1e-12)
    model.close()


def test_json_reads_the_configured_field(upstream: str, trained: Trained) -> None:
    model = _load("j", _json(upstream, "/json/score", field="score"))
    got = model.predict_batch(trained.rows)
    np.testing.assert_allclose(got, trained.closed_form(trained.X), atol=1e-12)
    assert model.predict(trained.rows[0]) == pytest.approx(got[0], abs=1e-14)
    model.close()


def test_json_without_a_field_serves_the_whole_body(upstream: str, trained: Trained) -> None:
    model = _load("j", _json(upstream, "/json/score"))
    answer = model.predict(trained.rows[0])
    assert set(answer) == {"score", "label"}
    model.close()


def test_json_batch_reads_a_list_inside_the_body(upstream: str, trained: Trained) -> None:
    model = _load("j", _json(upstream, "/json/wrapped", field="result.predictions"))
    got = model.predict_batch(trained.rows)
    np.testing.assert_allclose(got, trained.closed_form(trained.X), atol=1e-12)
    model.close()


def test_json_without_batching_posts_each_row(upstream: str, trained: Trained) -> None:
    model = _load("j", _json(upstream, "/json/score", field="score", batch=False))

    async def main() -> list[Any]:
        try:
            return await model.apredict_batch(trained.rows[:4])
        finally:
            await model.aclose()

    got = asyncio.run(main())
    np.testing.assert_allclose(got, trained.closed_form(trained.X[:4]), atol=1e-12)


def test_headers_read_variables_from_the_environment(
    upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUD_TOKEN", "s3cret")
    headers = {"Authorization": "Bearer ${FRAUD_TOKEN}"}
    model = _load("j", _json(upstream, "/json/echo-auth", field="auth", headers=headers))
    assert model.predict({}) == "Bearer s3cret"
    model.close()


def test_an_unset_header_variable_fails_at_load(
    upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUD_TOKEN", raising=False)
    with pytest.raises(
        ModelLoadError,
        match=r"options.headers.Authorization refers to \$\{FRAUD_TOKEN\}, which is not set",
    ):
        _load("j", _json(upstream, "/json/echo-auth", headers={"Authorization": "${FRAUD_TOKEN}"}))


def test_a_non_2xx_answer_names_the_model_the_url_and_the_status(upstream: str) -> None:
    model = _load("b", _v2(upstream, "broken"))
    with pytest.raises(
        PredictionError,
        match=r"model 'b' failed to predict: http://127.0.0.1:\d+/v2/models/broken/infer "
        r"answered HTTP 500: '\{\"error\":\"model crashed\"\}'",
    ):
        model.predict({"amount": 1.0})
    model.close()


def test_a_slow_upstream_times_out_with_the_limit_named(upstream: str) -> None:
    model = _load("s", _json(upstream, "/json/slow", timeout=0.1))
    with pytest.raises(PredictionError, match=r"/json/slow did not answer within 0.1 s"):
        model.predict({})

    async def main() -> None:
        try:
            await model.apredict({})
        finally:
            await model.aclose()

    with pytest.raises(PredictionError, match=r"did not answer within 0.1 s \(options.timeout\)"):
        asyncio.run(main())


def test_a_body_that_is_not_json_is_reported(upstream: str) -> None:
    model = _load("h", _json(upstream, "/json/not-json"))
    with pytest.raises(
        PredictionError, match=r"answered with a body that is not JSON: '<html>gateway error"
    ):
        model.predict({})
    model.close()


def test_an_output_whose_shape_disagrees_with_its_data_is_malformed(upstream: str) -> None:
    model = _load("m", _v2(upstream, "bad-shape"))
    with pytest.raises(
        PredictionError,
        match=r"malformed response from .*: output 'score' has shape \[2\] but 3 values",
    ):
        model.predict({"amount": 1.0})
    model.close()


def test_a_missing_output_fails_the_check_call_at_load(upstream: str) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'f' failed to load: the check call on a zero row of the features failed: "
        r"malformed response from .*: no output 'proba' \(outputs: none\); check options.output",
    ):
        _load("f", _v2(upstream, features=FEATURES, output="proba"))


def test_a_missing_feature_is_invalid_features(upstream: str) -> None:
    model = _load("f", _v2(upstream, features=FEATURES))
    with pytest.raises(InvalidFeatures, match=r"missing feature\(s\) foreign"):
        model.predict({"amount": 1.0, "new_device": 0.0})
    model.close()


def test_an_unknown_upstream_model_fails_the_ready_check_at_load(upstream: str) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'x' failed to load: http://127.0.0.1:\d+/v2/models/nope/ready answered "
        r"HTTP 404 .*not ready; check the URL and options.model",
    ):
        _load("x", _v2(upstream, "nope"))


def test_connection_refused_fails_at_load() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(
        ModelLoadError,
        match=rf"model 'x' failed to load: cannot connect to {url}/v2/models/x/ready",
    ):
        _load("x", {"kind": "http", "target": url})


def test_connection_refused_at_request_time_is_a_prediction_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/score"
    model = _load("j", {"kind": "http", "target": url, "options": {"protocol": "json"}})
    with pytest.raises(
        PredictionError, match=rf"model 'j' failed to predict: cannot connect to {url}"
    ):
        model.predict({})
    model.close()


def test_the_check_call_at_load_reports_an_upstream_error(upstream: str) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'b' failed to load: the check call on options.example failed: "
        r"http://.*/broken/infer answered HTTP 500",
    ):
        _load("b", _v2(upstream, "broken", example={"amount": 1.0}))


def test_a_target_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(
        ModelLoadError, match=r"target 'localhost:8080' is not an http:// or https:// URL"
    ):
        _load("x", {"kind": "http", "target": "localhost:8080"})


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(
        ModelLoadError, match=r"httpx cannot be imported .*pip install 'champion\[http\]'"
    ):
        HttpAdapter("x", "http://127.0.0.1:9").load()
