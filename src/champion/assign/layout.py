"""Buckets to variants: a layout in which ramping one challenger never moves another's units.

With K challengers the 10,000 buckets are cut into K sectors, ``[floor(j*10000/K),
floor((j+1)*10000/K))``; challenger j (in the spec's order) owns sector j and fills it from its
start upward. One challenger at a time may need more than its sector: its overflow fills the
other sectors in cyclic order (j+1, j+2, ...), each from its end downward and completely before
the next. Every bucket no challenger covers is the champion's.

So each challenger's buckets depend on its own share alone: raising it takes buckets only from
the champion, lowering it gives them back, and a winner can ramp to 100% once the others are
at 0. The price: a layout in which an overflow and a sector's owner would collide is refused,
with a message saying what to lower first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from numbers import Real

from champion.assign.hashing import BUCKETS
from champion.errors import InvalidArgument

__all__ = ["Layout", "build_layout", "sector_bounds", "share_to_buckets"]

SUM_TOLERANCE = 1e-6


def share_to_buckets(share: float, name: str = "share") -> int:
    """Whole buckets for a share: ``share * 10000`` rounded half up, on the share's decimal text.

    Rounding the shortest decimal form (``repr``) avoids binary surprises such as
    ``0.0285 * 10000 == 284.99999999999997``.

    >>> share_to_buckets(0.0285), share_to_buckets(0.00005), share_to_buckets(1)
    (285, 1, 10000)
    """
    if isinstance(share, bool) or not isinstance(share, Real) or not math.isfinite(share):
        raise InvalidArgument(name, share, "must be a number in [0, 1]")
    if not 0 <= share <= 1:
        raise InvalidArgument(name, share, "must lie in [0, 1]")
    scaled = Decimal(repr(float(share))) * BUCKETS
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sector_bounds(k: int) -> list[int]:
    """The K + 1 sector boundaries ``floor(j * 10000 / K)``.

    >>> sector_bounds(3)
    [0, 3333, 6666, 10000]
    """
    return [j * BUCKETS // k for j in range(k + 1)]


def _pct(buckets: int) -> str:
    return f"{buckets / 100:.2f}%"


@dataclass(frozen=True, slots=True)
class Layout:
    """Which variant owns each bucket; ``table[b]`` indexes ``variants`` (champion first)."""

    variants: tuple[str, ...]
    counts: tuple[int, ...]
    table: bytes

    @property
    def champion(self) -> str:
        return self.variants[0]

    @property
    def challengers(self) -> tuple[str, ...]:
        return self.variants[1:]

    @property
    def probabilities(self) -> tuple[float, ...]:
        """Each variant's realised share of the buckets: its assignment probability."""
        return tuple(c / BUCKETS for c in self.counts)

    @property
    def ranges(self) -> tuple[tuple[int, int, str], ...]:
        """Maximal runs ``(start, end, variant)`` covering [0, 10000) in order."""
        runs: list[tuple[int, int, str]] = []
        start = 0
        for b in range(1, BUCKETS + 1):
            if b == BUCKETS or self.table[b] != self.table[start]:
                runs.append((start, b, self.variants[self.table[start]]))
                start = b
        return tuple(runs)

    def variant_of(self, bucket: int) -> str:
        return self.variants[self.table[bucket]]


def _check_variants(champion: object, challengers: object) -> tuple[str, list[str]]:
    if not isinstance(champion, str) or not champion:
        raise InvalidArgument("champion", champion, "must be a non-empty variant name")
    if isinstance(challengers, str) or not isinstance(challengers, Sequence):
        raise InvalidArgument("challengers", challengers, "must be a list of variant names")
    names = list(challengers)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidArgument(
            "challengers", challengers, "must list at least one non-empty variant name"
        )
    if len(set(names)) != len(names) or champion in names:
        raise InvalidArgument(
            "challengers", challengers, f"each variant appears once (champion is '{champion}')"
        )
    if len(names) > 254:
        raise InvalidArgument("challengers", f"<{len(names)} names>", "at most 254 challengers")
    return champion, names


