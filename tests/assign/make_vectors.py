"""Write tests/assign/vectors_v1.json: hash version 1's test vectors, frozen once.

    .venv/bin/python tests/assign/make_vectors.py

Hashes and buckets come from the plain-Python definition below (no champion code); variants
and reasons from champion's Assigner as it was when the file was written. The tests compare
the code with the stored file and never regenerate it: if they fail, the code changed what
units see, which hash version 1 forbids.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

from champion.assign import Assigner

OUT = Path(__file__).with_name("vectors_v1.json")

CONFIGS = [
    {
        "salt": "fraud-detector-v2",
        "champion": "v1_3",
        "challengers": ["v2_0"],
        "allocation": {"v1_3": 0.95, "v2_0": 0.05},
    },
    {
        "salt": "s",
        "champion": "control",
        "challengers": ["a", "b"],
        "allocation": {"control": 0.1, "a": 0.6, "b": 0.3},
    },
    {
        "salt": "ünï-salt:with'quote",
        "champion": "champ",
        "challengers": ["a", "b", "c", "d"],
        "allocation": {"a": 0.1, "b": 0.0, "c": 0.45, "d": 0.05},
    },
    {
        "salt": "layered",
        "champion": "c",
        "challengers": ["t"],
        "allocation": {"c": 0.5, "t": 0.5},
        "overrides": {"qa-user": "t"},
        "holdout": {"share": 0.1, "salt": "global"},
        "layer": {"name": "checkout", "start": 0.25, "end": 0.75},
    },
]


def fnv1a_32(data: bytes) -> int:
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) % 2**32
    return h


def fmix32(h: int) -> int:
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) % 2**32
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) % 2**32
    return h ^ (h >> 16)


def unit_ids() -> list[str]:
    rng = random.Random(1)
    fixed = ["", " ", "0", "1", "-1", "00", "007", "qa-user", "a:b", ":", "::", "it's"]
    fixed += ['say "hi"', "back\\slash", "tab\tand\nnewline", "é", "e\u0301", "ß", "日本語"]
    fixed += ["한국어", "עברית", "العربية", "😀", "👩‍💻", "🇩🇪", "\u200b", "x" * 1000, "é" * 300]
    users = [f"user-{i}" for i in range(1, 61)]
    numbers = [str(rng.randrange(10 ** rng.randint(1, 19))) for _ in range(40)]
    uuids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(40)]
    mixed = [
        "".join(rng.choice("aé日😀-_:Z9") for _ in range(rng.randint(1, 30))) for _ in range(30)
    ]
    return fixed + users + numbers + uuids + mixed


def render(cases: list[tuple[dict, list[list]]]) -> str:
    """JSON with one vector per line, so a diff shows exactly which unit changed."""

    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    parts = []
    for config, rows in cases:
        lines = ",\n".join(f"    {dump(row)}" for row in rows)
        parts.append(f'  {{"config": {dump(config)},\n   "vectors": [\n{lines}\n   ]}}')
    head = {
        "algorithm": "fnv1a32-fmix32-mod10000-v1",
        "hash_version": 1,
        "key": "UTF-8 bytes of salt + ':' + unit_id",
        "columns": ["unit_id", "hash32", "bucket", "variant", "reason"],
    }
    fields = ",\n".join(f" {dump(k)}: {dump(v)}" for k, v in head.items())
    return "{\n" + fields + ',\n "cases": [\n' + ",\n".join(parts) + "\n ]\n}\n"


def main() -> None:
    ids = unit_ids()
    cases = []
    for config in CONFIGS:
        assigner = Assigner(**config)
        rows = []
        for unit_id in ids:
            h = fmix32(fnv1a_32(f"{config['salt']}:{unit_id}".encode()))
            got = assigner.assign(unit_id)
            assert got.bucket == h % 10000
            rows.append([unit_id, h, h % 10000, got.variant, got.reason])
        cases.append((config, rows))
    OUT.write_text(render(cases), encoding="utf-8")
    print(f"wrote {OUT} ({len(ids)} ids x {len(CONFIGS)} configurations)")


if __name__ == "__main__":
    main()
