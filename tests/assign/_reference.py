"""Hash version 1 written from its definition (docs/assignment.md), sharing no code with src/."""

from __future__ import annotations

import functools

TWO32 = 2**32


def ref_fnv1a_32(data: bytes) -> int:
    """FNV-1a as Noll's reference: xor the byte, then multiply by the 32-bit FNV prime."""
    return functools.reduce(lambda h, b: ((h ^ b) * 16777619) % TWO32, data, 2166136261)


def ref_fmix32(h: int) -> int:
    for shift, mult in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = ((h ^ (h >> shift)) * mult) % TWO32
    return h ^ (h >> 16)


def ref_hash(salt: str, unit_id: str) -> int:
    return ref_fmix32(ref_fnv1a_32((salt + ":" + unit_id).encode("utf-8")))


def ref_bucket(salt: str, unit_id: str) -> int:
    return ref_hash(salt, unit_id) % 10000
