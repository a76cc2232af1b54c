"""NumPy's side of the seeding suite: SeedSequence.spawn and Generator.integers.

Prints one JSON line per case, in the schema of crates/benchkit.
"""
import json
import os
import time

import numpy as np

QUICK = bool(os.environ.get("LOCKSTEP_BENCH_QUICK"))
MIN_SAMPLES = 1 if QUICK else 5
MIN_TIME = 0.0 if QUICK else 0.4


def measure(case, items, run):
    run(0)
    per_item = []
    started = time.perf_counter()
    sample = 1
    while len(per_item) < MIN_SAMPLES or time.perf_counter() - started < MIN_TIME:
        t = time.perf_counter()
        run(sample)
        per_item.append((time.perf_counter() - t) * 1e9 / items)
        sample += 1
    per_item.sort()
    mid = len(per_item) // 2
    median = per_item[mid] if len(per_item) % 2 else (per_item[mid - 1] + per_item[mid]) / 2
    print(json.dumps({"suite": "seeding", "case": case, "impl": "numpy", "items": items,
                      "ns_per_item": median, "samples": len(per_item)}), flush=True)


def main():
    root = np.random.SeedSequence(42)
    children = 100_000
    measure("child derivation", children, lambda s: root.spawn(children))
    draws = 1 << 22
    measure("u64 bulk", draws, lambda s: np.random.default_rng(s).integers(
        0, 2**64 - 1, size=draws, dtype=np.uint64, endpoint=True))
    measure("integers below 1000", draws, lambda s: np.random.default_rng(s).integers(
        0, 1000, size=draws, dtype=np.uint64))


if __name__ == "__main__":
    main()
