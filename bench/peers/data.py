"""NumPy's side of the data suite: a full permutation of 10^7 indices.

Prints one JSON line per case, in the schema of crates/benchkit. The index permutation,
buffered shuffle, interleave and sampler cases have no sensible NumPy counterpart and are
measured on our side only.
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
    print(json.dumps({"suite": "data", "case": case, "impl": "numpy", "items": items,
                      "ns_per_item": median, "samples": len(per_item)}), flush=True)


def main():
    n = 10**7
    measure("permutation 1e7", n, lambda s: np.random.default_rng(s).permutation(n))


if __name__ == "__main__":
    main()
