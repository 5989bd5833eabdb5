"""A million ids through the batch path: the split, the buckets' spread, and determinism."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from tests.assign._data import mixed_ids

from champion.assign import Assigner, buckets

ROOT = Path(__file__).resolve().parents[2]
N = 1_000_000


@pytest.fixture(scope="module")
def million() -> list[str]:
    """Half sequential ids (the hard case: they differ only in their last bytes), half random."""
    raw = np.random.default_rng(7).bytes(16 * (N // 2)).hex()
    randoms = [raw[i : i + 32] for i in range(0, len(raw), 32)]
    return [f"user-{i}" for i in range(N // 2)] + randoms


@pytest.mark.parametrize(
    "allocation",
    [
        {"champ": 0.5, "a": 0.3, "b": 0.2},
        {"champ": 0.95, "a": 0.05, "b": 0.0},
        {"champ": 0.1, "a": 0.6, "b": 0.3},  # a overflows into b's sector
    ],
)
def test_split_is_within_0_3_points_of_the_configuration(million, allocation):
    assigner = Assigner("uniformity", "champ", ["a", "b"], allocation)
    variants, _ = assigner.assign_batch(million, codes=True)
    observed = np.bincount(variants, minlength=3) / N
    expected = np.array([allocation[v] for v in assigner.variants])
    # 0.3 points is > 6 binomial standard errors (sqrt(.25 / 1e6) = 0.05 points).
    assert np.abs(observed - expected).max() < 0.003


@pytest.mark.parametrize("salt", ["uniformity", "fraud-detector-v2"])
def test_bucket_groups_pass_chi_square(million, salt):
    counts = np.bincount(buckets(million, salt) // 100, minlength=100)
    assert counts.sum() == N
    result = stats.chisquare(counts)  # H0: 100 equal groups of 100 buckets
    assert result.pvalue > 0.001


def test_holdout_and_layer_do_not_bias_the_split_of_exposed_units(million):
    assigner = Assigner(
        "uniformity",
        "champ",
        ["a", "b"],
        {"champ": 0.5, "a": 0.3, "b": 0.2},
        holdout={"share": 0.1, "salt": "global-holdout"},
        layer={"name": "checkout", "start": 0.2, "end": 0.7},
    )
    variants, own = assigner.assign_batch(million, codes=True)
    every = buckets(million, ["global-holdout", "checkout"])
    exposed = (every[0] >= 1000) & (every[1] >= 2000) & (every[1] < 7000)
    assert abs(exposed.mean() - 0.9 * 0.5) < 0.003
    shares = np.bincount(variants[exposed], minlength=3) / exposed.sum()
    assert np.abs(shares - [0.5, 0.3, 0.2]).max() < 0.003
    assert (variants[~exposed] == 0).all()
    assert (own == buckets(million, "uniformity")).all()


_CHILD = """
import hashlib, sys
from champion.assign import Assigner
from tests.assign._data import mixed_ids
ids = mixed_ids(20_000)
a = Assigner("determinism", "champ", ["a", "b"], {"a": 0.3, "b": 0.2},
             holdout={"share": 0.1, "salt": "hold"})
one = "|".join(f"{x.variant}:{x.bucket}:{x.reason}" for x in map(a.assign, ids))
variants, buckets = a.assign_batch(ids)
batch = "|".join(f"{v}:{b}" for v, b in zip(variants.tolist(), buckets.tolist()))
print(hashlib.sha256((one + "#" + batch).encode()).hexdigest())
"""


def test_assignments_are_identical_across_processes_and_hash_seeds():
    ids = mixed_ids(20_000)
    a = Assigner(
        "determinism", "champ", ["a", "b"], {"a": 0.3, "b": 0.2},
        holdout={"share": 0.1, "salt": "hold"},
    )  # fmt: skip
    one = "|".join(f"{x.variant}:{x.bucket}:{x.reason}" for x in map(a.assign, ids))
    variants, bucket_ids = a.assign_batch(ids)
    batch = "|".join(
        f"{v}:{b}" for v, b in zip(variants.tolist(), bucket_ids.tolist(), strict=True)
    )
    here = hashlib.sha256((one + "#" + batch).encode()).hexdigest()
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        child = subprocess.run(
            [sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        assert child.stdout.strip() == here
