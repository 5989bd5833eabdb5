"""The Assigner: rule order, what each reason means, the batch path, and the spec entry point."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pyarrow as pa
import pytest
from tests.assign._data import mixed_ids
from tests.assign._reference import ref_bucket

from champion.assign import Assigner, Assignment
from champion.spec import load_spec

SALT = "exp-salt"


def plain(**kwargs) -> Assigner:
    return Assigner(SALT, "champ", ["a", "b"], {"champ": 0.5, "a": 0.3, "b": 0.2}, **kwargs)


def hand_variant(b: int) -> str:
    # Two challengers: a owns [0, 3000) of its sector [0, 5000); b owns [5000, 7000).
    return "a" if b < 3000 else "b" if 5000 <= b < 7000 else "champ"


def test_hash_path_follows_the_reference_bucket_and_hand_layout():
    assigner = plain(version=7)
    for unit_id in mixed_ids(2_000):
        b = ref_bucket(SALT, unit_id)
        got = assigner.assign(unit_id)
        assert (got.bucket, got.variant, got.reason, got.exposed) == (
            b,
            hand_variant(b),
            "hash",
            True,
        )
        assert got.probability == {"champ": 0.5, "a": 0.3, "b": 0.2}[got.variant]
        assert (got.hash_version, got.allocation_version) == (1, 7)


def test_variant_shortcut_equals_assign():
    assigner = plain()
    ids = mixed_ids(500)
    assert [assigner.variant(u) for u in ids] == [assigner.assign(u).variant for u in ids]


def test_assignment_is_a_real_frozen_dataclass():
    got = plain().assign("user-1")
    assert type(got) is Assignment
    assert dataclasses.is_dataclass(got)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.variant = "b"  # type: ignore[misc]
    same = Assignment(**{f.name: getattr(got, f.name) for f in dataclasses.fields(Assignment)})
    assert got == same
    assert hash(got) == hash(same)
    assert dataclasses.replace(got, variant="zz").variant == "zz"


@pytest.mark.parametrize(
    ("unit_id", "kwargs", "reason"),
    [
        ("user-1", {}, "hash"),
        ("qa-1", {"overrides": {"qa-1": "b"}}, "override"),
        ("user-1", {"holdout": {"share": 0.9999, "salt": "global"}}, "holdout"),
    ],
)
def test_assignment_from_either_path_behaves_like_a_constructed_one(unit_id, kwargs, reason):
    got = plain(version=3, **kwargs).assign(unit_id)
    assert got.reason == reason
    same = Assignment(**{f.name: getattr(got, f.name) for f in dataclasses.fields(Assignment)})
    assert type(got) is Assignment
    assert got == same
    assert hash(got) == hash(same)
    assert repr(got) == repr(same)
    for twin in (pickle.loads(pickle.dumps(got)), copy.copy(got), copy.deepcopy(got)):
        assert type(twin) is Assignment
        assert twin == got
    with pytest.raises(dataclasses.FrozenInstanceError):
        del got.bucket


def test_to_dict_gives_the_cli_fields():
    got = plain(version="v3").assign("user-1")
    assert got.to_dict() == {
        "unit": "user-1",
        "variant": got.variant,
        "bucket": ref_bucket(SALT, "user-1"),
        "reason": "hash",
        "exposed": True,
        "probability": got.probability,
        "hash_version": 1,
        "allocation_version": "v3",
    }


def test_override_wins_over_every_other_rule_and_is_not_exposed():
    assigner = plain(
        overrides={"qa-1": "b"},
        targeting=[{"attribute": "country", "op": "eq", "value": "DE"}],
        holdout={"share": 0.99, "salt": "hold"},
        layer={"name": "layer", "start": 0.0, "end": 0.01},
    )
    got = assigner.assign("qa-1", {"country": "US"})
    assert (got.variant, got.reason, got.exposed, got.probability) == ("b", "override", False, 1.0)
    assert got.bucket == ref_bucket(SALT, "qa-1")


def test_targeting_miss_gets_the_champion_unexposed():
    assigner = plain(targeting=[{"attribute": "country", "op": "eq", "value": "DE"}])
    ids = mixed_ids(300)
    misses = [assigner.assign(u, {"country": "US"}) for u in ids]
    assert {(m.variant, m.reason, m.exposed, m.probability) for m in misses} == {
        ("champ", "targeting", False, 1.0)
    }
    hits = [assigner.assign(u, {"country": "DE"}) for u in ids]
    assert [h.variant for h in hits] == [hand_variant(ref_bucket(SALT, u)) for u in ids]
    assert {h.reason for h in hits} == {"hash"}


def test_holdout_uses_its_own_salt_and_keeps_the_champion():
    assigner = plain(holdout={"share": 0.1, "salt": "global"})
    for unit_id in mixed_ids(2_000):
        got = assigner.assign(unit_id)
        if ref_bucket("global", unit_id) < 1000:
            assert (got.variant, got.reason, got.exposed) == ("champ", "holdout", False)
        else:
            assert got.reason == "hash"


def test_layer_admits_only_its_range_of_the_layer_hash():
    assigner = plain(layer={"name": "checkout", "start": 0.25, "end": 0.5})
    for unit_id in mixed_ids(2_000):
        got = assigner.assign(unit_id)
        if 2500 <= ref_bucket("checkout", unit_id) < 5000:
            assert got.reason == "hash"
        else:
            assert (got.variant, got.reason, got.exposed) == ("champ", "layer", False)


def test_experiments_with_disjoint_layer_ranges_never_share_a_unit():
    first = plain(layer={"name": "checkout", "start": 0.0, "end": 0.5})
    second = Assigner(
        "other", "c", ["t"], {"t": 0.5}, layer={"name": "checkout", "start": 0.5, "end": 1.0}
    )
    for unit_id in mixed_ids(1_000):
        assert (first.assign(unit_id).reason == "layer") != (
            second.assign(unit_id).reason == "layer"
        )


def test_holdout_is_checked_before_the_layer():
    assigner = plain(
        holdout={"share": 0.5, "salt": "global"}, layer={"name": "lay", "start": 0.0, "end": 0.5}
    )
    for unit_id in mixed_ids(500):
        if ref_bucket("global", unit_id) < 5000:
            assert assigner.assign(unit_id).reason == "holdout"


def test_from_spec_reads_the_example():
    spec = load_spec("examples/fraud-detector.yaml")
    assigner = Assigner.from_spec(spec)
    assert assigner.variants == ("v1_3", "v2_0")
    assert assigner.probabilities == {"v1_3": 0.95, "v2_0": 0.05}
    assert (assigner.unit, assigner.name, assigner.salt) == ("user", spec.name, spec.name)
    got = assigner.assign("user-42")
    assert got.variant == ("v2_0" if ref_bucket(spec.name, "user-42") < 500 else "v1_3")


def test_from_spec_takes_a_live_allocation_and_version():
    spec = load_spec("examples/fraud-detector.yaml")
    assigner = Assigner.from_spec(spec, allocation={"v2_0": 0.25}, version=4)
    assert assigner.probabilities == {"v1_3": 0.75, "v2_0": 0.25}
    assert assigner.assign("u").allocation_version == 4


def test_assign_request_picks_the_spec_unit():
    assigner = plain(unit="session")
    got = assigner.assign_request(user_id="u1", session_id="s1")
    assert got.unit_id == "s1"
    with pytest.raises(ValueError, match="session_id=None is invalid: the experiment randomises"):
        assigner.assign_request(user_id="u1")


def test_batch_equals_per_unit_with_every_id_rule():
    ids = mixed_ids(20_000)
    assigner = Assigner(
        SALT,
        "champ",
        ["a", "b", "c"],
        {"a": 0.5, "b": 0.0, "c": 0.2},
        overrides={ids[3]: "b", ids[10]: "champ", "absent": "a"},
        holdout={"share": 0.05, "salt": "global"},
        layer={"name": "lay", "start": 0.1, "end": 0.85},
    )
    variants, buckets = assigner.assign_batch(ids)
    one_by_one = [assigner.assign(u) for u in ids]
    assert variants.tolist() == [a.variant for a in one_by_one]
    assert buckets.tolist() == [a.bucket for a in one_by_one]
    assert {a.reason for a in one_by_one} == {"hash", "override", "holdout", "layer"}
    codes, _ = assigner.assign_batch(pa.array(ids), codes=True)
    assert codes.dtype == np.uint8
    assert np.asarray(assigner.variants, dtype=object)[codes].tolist() == variants.tolist()


def test_batch_refuses_targeting_unless_told_the_ids_match():
    assigner = plain(targeting=[{"attribute": "country", "op": "eq", "value": "DE"}])
    with pytest.raises(ValueError, match="skip_targeting=False is invalid: this experiment has"):
        assigner.assign_batch(["u1"])
    variants, _ = assigner.assign_batch(["u1"], skip_targeting=True)
    assert variants.tolist() == [assigner.assign("u1", {"country": "DE"}).variant]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"holdout": {"share": 0.1, "salt": SALT}}, r"holdout\.salt=.* must differ"),
        ({"layer": {"name": SALT}}, r"layer\.name=.* must differ"),
        ({"layer": {"name": "l", "start": 0.5, "end": 0.5}}, r"layer=.*start must be below end"),
        ({"holdout": {"share": 1.5}}, r"holdout=.*less than 1"),
        ({"overrides": {"u": "nope"}}, r"overrides\['u'\]='nope' is invalid: not a variant"),
        ({"unit": "device"}, r"unit='device' is invalid"),
    ],
)
def test_bad_settings_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plain(**kwargs)


def test_non_str_unit_id_is_refused_on_the_hot_path():
    with pytest.raises(ValueError, match=r"unit_id=42 is invalid: must be a str"):
        plain().assign(42)  # type: ignore[arg-type]


def test_assigner_is_read_only_once_built():
    assigner = plain()
    with pytest.raises(AttributeError, match=r"Assigner is read-only .*'salt'"):
        assigner.salt = "other"  # type: ignore[misc]
    assert assigner.assign("u").bucket == ref_bucket(SALT, "u")
