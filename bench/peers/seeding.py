"""NumPy's side of the seeding suite: SeedSequence.spawn and Generator.integers.

Prints one JSON line per case, in the schema of crates/benchkit.
"""
import numpy as np

import benchkit


def measure(case, items, run):
    benchkit.measure("seeding", "numpy", case, items, run)


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
