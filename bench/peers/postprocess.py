"""Peer side of the `postprocess` bench suite: torchvision.ops.nms on CPU, one thread.

Prints one JSON line per case, the schema of lockstep-benchkit. The workload is rebuilt
from the recipe documented in crates/postprocess/benches/postprocess.rs (xorshift64 with
shifts 13/7/17, used only to lay out boxes), so both sides time the same boxes.
Honours LOCKSTEP_BENCH_QUICK (one sample). Reads nothing from the network.
"""

import sys

import numpy as np
import torch
import torchvision

import benchkit

MASK = (1 << 64) - 1


class Recipe:
    def __init__(self, n):
        self.s = (0x9E3779B97F4A7C15 ^ n) & MASK

    def next(self):
        s = self.s
        s ^= (s << 13) & MASK
        s ^= s >> 7
        s ^= (s << 17) & MASK
        self.s = s
        return s

    def unit(self):
        return (self.next() >> 11) / float(1 << 53)


def workload(n):
    r = Recipe(n)
    m = max(1, n // 25)
    objects = []
    for _ in range(m):
        cx = r.unit() * 1280.0
        cy = r.unit() * 1280.0
        w = 16.0 + r.unit() * 112.0
        h = 16.0 + r.unit() * 112.0
        objects.append((cx, cy, w, h))
    boxes = np.empty((n, 4), dtype=np.float64)
    scores = np.empty(n, dtype=np.float64)
    for i in range(n):
        cx, cy, w, h = objects[i % m]
        dx = (r.unit() - 0.5) * 0.3 * w
        dy = (r.unit() - 0.5) * 0.3 * h
        sw = w * (0.85 + r.unit() * 0.3)
        sh = h * (0.85 + r.unit() * 0.3)
        x1 = cx + dx - sw / 2.0
        y1 = cy + dy - sh / 2.0
        boxes[i] = (x1, y1, x1 + sw, y1 + sh)
        scores[i] = (r.next() >> 40) / float(1 << 24)
    return (
        torch.from_numpy(boxes.astype(np.float32)),
        torch.from_numpy(scores.astype(np.float32)),
    )


def main():
    torch.set_num_threads(1)
    for label, n in [("1k", 1_000), ("10k", 10_000), ("50k", 50_000)]:
        boxes, scores = workload(n)
        kept = torchvision.ops.nms(boxes, scores, 0.5).numel()
        print(f"bench postprocess/nms clustered {label}: {n} boxes, {kept} kept", file=sys.stderr)
        benchkit.measure("postprocess", "torchvision", f"nms clustered {label}", n,
                         lambda s: torchvision.ops.nms(boxes, scores, 0.5))


if __name__ == "__main__":
    main()
