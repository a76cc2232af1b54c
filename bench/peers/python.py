"""The `python` bench suite: the `lockstep` module (the binding, labelled `lockstep`)
against the Rust calls it wraps (`rust`, from crates/python/benches/python.rs in the
same run) and against the Python peers (`torch`, `torchvision`).

- Binding overhead: `SeedTree.child`, `Sampler` iteration (per sample) and a 3-op
  `Compose.apply` on a 224x224 image; target: at most 1000 ns more per call than Rust
  (`max_ns_per_item` = the Rust time + 1000). A Python `for` loop drives the calls, so
  its own cost (tens of ns) counts against the binding.
- `LockstepSampler` against `torch.utils.data.DistributedSampler`, 1e6 samples, world 2.
- The augment suite's pipeline (crop 224 of 256, flip, brightness, contrast,
  saturation) on the same images: one image, and through a `DataLoader` (batch 16,
  num_workers 0 and 2, persistent workers) against torchvision.transforms.v2.
- NMS through the binding against `torchvision.ops.nms` on the postprocess suite's
  boxes (bench/peers/postprocess.py builds them; both sides get the same arrays).

Augment and NMS target: at least 80% of the Rust speedup over torchvision, i.e.
`min_speedup` = 0.8 x (torchvision time / Rust time), both measured in this run.

The Rust records come from the file named by LOCKSTEP_BENCH_OURS (the xtask writes
it); without it the records carry no targets. torch and our module use one thread in
this process (torch.set_num_threads(1)); workers are separate processes. Prints one
JSON line per (case, implementation), the schema of lockstep-benchkit, timed by
benchkit.py. Reads nothing from the network.
"""

import contextlib
import io
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch.utils.data import DataLoader, DistributedSampler
from torchvision.transforms import v2

import lockstep
from lockstep.torch import KeyedDataset, LockstepSampler

import benchkit
from augment import test_image
from postprocess import workload

SUITE = "python"
ADDED_NS = 1000.0  # the binding's allowance per call over the Rust call
KEPT = 0.8  # the share of Rust's speedup over a peer the binding must keep


def rust_records():
    path = os.environ.get("LOCKSTEP_BENCH_OURS")
    if not path:
        return {}
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                if r.get("suite") == SUITE and r.get("impl") == "rust":
                    out[r["case"]] = r["ns_per_item"]
    return out


RUST = rust_records()


