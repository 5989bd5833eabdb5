"""Hash version 1: a unit's bucket in [0, 10000), the same in Python, numpy, DuckDB and PostgreSQL.

The key is the UTF-8 encoding of ``salt + ":" + unit_id``. FNV-1a (32 bit) folds the bytes;
MurmurHash3's ``fmix32`` finaliser then spreads FNV's weak low bits (sequential ids such as
``user-1``, ``user-2`` differ only in their last byte) over the whole word, so ``mod 10000``
is uniform. Every step is a 32-bit integer operation a SQL engine can reproduce.

Changing anything here (constants, key layout, bucket count) changes which variant every
unit sees: it needs a new ``HASH_VERSION`` and ``ALGORITHM``, never an edit of version 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import mmh3
import numpy as np
from fnv_hash_fast import fnv1a_32

from champion.assign._ids import as_string_array, string_buffers
from champion.errors import InvalidArgument

__all__ = [
    "ALGORITHM",
    "BUCKETS",
    "FNV_OFFSET_BASIS",
    "FNV_PRIME",
    "HASH_VERSION",
    "bucket",
    "buckets",
    "fmix32",
    "fnv1a_state",
    "hash32",
]

HASH_VERSION = 1
ALGORITHM = "fnv1a32-fmix32-mod10000-v1"
BUCKETS = 10_000
FNV_OFFSET_BASIS = 2_166_136_261
FNV_PRIME = 16_777_619
_MASK = 0xFFFFFFFF
_C1 = 0x85EBCA6B
_C2 = 0xC2B2AE35


def fnv1a_state(data: bytes, state: int = FNV_OFFSET_BASIS) -> int:
    """FNV-1a continued from ``state`` over ``data``; lets the batch path skip the salt prefix."""
    for byte in data:
        state = ((state ^ byte) * FNV_PRIME) & _MASK
    return state


def fmix32(h: int) -> int:
    """MurmurHash3's 32-bit finaliser (avalanche: every input bit flips ~half the output bits).

    ``h`` is an unsigned 32-bit int. MurmurHash3_x86_32 of the empty key with seed ``h`` is
    exactly ``fmix32(h)`` (no blocks and no tail to mix, length 0), so the C ``mmh3`` package
    computes it in one call instead of five steps on Python integers, each a new int object
    (``_fmix32_array`` spells the steps out). Tests hold it to a from-scratch version.

    >>> hex(fmix32(1))  # MurmurHash3_x86_32 of the empty key with seed 1 is fmix32(1)
    '0x514e28b7'
    """
    return _murmur3_32(b"", h)


# MurmurHash3_x86_32(key, seed) as an unsigned int; with key b"" it is fmix32(seed). The
# assigner calls it directly: a Python wrapper's call costs as much as the C hash.
_murmur3_32 = mmh3.mmh3_32_uintdigest


def _check_salt(salt: object) -> str:
    if not isinstance(salt, str) or not salt:
        raise InvalidArgument("salt", salt, "must be a non-empty str (the experiment's salt)")
    return salt


def _key(salt: str, unit_id: object) -> bytes:
    if not isinstance(unit_id, str):
        raise InvalidArgument(
            "unit_id", unit_id, "must be a str; pass str(id) so Python and SQL hash the same text"
        )
    try:
        return f"{salt}:{unit_id}".encode()
    except UnicodeEncodeError as e:
        raise InvalidArgument(
            "unit_id", unit_id, "must be valid Unicode (it contains a lone surrogate)"
        ) from e


def hash32(salt: str, unit_id: str) -> int:
    """The 32-bit hash of version 1, before ``mod 10000`` (published in the test vectors)."""
    return fmix32(fnv1a_32(_key(_check_salt(salt), unit_id)))


def bucket(salt: str, unit_id: str) -> int:
    """The unit's bucket in [0, 10000) under ``salt``.

    >>> bucket("fraud-detector-v2", "user-42")
    2101
    """
    return hash32(salt, unit_id) % BUCKETS


def _fmix32_array(h: np.ndarray) -> np.ndarray:
    # numpy uint32 multiplication wraps modulo 2**32, exactly the C semantics we need.
    h ^= h >> np.uint32(16)
    h *= np.uint32(_C1)
    h ^= h >> np.uint32(13)
    h *= np.uint32(_C2)
    h ^= h >> np.uint32(16)
    return h


def buckets(ids: object, salt: str | Sequence[str]) -> np.ndarray:
    """Buckets of many ids at once (int32): one salt gives shape (n,), k salts shape (k, n).

    ``ids`` is a list of str, a numpy array of str or object, or a pyarrow (large) string
    array or chunked array. The FNV state after each constant prefix ``salt + ":"`` is
    computed once. Ids are then folded in chunks that fit in the CPU cache; inside a chunk
    they are sorted by byte length (longest first), so byte position j is folded for the
    contiguous prefix of ids longer than j with uint32 vector operations (numpy's uint32
    multiply wraps modulo 2**32, as FNV needs). Several salts share the byte gathers.

    >>> buckets(["user-42", ""], "fraud-detector-v2").tolist()
    [2101, 7358]
    """
    salts = [salt] if isinstance(salt, str) else list(salt)
    if not salts:
        raise InvalidArgument("salt", salt, "give at least one salt")
    states = np.array([fnv1a_state(f"{_check_salt(s)}:".encode()) for s in salts], dtype=np.uint32)[
        :, None
    ]
    offsets, data = string_buffers(as_string_array(ids))
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    h = np.empty((len(salts), n), dtype=np.uint32)
    # numpy sorts 16-bit keys by radix (O(n)): ~15x faster than int32 keys here.
    key = -lengths.astype(np.int16) if n and lengths.max() < 2**15 else -lengths
    for lo in range(0, n, _CHUNK):
        hi = min(lo + _CHUNK, n)
        order = np.argsort(key[lo:hi], kind="stable")
        h[:, lo + order] = _fold(states, offsets[lo:hi][order], lengths[lo:hi][order], data)
    result = (_fmix32_array(h) % np.uint32(BUCKETS)).astype(np.int32)
    return result[0] if isinstance(salt, str) else result


# Ids per chunk: their bytes (and the chunk's state) stay in cache across byte positions.
_CHUNK = 1 << 16


def _fold(
    states: np.ndarray, starts: np.ndarray, lengths: np.ndarray, data: np.ndarray
) -> np.ndarray:
    """FNV-1a from ``states`` (k, 1) over ids given by starts/lengths, sorted longest first."""
    h = np.repeat(states, len(starts), axis=1)
    positions = starts.copy()
    longest = int(lengths[0]) if len(lengths) else 0
    # active[j]: how many ids still have a byte at position j
    active = np.searchsorted(-lengths, -np.arange(longest), side="left")
    prime = np.uint32(FNV_PRIME)
    for count in active.tolist():
        part = h[:, :count]
        part ^= data[positions[:count]]
        part *= prime
        positions[:count] += 1
    return h
