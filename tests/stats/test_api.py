"""The public contract of champion.stats (DESIGN.md): names, argument names, result fields."""

import dataclasses
import inspect

import numpy as np
import pytest

import champion.stats as stats


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_every_exported_name_exists():
    missing = [name for name in stats.__all__ if not hasattr(stats, name)]
    assert missing == []


def test_contract_names_are_exported():
    contract = {
        "sample_size_proportion", "sample_size_mean", "proportion_test", "welch_test",
        "chi_square", "srm", "adjust_p_values", "sequential_boundaries", "msprt", "cuped",
        "chance_to_beat", "thompson_weights",
    }  # fmt: skip
    assert contract <= set(stats.__all__)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sample_size_proportion",
         ["baseline", "mde", "relative", "alpha", "power", "ratio", "alternative", "pooled"]),
        ("sample_size_mean",
         ["std", "mde", "relative", "baseline_mean", "alpha", "power", "ratio", "alternative"]),
        ("proportion_test",
         ["x_control", "n_control", "x_treatment", "n_treatment", "alpha", "alternative",
          "pooled"]),
        ("welch_test",
         ["mean_c", "var_c", "n_c", "mean_t", "var_t", "n_t", "alpha", "alternative"]),
        ("chi_square", ["table", "correction"]),
        ("srm", ["observed", "weights"]),
        ("adjust_p_values", ["p_values", "method"]),
        ("sequential_boundaries", ["information_fractions", "alpha", "spending", "alternative"]),
    ],
)  # fmt: skip
def test_contract_arguments_keep_their_names_and_order(name, params):
    assert _params(getattr(stats, name))[: len(params)] == params


def test_contract_defaults():
    sig = inspect.signature(stats.sample_size_proportion).parameters
    assert sig["alpha"].default == 0.05
    assert sig["power"].default == 0.8
    assert sig["ratio"].default == 1.0
    assert sig["alternative"].default == "two-sided"
    assert sig["pooled"].default is False
    assert inspect.signature(stats.proportion_test).parameters["pooled"].default is True
    assert inspect.signature(stats.chi_square).parameters["correction"].default is True
    seq = inspect.signature(stats.sequential_boundaries).parameters
    assert seq["spending"].default == "obrien-fleming"


def test_result_field_names():
    fields = {f.name for f in dataclasses.fields(stats.TestResult)}
    assert {"control", "treatment", "diff", "diff_ci", "rel_lift", "rel_lift_ci", "statistic",
            "p_value"} <= fields  # fmt: skip
    size = stats.sample_size_proportion(0.05, 0.01)
    assert (size.n_control, size.n_treatment, size.total) == (8155, 8155, 16310)
    chi = stats.chi_square([[1, 2], [3, 4]])
    assert {"statistic", "p_value", "dof"} <= {f.name for f in dataclasses.fields(chi)}
    assert {"statistic", "p_value"} <= {f.name for f in dataclasses.fields(stats.SRMResult)}


def test_results_are_frozen():
    result = stats.proportion_test(10, 100, 12, 100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.p_value = 0.0  # type: ignore[misc]


def test_sequential_boundaries_returns_a_numpy_array():
    assert isinstance(stats.sequential_boundaries([0.5, 1.0]), np.ndarray)


def test_adjust_p_values_accepts_the_three_method_names():
    for method in ("bonferroni", "holm", "bh"):
        assert stats.adjust_p_values([0.01, 0.04], method).shape == (2,)
