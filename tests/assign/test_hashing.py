"""Hash version 1 against published FNV/MurmurHash3 vectors and a from-scratch reference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.assign._data import mixed_ids
from tests.assign._reference import ref_bucket, ref_fmix32, ref_fnv1a_32

from champion.assign.hashing import ALGORITHM, HASH_VERSION, bucket, buckets, fmix32, hash32


def test_version_names_the_algorithm():
    assert (HASH_VERSION, ALGORITHM) == (1, "fnv1a32-fmix32-mod10000-v1")


@pytest.mark.parametrize(
    ("data", "expected"),
    # Landon Curt Noll's FNV test suite (test_fnv.c, FNV-1a 32-bit column).
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968)],
)
def test_reference_fnv_matches_published_vectors(data, expected):
    assert ref_fnv1a_32(data) == expected


@pytest.mark.parametrize(
    ("seed", "expected"),
    # MurmurHash3_x86_32 of the empty key is fmix32(seed) (SMHasher's reference code);
    # published vectors: seed 0 -> 0, seed 1 -> 0x514E28B7, seed 0xFFFFFFFF -> 0x81F16F39.
    [(0, 0), (1, 0x514E28B7), (0xFFFFFFFF, 0x81F16F39)],
)
def test_fmix32_matches_murmur3_empty_key_vectors(seed, expected):
    assert fmix32(seed) == expected
    assert ref_fmix32(seed) == expected


def test_fmix32_equals_the_python_reference_on_random_words():
    # fmix32 runs in C (MurmurHash3 of the empty key); the reference spells out the steps.
    rng = np.random.default_rng(7)
    words = [0, 1, 2**16 - 1, 2**16, 2**31 - 1, 2**31, 2**32 - 1]
    words += rng.integers(0, 2**32, size=20_000, dtype=np.uint64).tolist()
    assert [fmix32(w) for w in words] == [ref_fmix32(w) for w in words]


def test_hash32_is_fmix_of_fnv_over_salt_colon_id():
    assert hash32("s", "u") == ref_fmix32(ref_fnv1a_32(b"s:u"))


def test_bucket_matches_reference_on_mixed_ids():
    for unit_id in mixed_ids(2_000):
        assert bucket("fraud-detector-v2", unit_id) == ref_bucket("fraud-detector-v2", unit_id)


def test_bucket_encodes_utf8_not_code_points():
    # 'é' is two UTF-8 bytes (0xC3 0xA9); hashing the code point 0xE9 would differ.
    assert bucket("s", "é") == ref_fmix32(ref_fnv1a_32(b"s:\xc3\xa9")) % 10000
    assert bucket("s", "é") != ref_fmix32(ref_fnv1a_32(b"s:\xe9")) % 10000


@settings(max_examples=300, deadline=None)
@given(
    ids=st.lists(st.text(max_size=40), max_size=60),
    salt=st.text(min_size=1, max_size=20),
)
def test_batch_equals_per_unit_on_random_unicode(ids, salt):
    got = buckets(ids, salt)
    assert got.dtype == np.int32
    assert got.tolist() == [bucket(salt, u) for u in ids]


def test_batch_handles_empty_and_long_ids():
    ids = ["", "x" * 10_000, "é" * 3_000, "", "a"]
    assert buckets(ids, "salt").tolist() == [ref_bucket("salt", u) for u in ids]
    huge = [*ids, "y" * 40_000]  # beyond 2**15 bytes: lengths no longer sort as int16
    assert buckets(huge, "salt").tolist() == [ref_bucket("salt", u) for u in huge]


def test_batch_of_nothing_is_empty():
    assert buckets([], "salt").shape == (0,)
    assert buckets(pa.array([], pa.string()), ["a", "b"]).shape == (2, 0)


def test_batch_with_several_salts_equals_one_salt_at_a_time():
    ids = mixed_ids(3_000)
    both = buckets(ids, ["one", "two"])
    assert both.shape == (2, 3_000)
    assert (both[0] == buckets(ids, "one")).all()
    assert (both[1] == buckets(ids, "two")).all()


@pytest.mark.parametrize(
    "convert",
    [
        list,
        lambda ids: np.array(ids),  # fixed-width numpy unicode
        lambda ids: np.array(ids, dtype=object),
        lambda ids: pa.array(ids, pa.string()),
        lambda ids: pa.array(ids, pa.large_string()),
        lambda ids: pa.chunked_array([ids[:100], ids[100:250], ids[250:]], pa.string()),
        lambda ids: pa.array(["pad", *ids, "pad"], pa.string()).slice(1, len(ids)),
        lambda ids: pa.array(ids, pa.string()).dictionary_encode(),
    ],
    ids=[
        "list",
        "numpy-str",
        "numpy-object",
        "arrow",
        "arrow-large",
        "chunked",
        "sliced",
        "dictionary",
    ],
)
def test_batch_accepts_every_container(convert):
    ids = mixed_ids(400)
    expected = [ref_bucket("k", u) for u in ids]
    assert buckets(convert(ids), "k").tolist() == expected


def test_batch_refuses_nulls_naming_the_fix():
    with pytest.raises(ValueError, match=r"ids=.*1 nulls.*positions \[1\].*drop or fill"):
        buckets(["a", None, "b"], "s")


def test_batch_refuses_numbers_asking_for_str():
    with pytest.raises(ValueError, match=r"ids=.*convert numeric ids with str\(\)"):
        buckets([1, 2, 3], "s")


def test_batch_refuses_non_string_arrow_arrays():
    with pytest.raises(ValueError, match=r"ids='<int64 array>' is invalid"):
        buckets(pa.array([1, 2]), "s")


def test_batch_refuses_a_single_string():
    with pytest.raises(ValueError, match=r"ids='abc' is invalid: got a single value"):
        buckets("abc", "s")


@pytest.mark.parametrize("salt", ["", None, 3])
def test_empty_or_non_str_salt_is_refused(salt):
    with pytest.raises(ValueError, match=r"salt=.* is invalid: must be a non-empty str"):
        bucket(salt, "u")


def test_non_str_unit_id_is_refused():
    with pytest.raises(ValueError, match=r"unit_id=42 is invalid: must be a str; pass str\(id\)"):
        bucket("s", 42)


def test_lone_surrogate_is_refused():
    with pytest.raises(ValueError, match=r"unit_id=.* must be valid Unicode"):
        bucket("s", "\ud800")
