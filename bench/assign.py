"""Assignment benchmark: champion against GrowthBook's Python SDK and a plain md5 router.

Per call, each contender assigns one unit at a time, the way a service does per request:

- champion ``Assigner.assign(unit_id)``: the full Assignment (variant, bucket, reason,
  exposed, probability, versions); also ``Assigner.variant(unit_id)``, the name only.
- GrowthBook: one ``GrowthBook`` object and one ``Experiment(key, variations, weights)`` are
  made once; per call the SDK's documented ``set_attributes({"id": unit_id})`` swaps the user
  and ``run(experiment)`` evaluates (no network: no client key, no tracking callback).
- md5 router: ``int(md5((salt + id).encode()).hexdigest(), 16) % 100``, the usual hand-rolled
  baseline (it returns a percentile, not a variant).

Batch: ``Assigner.assign_batch(ids)`` on 1,000,000 Python strings (conversion to Arrow
included), variant names out. numpy's and Arrow's thread pools are set to one thread (all the
work runs on one core; ``--pin N`` also binds the process to CPU N). The contenders run in
turn, round robin, and every figure is the median over ``--repeats`` rounds.

``--parts`` also times the per-call path built up step by step (key, FNV-1a, fmix32,
``variant()``, ``assign()``): the difference between two rows is what a step costs.

    .venv/bin/python bench/assign.py [--repeats 7] [--calls 200000] [--pin 0] [--parts] [--json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402 (thread settings must precede numpy's import)
import hashlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import mmh3  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from fnv_hash_fast import fnv1a_32  # noqa: E402

from champion.assign import Assigner  # noqa: E402

SALT = "fraud-detector-v2"
VARIANTS = ["v1_3", "v2_0"]
WEIGHTS = [0.95, 0.05]


def one_core(pin: int | None) -> str:
    """Single-threaded numpy/Arrow; with ``pin``, also bound to that CPU."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if pin is None:
        return "one thread"
    os.sched_setaffinity(0, {pin})
    return f"one thread, pinned to core {pin}"


def make_ids(n: int, seed: int = 11) -> list[str]:
    """A quarter each: UUID-shaped, user-N, numeric strings, non-ASCII."""
    rng = np.random.default_rng(seed)
    hexes = rng.bytes(16 * n).hex()
    numbers = rng.integers(0, 10**15, size=n).tolist()
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            h = hexes[32 * i : 32 * i + 32]
            out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
        elif kind == 1:
            out.append(f"user-{i}")
        elif kind == 2:
            out.append(str(numbers[i]))
        else:
            out.append(f"ü-{numbers[i]}-日本-😀")
    return out


def per_call(fn: Callable[[str], object], ids: list[str]) -> float:
    start = time.perf_counter()
    for unit_id in ids:
        fn(unit_id)
    return len(ids) / (time.perf_counter() - start)


def per_batch(fn: Callable[[list[str]], object], ids: list[str]) -> float:
    start = time.perf_counter()
    fn(ids)
    return len(ids) / (time.perf_counter() - start)


def growthbook_router() -> tuple[Callable[[str], int], Callable[[], None]]:
    try:
        from growthbook import Experiment, GrowthBook
    except ImportError as e:
        raise SystemExit("GrowthBook is missing: pip install 'champion[bench]'") from e
    gb = GrowthBook(attributes={"id": ""})
    experiment = Experiment(key=SALT, variations=VARIANTS, weights=WEIGHTS)

    def run(unit_id: str) -> int:
        gb.set_attributes({"id": unit_id})
        return gb.run(experiment).variationId

    return run, gb.destroy


def md5_router(unit_id: str, salt: str = SALT, md5: Callable = hashlib.md5) -> int:
    return int(md5((salt + unit_id).encode()).hexdigest(), 16) % 100