def measure(case, impl, items, run, min_speedup=None, max_ns_per_item=None):
    """benchkit.measure, with the targets added to the record it prints."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        benchkit.measure(SUITE, impl, case, items, run)
    record = json.loads(buf.getvalue())
    if min_speedup:
        record["min_speedup"] = min_speedup
    if max_ns_per_item is not None:
        record["max_ns_per_item"] = max_ns_per_item
    print(json.dumps(record), flush=True)
    return record["ns_per_item"]


def binding(case, items, run):
    """A binding-overhead case: ours, capped at the Rust time + ADDED_NS."""
    rust = RUST.get(case)
    ns = measure(case, "lockstep", items, run,
                 max_ns_per_item=None if rust is None else round(rust + ADDED_NS, 1))
    if rust is not None:
        print(f"bench {SUITE}/{case}: binding adds {ns - rust:.0f} ns per call", file=sys.stderr)


def keep_share(case, peer, peer_ns):
    """min_speedup against `peer`: KEPT x Rust's speedup over it (case's Rust time)."""
    rust = RUST.get(case)
    if rust is None:
        return None
    return {peer: round(KEPT * peer_ns / rust, 3)}


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    epoch = lockstep.EpochKey(lockstep.SeedTree.from_int(1).child("bench"), 0)

    # Binding overhead per call.
    root = lockstep.SeedTree.from_int(42).child("train")
    child = root.child
    children = 100_000

    def derive(_):
        for _ in range(children):
            child("augment")

    binding("SeedTree.child", children, derive)

    n = 1_000_000
    seed = lockstep.SeedTree.from_int(7).child("data")

    def iterate(_):
        for _ in lockstep.Sampler(n, seed):
            pass

    binding("Sampler iteration", n, iterate)

    three = lockstep.Compose([
        lockstep.Op("hflip", p=0.5),
        lockstep.Op("brightness", low=0.6, high=1.4),
        lockstep.Op("contrast", low=0.6, high=1.4),
    ])
    small = np.ascontiguousarray(test_image()[:224, :224])
    binding("augment 3-op 224x224", 1,
            lambda s: three.apply(small, key=epoch.sample(s)).image)

    # LockstepSampler against DistributedSampler: rank 0 of 2 over 1e6 samples.
    ls = LockstepSampler(n, seed, rank=0, world_size=2)
    ds = DistributedSampler(range(n), num_replicas=2, rank=0, shuffle=True, seed=0)
    for impl, sampler in (("torch", ds), ("lockstep", ls)):
        def epoch_of(s, sampler=sampler):
            sampler.set_epoch(s)
            for _ in sampler:
                pass
        measure("sampler 1e6 world 2", impl, len(sampler), epoch_of)

    # The augment suite's pipeline on one image, then through a DataLoader.
    five = lockstep.Compose([
        lockstep.Op("random_crop", width=224, height=224),
        lockstep.Op("hflip", p=0.5),
        lockstep.Op("brightness", low=0.6, high=1.4),
        lockstep.Op("contrast", low=0.6, high=1.4),
        lockstep.Op("saturation", low=0.6, high=1.4),
    ])
    tv = v2.Compose([
        v2.RandomCrop(224),
        v2.RandomHorizontalFlip(0.5),
        v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
    ])
    images = [test_image(i) for i in range(128)]
    tensors = [torch.from_numpy(a).permute(2, 0, 1).contiguous() for a in images]
    case = "augment pipeline 256->224"
    tv_ns = measure(case, "torchvision", 1, lambda s: tv(tensors[s % 128]))
    measure(case, "lockstep", 1,
            lambda s: five.apply(images[s % 128], key=epoch.sample(s)).image,
            min_speedup=keep_share(case, "torchvision", tv_ns))

    class Torchvision(torch.utils.data.Dataset):
        def __len__(self):
            return len(tensors)

        def __getitem__(self, i):
            return tv(tensors[i])

    data = lockstep.SeedTree.from_int(3).child("data")
    keyed = KeyedDataset(images, data, lambda image, key: five.apply(image, key=key).image)
    for workers in (0, 2):
        loaded = f"DataLoader augment nw{workers}"
        common = dict(batch_size=16, num_workers=workers, persistent_workers=workers > 0)
        tv_loader = DataLoader(Torchvision(), shuffle=True, **common)
        sampler = LockstepSampler(len(images), data, rank=0, world_size=1, keyed=True)
        ls_loader = DataLoader(keyed, sampler=sampler, **common)

        def drain(s, loader, sampler=None):
            if sampler is not None:
                sampler.set_epoch(s)
            for _ in loader:
                pass

        print(f"bench {SUITE}/{loaded}: {len(images)} images, batch 16", file=sys.stderr)
        tv_loaded = measure(loaded, "torchvision", len(images), lambda s: drain(s, tv_loader))
        # The Rust time is the single-image pipeline's: the loader's own cost counts
        # against the binding.
        rust = RUST.get(case)
        share = None if rust is None else {"torchvision": round(KEPT * tv_ns / rust, 3)}
        measure(loaded, "lockstep", len(images), lambda s: drain(s, ls_loader, sampler),
                min_speedup=share)
        print(f"bench {SUITE}/{loaded}: torchvision {1e9 / tv_loaded:.0f} images/s",
              file=sys.stderr)
        del tv_loader, ls_loader

    # NMS on the same boxes for both.
    for label, count in (("1k", 1_000), ("10k", 10_000), ("50k", 50_000)):
        case = f"nms clustered {label}"
        boxes, scores = workload(count)
        b, s = boxes.numpy(), scores.numpy()
        ours = lockstep.nms(b, s, 0.5)
        theirs = torchvision.ops.nms(boxes, scores, 0.5)
        print(f"bench {SUITE}/{case}: {count} boxes, lockstep keeps {len(ours)}, "
              f"torchvision {theirs.numel()}", file=sys.stderr)
        tv_ns = measure(case, "torchvision", count,
                        lambda _: torchvision.ops.nms(boxes, scores, 0.5))
        measure(case, "lockstep", count, lambda _: lockstep.nms(b, s, 0.5),
                min_speedup=keep_share(case, "torchvision", tv_ns))


if __name__ == "__main__":
    main()
