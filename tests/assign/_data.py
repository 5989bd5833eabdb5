"""Deterministic unit ids of every shape an experiment meets: ASCII, Unicode, UUIDs, digits."""

from __future__ import annotations

import random
import uuid

_ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@/'\" ",
    "äöüßéèçñøåœæłžšđ",  # Latin with diacritics: 2-byte UTF-8
    "日本語中文한국어ไทยעבריתالعربية",  # CJK, Thai, Hebrew, Arabic: 2-3 bytes
    "😀🚀🎲🧪🐍🔥",  # emoji: 4 bytes
)


def mixed_ids(n: int, seed: int = 20240601) -> list[str]:
    """n distinct ids: a quarter each UUIDs, user-style ASCII, numeric strings, mixed Unicode."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        kind = len(out) % 4
        if kind == 0:
            candidate = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        elif kind == 1:
            candidate = f"user-{rng.randrange(10**9)}"
        elif kind == 2:
            candidate = str(rng.randrange(10 ** rng.randint(1, 19)))
        else:
            length = rng.randint(1, 24)
            candidate = "".join(rng.choice(rng.choice(_ALPHABETS)) for _ in range(length))
        if candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
    return out
