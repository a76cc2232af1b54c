"""The peers' half of crates/benchkit: time a callable and print one JSON record.

Every peer script imports this, so ours and theirs are measured the same way: one
untimed warm-up call, then at least 5 timed calls and at least 0.4 s (one call with
LOCKSTEP_BENCH_QUICK set), and the median time per item.
"""
import json
import os
import statistics
import time

QUICK = bool(os.environ.get("LOCKSTEP_BENCH_QUICK"))
MIN_SAMPLES = 1 if QUICK else 5
MIN_TIME = 0.0 if QUICK else 0.4


def measure(suite, impl, case, items, run):
    """Times run(sample) and prints the record of (suite, case) for peer `impl`."""
    run(0)
    per_item = []
    started = time.perf_counter()
    sample = 1
    while len(per_item) < MIN_SAMPLES or time.perf_counter() - started < MIN_TIME:
        t = time.perf_counter()
        run(sample)
        per_item.append((time.perf_counter() - t) * 1e9 / items)
        sample += 1
    print(json.dumps({"suite": suite, "case": case, "impl": impl, "items": items,
                      "ns_per_item": statistics.median(per_item),
                      "samples": len(per_item)}), flush=True)