def parts(assigner: Assigner, ids: list[str], repeats: int) -> dict[str, float]:
    """Median ns per call of the hot path's steps, each row doing one more step."""
    prefix = f"{SALT}:"
    fmix32 = mmh3.mmh3_32_uintdigest  # with key b"" and seed h: fmix32(h), as the assigner
    steps: dict[str, Callable[[str], object]] = {
        "a call that does nothing": lambda u: None,
        "+ key (salt + ':' + id).encode()": lambda u: (prefix + u).encode(),
        "+ FNV-1a over the key (C)": lambda u: fnv1a_32((prefix + u).encode()),
        "+ fmix32 (C), mod 10000": lambda u: fmix32(b"", fnv1a_32((prefix + u).encode())) % 10000,
        "variant(): + method call, table lookup": assigner.variant,
        "assign(): + the Assignment": assigner.assign,
    }
    rates: dict[str, list[float]] = {key: [] for key in steps}
    for _ in range(repeats):
        for key, step in steps.items():
            rates[key].append(per_call(step, ids))
    return {key: 1e9 / statistics.median(v) for key, v in rates.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200_000, help="ids per per-call run")
    parser.add_argument("--growthbook-calls", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000_000, help="ids per batch run")
    parser.add_argument("--pin", type=int, default=None, help="bind the process to this CPU")
    parser.add_argument("--parts", action="store_true", help="also time the per-call steps")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)

    pinning = one_core(args.pin)
    ids = make_ids(max(args.calls, args.batch))
    calls = ids[: args.calls]
    assigner = Assigner(SALT, VARIANTS[0], VARIANTS[1:], dict(zip(VARIANTS, WEIGHTS, strict=True)))
    gb_run, gb_close = growthbook_router()

    # The contenders must agree on the split before their speed means anything.
    sample = ids[:20_000]
    shares = {
        "champion": np.mean([assigner.assign(u).variant == "v2_0" for u in sample]),
        "growthbook": np.mean([gb_run(u) == 1 for u in sample]),
        "md5": np.mean([md5_router(u) < 5 for u in sample]),
    }

    batch = ids[: args.batch]
    runs: dict[str, Callable[[], float]] = {
        "per_call": lambda: per_call(assigner.assign, calls),
        "variant": lambda: per_call(assigner.variant, calls),
        "growthbook": lambda: per_call(gb_run, calls[: args.growthbook_calls]),
        "md5": lambda: per_call(md5_router, calls),
        "batch": lambda: per_batch(assigner.assign_batch, batch),
        "batch_codes": lambda: per_batch(lambda x: assigner.assign_batch(x, codes=True), batch),
    }
    # Round robin: a burst of load elsewhere on the machine hits every contender alike.
    rates: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, run in runs.items():
            rates[key].append(run())
    gb_close()
    median = {k: statistics.median(v) for k, v in rates.items()}

    labels = {
        "per_call": "champion assign() per call",
        "variant": "champion variant() per call",
        "growthbook": "GrowthBook run() per call",
        "md5": "md5 router per call",
        "batch": f"champion assign_batch, {args.batch:,} str",
        "batch_codes": "  same, variant codes (uint8)",
    }
    print(f"{pinning}; {args.repeats} rounds (best = fastest round); share in v2_0 (target 5%): "
          + ", ".join(f"{k} {v:.2%}" for k, v in shares.items()))  # fmt: skip
    best = {k: max(v) for k, v in rates.items()}
    print(
        f"{'':38} {'median/s':>11} {'best/s':>11} {'x GrowthBook':>13} {'x md5':>6}"
        f" {'best x md5':>10}"
    )
    for key, label in labels.items():
        print(
            f"{label:38} {median[key]:>11,.0f} {best[key]:>11,.0f} "
            f"{median[key] / median['growthbook']:>13.1f} {median[key] / median['md5']:>6.2f}"
            f" {best[key] / best['md5']:>10.2f}"
        )
    targets = {
        "per_call_10x_growthbook": median["per_call"] >= 10 * median["growthbook"],
        "per_call_ge_md5": median["per_call"] >= median["md5"],
        "variant_ge_md5": median["variant"] >= median["md5"],
        "batch_5m_per_s": median["batch"] >= 5_000_000,
    }
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))
    steps = parts(assigner, calls, args.repeats) if args.parts else {}
    if steps:
        print(f"\nper-call steps (median ns per call){'':3} {'ns':>6} {'step':>6}")
        previous = 0.0
        for label, ns in steps.items():
            print(f"{label:38} {ns:>6.0f} {ns - previous:>+6.0f}")
            previous = ns
    if args.json:
        result = {
            "per_call_per_s": median["per_call"],
            "batch_per_s": median["batch"],
            "growthbook_per_s": median["growthbook"],
            "md5_per_s": median["md5"],
            "variant_per_s": median["variant"],
            "batch_codes_per_s": median["batch_codes"],
            "best_per_s": {k: round(v, 1) for k, v in best.items()},
            "per_call_vs_growthbook": median["per_call"] / median["growthbook"],
            "per_call_vs_md5": median["per_call"] / median["md5"],
            "repeats": args.repeats,
            "batch_size": args.batch,
            "targets": targets,
        }
        if steps:
            result["parts_ns"] = {k: round(v, 1) for k, v in steps.items()}
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
