"""The Assigner: a unit's variant per call (hot path) and for batches of ids (numpy).

Rules apply in this order: overrides, targeting, the global holdout, the layer, the hash.
Everything a call needs is computed once in the constructor (the bucket -> variant table,
the hash prefixes, the compiled targeting), so a plain call is two C hashes (FNV-1a over the
key, MurmurHash3's finaliser), a table lookup and one small object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fnv_hash_fast import fnv1a_32
from pydantic import ValidationError

from champion.assign._ids import as_string_array
from champion.assign.hashing import BUCKETS, HASH_VERSION, _murmur3_32, bucket, buckets
from champion.assign.layout import Layout, build_layout, share_to_buckets
from champion.assign.result import Assignment, Reason, _Draft, make_assignment
from champion.assign.targeting import Targeting, pydantic_problems
from champion.assign.units import UNITS, pick_unit_id
from champion.errors import InvalidArgument
from champion.spec.models import Experiment, Holdout, Layer

__all__ = ["Assigner"]

_new = object.__new__


def _as_model(model: type[Holdout] | type[Layer], value: object, name: str) -> Any:
    if value is None or isinstance(value, model):
        return value
    if isinstance(value, Mapping):
        try:
            return model.model_validate(dict(value))
        except ValidationError as e:
            raise InvalidArgument(name, dict(value), pydantic_problems(e)) from e
    raise InvalidArgument(name, value, f"must be a {model.__name__} or a mapping")


class Assigner:
    """Deterministic assignment for one experiment's current state.

    Built from plain values (what a registry stores) or from a spec with ``from_spec``.
    ``allocation`` maps challengers (and optionally the champion) to shares; ``version``
    is the allocation's version, carried into every Assignment for the exposure log.

    >>> a = Assigner("fraud-detector-v2", "v1_3", ["v2_0"], {"v1_3": 0.95, "v2_0": 0.05})
    >>> a.assign("user-42")
    Assignment(unit_id='user-42', variant='v1_3', bucket=2101, reason='hash', exposed=True, \
probability=0.95, hash_version=1, allocation_version=None)
    """

    __slots__ = (
        "_bandit_below",
        "_bandit_prefix",
        "_bandit_salt",
        "_bandit_uniform",
        "_by_bucket",
        "_holdout_below",
        "_holdout_prefix",
        "_layer_prefix",
        "_layer_range",
        "_names",
        "_override_codes",
        "_override_ids",
        "_plain",
        "_prefix",
        "_sealed",
        "_table_np",
        "_version",
        "holdout",
        "layer",
        "layout",
        "name",
        "overrides",
        "salt",
        "targeting",
        "unit",
    )

    def __init__(
        self,
        salt: str,
        champion: str,
        challengers: list[str] | tuple[str, ...],
        allocation: Mapping[str, float],
        *,
        targeting: object = None,
        overrides: Mapping[str, str] | None = None,
        holdout: Holdout | Mapping[str, Any] | None = None,
        layer: Layer | Mapping[str, Any] | None = None,
        version: int | str | None = None,
        unit: str = "user",
        name: str | None = None,
        bandit_holdout: float = 0.0,
    ) -> None:
        bucket(salt, "")  # validates the salt with the hash's own rule
        self.salt = salt
        self.name = name
        if unit not in UNITS:
            raise InvalidArgument("unit", unit, f"must be one of {list(UNITS)}")
        self.unit = unit
        self.layout: Layout = build_layout(champion, challengers, allocation)
        self.targeting = Targeting(targeting)
        self.overrides = self._check_overrides(overrides)
        self.holdout: Holdout | None = _as_model(Holdout, holdout, "holdout")
        self.layer: Layer | None = _as_model(Layer, layer, "layer")
        if self.holdout is not None and self.holdout.salt == salt:
            raise InvalidArgument(
                "holdout.salt",
                salt,
                "must differ from the experiment's salt: with one salt the holdout would take "
                "the same buckets as some variants instead of an independent draw",
            )
        if self.layer is not None:
            if self.layer.name == salt:
                raise InvalidArgument(
                    "layer.name",
                    salt,
                    "must differ from the experiment's salt: with one salt the layer range "
                    "would select the same buckets as some variants instead of an independent draw",
                )
            lo = share_to_buckets(self.layer.start, "layer.start")
            hi = share_to_buckets(self.layer.end, "layer.end")
            if lo >= hi:
                raise InvalidArgument(
                    "layer", self.layer.model_dump(), "start must be below end (in steps of 0.0001)"
                )
            self._layer_range = range(lo, hi)
            self._layer_prefix = f"{self.layer.name}:"
        if self.holdout is not None:
            self._holdout_below = share_to_buckets(self.holdout.share, "holdout.share")
            self._holdout_prefix = f"{self.holdout.salt}:"
        # A bandit's holdout: units whose bucket under their own salt falls below this get a
        # fixed uniform split (the bucket modulo the number of variants), whatever the weights.
        self._bandit_salt = f"{salt}-bandit-holdout"
        self._bandit_prefix = f"{self._bandit_salt}:"
        self._bandit_below = share_to_buckets(bandit_holdout, "bandit.holdout")
        k = len(self.layout.variants)
        counts = [len(range(i, self._bandit_below, k)) for i in range(k)]
        self._bandit_uniform = tuple(
            (v, c / self._bandit_below if self._bandit_below else 0.0)
            for v, c in zip(self.layout.variants, counts, strict=True)
        )
        self._version = version
        self._prefix = f"{salt}:"
        self._table_np = np.frombuffer(self.layout.table, dtype=np.uint8)
        self._names = self.layout.variants
        probs = self.layout.probabilities
        self._by_bucket = tuple((self._names[i], probs[i]) for i in self.layout.table)
        index = {v: i for i, v in enumerate(self._names)}
        self._override_ids = pa.array(list(self.overrides), type=pa.string())
        self._override_codes = np.array([index[v] for v in self.overrides.values()], np.uint8)
        self._plain = not (
            self.overrides or self.targeting or self.holdout or self.layer or self._bandit_below
        )
        self._sealed = True

    def __setattr__(self, name: str, value: object) -> None:
        # The precomputed tables would silently disagree with a changed field.
        if getattr(self, "_sealed", False):
            raise AttributeError(
                f"Assigner is read-only (tried to set {name!r}): build a new one for a new state"
            )
        object.__setattr__(self, name, value)

    def _check_overrides(self, overrides: Mapping[str, str] | None) -> dict[str, str]:
        if overrides is None:
            return {}
        if not isinstance(overrides, Mapping):
            raise InvalidArgument("overrides", overrides, "must map unit ids to variant names")
        for unit_id, variant in overrides.items():
            if not isinstance(unit_id, str):
                raise InvalidArgument("overrides", unit_id, "unit ids must be str")
            if variant not in self.layout.variants:
                raise InvalidArgument(
                    f"overrides[{unit_id!r}]",
                    variant,
                    f"not a variant (variants: {list(self.layout.variants)})",
                )
        return dict(overrides)

    @classmethod
    def from_spec(
        cls,
        experiment: Experiment,
        *,
        allocation: Mapping[str, float] | None = None,
        version: int | str | None = None,
    ) -> Assigner:
        """The assigner for a spec; ``allocation`` replaces the spec's (a registry's live state)."""
        return cls(
            experiment.effective_salt,
            experiment.champion,
            experiment.challengers,
            experiment.allocation if allocation is None else allocation,
            targeting=experiment.targeting,
            overrides=experiment.overrides,
            holdout=experiment.holdout,
            layer=experiment.layer,
            version=version,
            unit=experiment.unit,
            name=experiment.name,
            bandit_holdout=experiment.bandit.holdout if experiment.bandit is not None else 0.0,
        )

    @property
    def variants(self) -> tuple[str, ...]:
        return self.layout.variants

    @property
    def allocation_version(self) -> int | str | None:
        return self._version

    @property
    def holdout_below(self) -> int | None:
        """Units whose holdout bucket is below this stay on the champion (None: no holdout)."""
        return None if self.holdout is None else self._holdout_below

    @property
    def layer_range(self) -> range | None:
        """Layer buckets that belong to this experiment (None: no layer)."""
        return None if self.layer is None else self._layer_range

    @property
    def probabilities(self) -> dict[str, float]:
        """Realised share of buckets per variant (what the configured shares round to)."""
        return dict(zip(self.layout.variants, self.layout.probabilities, strict=True))

    def __repr__(self) -> str:
        return (
            f"Assigner(salt={self.salt!r}, probabilities={self.probabilities}, "
            f"version={self._version!r})"
        )

    def unit_id_for(
        self,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """The id this experiment hashes, picked from a request's ids by the spec's unit."""
        return pick_unit_id(
            self.unit, user_id=user_id, session_id=session_id, request_id=request_id
        )

    def assign(self, unit_id: str, attributes: Mapping[str, Any] | None = None) -> Assignment:
        """The unit's variant; ``attributes`` feed targeting (ignored when there is none)."""
        try:
            h = fnv1a_32((self._prefix + unit_id).encode())
        except (TypeError, UnicodeEncodeError):
            bucket(self.salt, unit_id)  # raises InvalidArgument naming unit_id
            raise
        b = _murmur3_32(b"", h) % BUCKETS  # fmix32(h), without fmix32's own call
        if self._plain:
            variant, probability = self._by_bucket[b]
            # make_assignment(...) written out: its call would cost a tenth of this method
            draft: Any = _new(_Draft)
            draft.unit_id = unit_id
            draft.variant = variant
            draft.bucket = b
            draft.reason = "hash"
            draft.exposed = True
            draft.probability = probability
            draft.hash_version = HASH_VERSION
            draft.allocation_version = self._version
            draft.__class__ = Assignment
            done: Assignment = draft  # draft is Any to the checker so its fields can be written
            return done
        return self._assign_ruled(unit_id, attributes, b)

    def variant(self, unit_id: str, attributes: Mapping[str, Any] | None = None) -> str:
        """Only the variant's name: the leanest call, for a router that needs nothing else."""
        if not self._plain:
            return self.assign(unit_id, attributes).variant
        try:
            h = fnv1a_32((self._prefix + unit_id).encode())
        except (TypeError, UnicodeEncodeError):
            bucket(self.salt, unit_id)
            raise
        return self._by_bucket[_murmur3_32(b"", h) % BUCKETS][0]

    def _assign_ruled(
        self, unit_id: str, attributes: Mapping[str, Any] | None, b: int
    ) -> Assignment:
        reason: Reason
        pinned = self.overrides.get(unit_id)
        if pinned is not None:
            reason, variant, exposed, probability = "override", pinned, False, 1.0
        elif self.targeting and not self.targeting.matches(attributes):
            reason, variant, exposed, probability = "targeting", self._names[0], False, 1.0
        elif self.holdout is not None and (
            _bucket(self._holdout_prefix, unit_id) < self._holdout_below
        ):
            reason, variant, exposed, probability = "holdout", self._names[0], False, 1.0
        elif self.layer is not None and (
            _bucket(self._layer_prefix, unit_id) not in self._layer_range
        ):
            reason, variant, exposed, probability = "layer", self._names[0], False, 1.0
        elif self._bandit_below and (
            (hb := _bucket(self._bandit_prefix, unit_id)) < self._bandit_below
        ):
            variant, probability = self._bandit_uniform[hb % len(self._bandit_uniform)]
            reason, exposed = "bandit_holdout", True
        else:
            variant, probability = self._by_bucket[b]
            reason, exposed = "hash", True
        return make_assignment(
            unit_id, variant, b, reason, exposed, probability, HASH_VERSION, self._version
        )

    def assign_request(
        self,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        request_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Assignment:
        """Pick the unit's id from the request by the spec's unit, then assign it."""
        unit_id = self.unit_id_for(user_id=user_id, session_id=session_id, request_id=request_id)
        return self.assign(unit_id, attributes)

    def assign_batch(
        self, ids: object, *, skip_targeting: bool = False, codes: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(variants, buckets) for many ids, identical to ``assign`` one by one.

        Applies overrides, the holdout and the layer (all functions of the id). Targeting
        needs each request's attributes, so an experiment with targeting refuses a batch
        unless the caller filtered the ids to matching units and says ``skip_targeting``.
        ``variants`` is an object array of names, or with ``codes`` a uint8 array indexing
        ``self.variants``; ``buckets`` (int32) are under the experiment's salt.
        """
        if self.targeting and not skip_targeting:
            raise InvalidArgument(
                "skip_targeting",
                skip_targeting,
                "this experiment has targeting, which needs each request's attributes: "
                "use assign(unit_id, attributes), or pass only matching ids with "
                "skip_targeting=True",
            )
        arr = as_string_array(ids)
        salts = [self.salt]
        if self.holdout is not None:
            salts.append(self.holdout.salt)
        if self.layer is not None:
            salts.append(self.layer.name)
        if self._bandit_below:
            salts.append(self._bandit_salt)
        every = buckets(arr, salts)
        own = every[0]
        out = self._table_np[own]
        rows = iter(every[1:])
        held_out = next(rows) < self._holdout_below if self.holdout is not None else None
        if self.layer is not None:
            lb = next(rows)
            outside = (lb < self._layer_range.start) | (lb >= self._layer_range.stop)
        if self._bandit_below:  # first: the rules below take precedence over it
            hb = next(rows)
            held = hb < self._bandit_below
            out[held] = (hb[held] % len(self._names)).astype(out.dtype)
        if held_out is not None:
            out[held_out] = 0
        if self.layer is not None:
            out[outside] = 0
        if self.overrides:
            where = pc.index_in(arr, value_set=self._override_ids).fill_null(-1).to_numpy()
            hit = where >= 0
            out[hit] = self._override_codes[where[hit]]
        if codes:
            return out, own
        return np.asarray(self._names, dtype=object)[out], own


def _bucket(prefix: str, unit_id: str) -> int:
    return _murmur3_32(b"", fnv1a_32((prefix + unit_id).encode())) % BUCKETS
