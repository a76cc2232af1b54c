"""Peer for the `nn` bench suite: the same TinyDetector training step in PyTorch.

One step = forward (train mode) + loss + backward + AdamW update, batch 32 of 96x96
images, on the CPU with torch.set_num_threads(LOCKSTEP_BENCH_THREADS, default 2), as
crates/nn/benches/nn.rs measures ours. Prints JSON lines of the benchkit schema.
Reads nothing from the network. LOCKSTEP_BENCH_QUICK=1 takes one sample.
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import benchkit

BATCH = 32
SIZE = 96
CLASSES = 3
WIDTH = 8
NEG_WEIGHT = 0.5
BOX_WEIGHT = 2.0


class ConvBnRelu(nn.Module):
    def __init__(self, cin, cout, stride, dilation):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class TinyDetector(nn.Module):
    def __init__(self, w=WIDTH, classes=CLASSES):
        super().__init__()
        plan = [(3, w, 2, 1), (w, 2 * w, 2, 1), (2 * w, 2 * w, 1, 1), (2 * w, 4 * w, 2, 1), (4 * w, 4 * w, 1, 1), (4 * w, 4 * w, 1, 2)]
        self.blocks = nn.ModuleList(ConvBnRelu(*p) for p in plan)
        self.head = nn.Conv2d(4 * w, 5 + classes, 1)
        with torch.no_grad():
            self.head.bias[0] = -4.0

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def loss_fn(pred, t, classes=CLASSES):
    pos = t[:, 0:1]
    npos = pos.sum().clamp_min(1.0)
    weight = pos * (1.0 - NEG_WEIGHT) + NEG_WEIGHT
    obj = F.binary_cross_entropy_with_logits(pred[:, 0:1], pos, weight=weight, reduction="sum")
    xy = F.smooth_l1_loss(pred[:, 1:3].sigmoid(), t[:, 1:3], reduction="none", beta=1.0 / 9.0)
    wh = F.smooth_l1_loss(pred[:, 3:5], t[:, 3:5], reduction="none", beta=1.0 / 9.0)
    boxes = ((xy + wh) * pos).sum()
    logp = pred[:, 5 : 5 + classes].log_softmax(1)
    cls = -(logp.gather(1, t[:, 5:6].long()) * pos).sum()
    return (obj + BOX_WEIGHT * boxes + cls) / npos


def batch(gen):
    images = torch.rand(BATCH, 3, SIZE, SIZE, generator=gen)
    g = SIZE // 8
    t = torch.zeros(BATCH, 6, g, g)
    for i in range(BATCH):
        for _ in range(3):
            y, x = torch.randint(0, g, (2,), generator=gen).tolist()
            t[i, 0, y, x] = 1.0
            t[i, 1:3, y, x] = torch.rand(2, generator=gen)
            t[i, 3:5, y, x] = torch.rand(2, generator=gen) * 1.5
            t[i, 5, y, x] = float(torch.randint(0, CLASSES, (1,), generator=gen).item())
    return images, t


def main():
    threads = int(os.environ.get("LOCKSTEP_BENCH_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(9)
    images, targets = batch(gen)
    model = TinyDetector()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), targets)
        loss.backward()
        opt.step()
        return loss.item()

    print(f"bench nn/train step b32 (torch, {threads} threads) ...", file=sys.stderr)
    benchkit.measure("nn", "torch", "train step b32", BATCH, lambda s: step())
    assert math.isfinite(step())


if __name__ == "__main__":
    main()