def _challenger_buckets(
    champion: str, challengers: list[str], allocation: object
) -> dict[str, int]:
    if not isinstance(allocation, Mapping):
        raise InvalidArgument("allocation", allocation, "must map variant names to shares")
    variants = [champion, *challengers]
    extra = [k for k in allocation if k not in variants]
    missing = [c for c in challengers if c not in allocation]
    if extra:
        raise InvalidArgument(
            "allocation", dict(allocation), f"names {extra}, not variants (variants: {variants})"
        )
    if missing:
        raise InvalidArgument(
            "allocation", dict(allocation), f"gives no share to {missing}: list every challenger"
        )
    for name, share in allocation.items():
        share_to_buckets(share, f"allocation[{name!r}]")
    total = sum(float(allocation[c]) for c in challengers)
    if champion in allocation:
        total += float(allocation[champion])
        if abs(total - 1) > SUM_TOLERANCE:
            raise InvalidArgument(
                "allocation", dict(allocation), f"shares sum to {total:.6g}, not 1"
            )
    elif total > 1 + SUM_TOLERANCE:
        raise InvalidArgument(
            "allocation", dict(allocation), f"challenger shares sum to {total:.6g}, more than 1"
        )
    counts = {c: share_to_buckets(allocation[c]) for c in challengers}
    if sum(counts.values()) > BUCKETS:
        raise InvalidArgument(
            "allocation",
            dict(allocation),
            f"challenger shares round to {sum(counts.values())} of {BUCKETS} buckets: "
            "give shares in steps of 0.0001 that sum to at most 1",
        )
    return counts


def build_layout(
    champion: str, challengers: Sequence[str], allocation: Mapping[str, float]
) -> Layout:
    """The layout for an allocation, or InvalidArgument naming what to lower first.

    ``allocation`` maps each challenger to its share; the champion's share, if given, must
    make the sum 1 (it is realised as the remainder: 10000 minus the challengers' buckets).

    >>> layout = build_layout("old", ["a", "b"], {"old": 0.1, "a": 0.6, "b": 0.3})
    >>> layout.ranges
    ((0, 5000, 'a'), (5000, 8000, 'b'), (8000, 9000, 'old'), (9000, 10000, 'a'))
    """
    champion, names = _check_variants(champion, challengers)
    need = _challenger_buckets(champion, names, allocation)
    k = len(names)
    bounds = sector_bounds(k)
    size = [bounds[j + 1] - bounds[j] for j in range(k)]
    n = [need[c] for c in names]
    table = bytearray(BUCKETS)
    for j in range(k):
        table[bounds[j] : bounds[j] + min(n[j], size[j])] = bytes([j + 1]) * min(n[j], size[j])
    over = [j for j in range(k) if n[j] > size[j]]
    if len(over) > 1:
        ordered = sorted(over, key=lambda j: -n[j])
        named = " and ".join(f"{names[j]} ({_pct(n[j])})" for j in ordered)
        lower = ", ".join(f"{names[j]} to {_pct(size[j])} or less" for j in ordered[1:])
        raise InvalidArgument(
            "allocation",
            dict(allocation),
            f"{named} each exceed their own sector; with {k} challengers only one at a time "
            f"may hold more than its sector: lower {lower} first",
        )
    if over:
        x = over[0]
        overflow = n[x] - size[x]
        filled = 0  # sectors filled completely by the overflow so far
        for step in range(1, k):
            j = (x + step) % k
            take = min(overflow, size[j])
            if n[j] + take > size[j]:
                most = size[x] + filled + size[j] - n[j]
                raise InvalidArgument(
                    "allocation",
                    dict(allocation),
                    f"cannot give {names[x]} {_pct(n[x])}: beyond its own sector "
                    f"({_pct(size[x])}) it fills the sector of {names[j]} "
                    f"({_pct(size[j])}) from the end with {_pct(take)}, but {names[j]} holds "
                    f"{_pct(n[j])} there; lower {names[j]} to {_pct(size[j] - take)} or less "
                    f"first, or give {names[x]} at most {_pct(most)}",
                )
            table[bounds[j + 1] - take : bounds[j + 1]] = bytes([x + 1]) * take
            overflow -= take
            filled += size[j]
            if overflow == 0:
                break
    counts = (BUCKETS - sum(n), *n)
    return Layout(variants=(champion, *names), counts=counts, table=bytes(table))
