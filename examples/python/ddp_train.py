"""A small CNN trained with torch.distributed under torchrun, made reproducible with
lockstep: LockstepSampler (same global order for any world size, mid-epoch resume),
per-sample augmentation keys through KeyedDataset, and reseed() before each step.

    torchrun --standalone --nproc_per_node=2 examples/python/ddp_train.py --out run.json

Backend: gloo on CPU, NCCL where a GPU exists. `--stop-after K` writes a checkpoint
after step K and exits; `--resume CKPT` continues from one. Rank 0 writes `--out`: the
final weights' SHA-256, and every sample each rank saw, per epoch.
"""

import argparse
import datetime
import hashlib
import json
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

import lockstep
from lockstep.torch import KeyedDataset, LockstepSampler, reseed, reseed_init

SIDE = 16


def make_images(seed: lockstep.SeedTree, n: int):
    """n synthetic 16x16 RGB images (bytes from the seed tree) and labels i % 4."""
    node = seed.child("images")
    images = []
    for i in range(n):
        words = np.array([node.index(i).u64_at(j) for j in range(SIDE * SIDE * 3 // 8)], np.uint64)
        images.append(words.view(np.uint8).reshape(SIDE, SIDE, 3))
    return [(img, i % 4) for i, img in enumerate(images)]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 6 * 6, 4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(self.drop(x.flatten(1)))


PIPELINE = lockstep.Compose(
    [
        lockstep.Op("random_crop", width=12, height=12),
        lockstep.Op("hflip", p=0.5),
        lockstep.Op("brightness", low=0.8, high=1.2),
    ]
)


def augment(item, key):
    image, label = item
    out = PIPELINE.apply(image, key=key)
    x = torch.from_numpy(out.image).permute(2, 0, 1).float().div_(255.0)
    return x, label, key.node.path


def weights_digest(model) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def own_keys(gathered):
    """Each rank's own `epoch/rank` lists, from what every rank gathered."""
    return {k: v for r, s in enumerate(gathered) for k, v in s.items() if k.endswith(f"/{r}")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--len", type=int, default=48)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4, help="per rank")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--stop-after", type=int, default=None)
    p.add_argument("--resume", default=None)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    torch.set_num_threads(1)  # the thread count changes libtorch's bits
    torch.use_deterministic_algorithms(True)
    cuda = torch.cuda.is_available()
    # A rank that dies must fail the job, not leave the others waiting forever.
    dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=120))
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")

    root = lockstep.SeedTree.from_int(a.seed)
    run, data = lockstep.RunKey(root.child("run")), root.child("data")
    dataset = KeyedDataset(make_images(root, a.len), data, augment)
    sampler = LockstepSampler(dataset, data, keyed=True)

    reseed_init(run)
    model = Net().to(device)
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)

    step, epoch0, seen = 0, 0, {}
    if a.resume:
        ck = torch.load(a.resume, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sampler.load_state_dict(ck["sampler"])  # may be another world size
        step, epoch0 = ck["step"], ck["sampler"]["epoch"]
        seen = {k: v for k, v in ck["seen"].items() if k.endswith(f"/{rank}")}

    for epoch in range(epoch0, a.epochs):
        sampler.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch_size, sampler=sampler, num_workers=a.workers)
        in_epoch = 0
        for x, y, paths in loader:
            reseed(run, step)  # dropout of step k depends only on (run, k)
            loss = F.cross_entropy(ddp(x.to(device)), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            in_epoch += len(y)
            seen.setdefault(f"{epoch}/{rank}", []).extend(paths)
            if a.stop_after is not None and step == a.stop_after:
                state = sampler.state_dict(samples_seen=in_epoch)
                if rank == 0:
                    all_seen = [None] * world
                    dist.gather_object(seen, all_seen, dst=0)
                    merged = own_keys(all_seen)
                    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "sampler": state, "step": step, "seen": merged}, a.checkpoint)
                else:
                    dist.gather_object(seen, None, dst=0)
                dist.barrier()
                dist.destroy_process_group()
                return

    gathered = [None] * world if rank == 0 else None
    dist.gather_object(seen, gathered, dst=0)
    if rank == 0:
        merged = own_keys(gathered)
        with open(a.out, "w") as f:
            json.dump({"weights_sha256": weights_digest(model), "steps": step, "world": world, "seen": merged}, f)
    # Every rank past its last collective before any tears the group down: destroying a
    # gloo group while a peer's work is still in flight can deadlock on exit (its
    # worker thread waits for the GIL that the destructor's join holds).
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
