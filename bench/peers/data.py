"""NumPy's side of the data suite: a full permutation of 10^7 indices.

Prints one JSON line per case, in the schema of crates/benchkit. The index permutation,
buffered shuffle, interleave and sampler cases have no sensible NumPy counterpart and are
measured on our side only.
"""
import numpy as np

import benchkit


def measure(case, items, run):
    benchkit.measure("data", "numpy", case, items, run)


def main():
    n = 10**7
    measure("permutation 1e7", n, lambda s: np.random.default_rng(s).permutation(n))


if __name__ == "__main__":
    main()
