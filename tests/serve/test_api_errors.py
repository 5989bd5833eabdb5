"""The one table: each category of champion.errors answers one HTTP status."""

import httpx
import pytest

from champion import errors as e
from champion.serve.errors import STATUS, status_of


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (e.InvalidArgument("to", 120, "0-100"), 422, "invalid_argument"),
        (e.SpecError("body", ["x"]), 422, "invalid_spec"),
        (e.InvalidFeatures("m", "missing feature 'amount'"), 422, "invalid_features"),
        (e.ModelNotAllowed("m", "models.m.target", "no"), 403, "model_not_allowed"),
        (e.ExperimentNotFound("x", []), 404, "experiment_not_found"),
        (e.ExperimentExists("x", "draft", 1), 409, "experiment_exists"),
        (e.StaleVersion("x", 1, 2), 409, "stale_version"),
        (e.InvalidTransition("x", "draft", "ramp", []), 409, "invalid_transition"),
        (e.RegistryUnavailable("sqlite://", "locked", "retry"), 503, "registry_unavailable"),
        (e.ExperimentUnavailable("x", "model failed"), 503, "experiment_unavailable"),
        (e.JournalUnavailable("/j", "disk full", "free space"), 503, "events_unavailable"),
        (e.PredictionError("m", "boom"), 502, "model_error"),
        (e.UpstreamTimeout("m", "slow"), 504, "model_timeout"),
        (e.ModelLoadError("m", "x"), 500, "model_load_error"),
    ],
)
def test_each_error_maps_to_its_category_status(error, status, code):
    assert status_of(error) == status
    assert error.code == code


def test_a_prediction_error_caused_by_a_timeout_is_504():
    error = e.PredictionError("m", "did not answer within 1 s")
    error.__cause__ = httpx.ReadTimeout("read timed out")
    assert status_of(error) == 504
    error.__cause__ = httpx.ConnectError("refused")
    assert status_of(error) == 502


def test_every_category_is_in_the_table_and_every_error_in_a_category():
    categories = {e.InvalidInput, e.NotAllowed, e.NotFound, e.Conflict, e.Unavailable,
                  e.UpstreamError}  # fmt: skip
    assert categories <= set(STATUS)
    outside = {e.ChampionError, e.ModelLoadError, e.ModelsFailedToLoad, e.ConfigError}
    for name in e.__all__:
        cls = getattr(e, name)
        assert cls in outside or cls in categories or issubclass(cls, tuple(categories)), name
