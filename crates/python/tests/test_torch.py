"""lockstep.torch: LockstepSampler, KeyedDataset and reseed, in process and in a real
torchrun job (examples/python/ddp_train.py, gloo on CPU)."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import lockstep
from lockstep import SeedTree

if os.environ.get("LOCKSTEP_REQUIRE_TORCH"):
    import torch  # noqa: F401 - `cargo xtask test` must not skip these
else:
    torch = pytest.importorskip("torch")

from lockstep.torch import KeyedDataset, LockstepSampler, reseed, reseed_init  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "python" / "ddp_train.py"


def kill_ranks(out: Path) -> None:
    """Kills the ranks of the run writing `out`: torchrun starts them outside its own
    process group, and a rank left alive keeps the output pipe open, so waiting for the
    output would hang the whole suite instead of failing this test."""
    needle = str(out).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def torchrun(tmp: Path, name: str, world: int, *args: str) -> dict:
    out = tmp / f"{name}.json"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={world}", str(EXAMPLE), "--out", str(out), *args,
    ]
    # Its own session, so that on a timeout the ranks go too, not only torchrun.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        kill_ranks(out)
        output, _ = proc.communicate(timeout=60)
        pytest.fail(f"torchrun {name} timed out:\n{output[-4000:]}")
    assert proc.returncode == 0, output[-6000:]
    return json.loads(out.read_text()) if out.exists() else {}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("ddp")


@pytest.fixture(scope="module")
def reference(runs):
    return torchrun(runs, "ref", 2)


def test_world_2_twice_gives_bitwise_equal_weights(runs, reference):
    again = torchrun(runs, "again", 2)
    assert reference["steps"] == again["steps"] == 12
    assert again["weights_sha256"] == reference["weights_sha256"]
    assert again["seen"] == reference["seen"]


def per_epoch(seen: dict) -> dict:
    out = {}
    for k, paths in seen.items():
        out.setdefault(k.split("/")[0], Counter()).update(paths)
    return out


def test_world_1_and_2_see_the_same_samples_per_epoch(runs, reference):
    one = torchrun(runs, "world1", 1, "--batch-size", "8")
    a, b = per_epoch(one["seen"]), per_epoch(reference["seen"])
    assert a == b
    assert all(sum(c.values()) == 48 and max(c.values()) == 1 for c in a.values())


def test_stop_and_resume_gives_the_same_order_and_weights(runs, reference):
    ckpt = runs / "ckpt.pt"
    torchrun(runs, "stopped", 2, "--stop-after", "4", "--checkpoint", str(ckpt))
    assert ckpt.exists()
    resumed = torchrun(runs, "resumed", 2, "--resume", str(ckpt))
    assert resumed["seen"] == reference["seen"]
    assert resumed["weights_sha256"] == reference["weights_sha256"]


def global_order(n, seed, epoch):
    s = lockstep.Sampler(n, seed, epochs=epoch + 1)
    return [i for e, _, i in s if e == epoch]


@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_sampler_gives_the_global_order_for_any_world_size(world):
    seed = SeedTree.from_int(3).child("data")
    samplers = [LockstepSampler(23, seed, rank=r, world_size=world) for r in range(world)]
    for epoch in [0, 2]:
        per_rank = []
        for s in samplers:
            s.set_epoch(epoch)
            per_rank.append(list(s))
            assert len(per_rank[-1]) == len(s)
        interleaved = [per_rank[p % world][p // world] for p in range(23)]
        assert interleaved == global_order(23, seed, epoch)


def test_sampler_resumes_mid_epoch_and_reshards():
    seed = SeedTree.from_int(3).child("data")
    full = global_order(40, seed, 1)
    a = [LockstepSampler(40, seed, rank=r, world_size=2) for r in range(2)]
    heads = []
    for s in a:
        s.set_epoch(1)
        it = iter(s)
        heads.append([next(it) for _ in range(5)])
    state = a[0].state_dict()
    assert state == a[1].state_dict()
    assert state["position"] == 10
    # Same world size: the rest of each rank's order.
    b = LockstepSampler(40, seed, rank=1, world_size=2)
    b.load_state_dict(state)
    assert list(b) == full[11::2]
    # World 2 -> 3: the global position carries over, cut three ways.
    rest = []
    for r in range(3):
        c = LockstepSampler(40, seed, rank=r, world_size=3)
        c.load_state_dict(state)
        rest.append(list(c))
    assert sorted(sum(rest, [])) == sorted(full[10:])
    assert rest[0] == full[10::3]
    # A prefetching DataLoader: the consumed count is given explicitly.
    assert a[0].state_dict(samples_seen=3)["position"] == 6
    with pytest.raises(ValueError, match="argument `state`"):
        LockstepSampler(41, seed).load_state_dict(state)


def test_is_a_torch_sampler():
    assert issubclass(LockstepSampler, torch.utils.data.Sampler)


class Images(torch.utils.data.Dataset if hasattr(torch, "utils") else object):
    def __init__(self, n):
        node = SeedTree.from_int(5).child("images")
        self.items = [
            np.array([node.index(i).u64_at(j) for j in range(24 * 24 * 3 // 8)], np.uint64).view(np.uint8).reshape(24, 24, 3)
            for i in range(n)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


PIPELINE = lockstep.Compose([lockstep.Op("random_crop", width=16, height=16), lockstep.Op("hflip", p=0.5), lockstep.Op("hue", low=-0.1, high=0.1)])


def transform(image, key):
    out = PIPELINE.apply(image, key=key)
    # A draw from torch's global generator, seeded per sample by reseed_torch=True.
    return torch.from_numpy(out.image.copy()), torch.rand(2)


def test_dataloader_batches_are_identical_for_any_num_workers():
    data = SeedTree.from_int(9).child("data")
    ds = KeyedDataset(Images(20), data, transform, reseed_torch=True)

    def batches(workers):
        sampler = LockstepSampler(ds, data, rank=0, world_size=1, keyed=True)
        got = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            loader = torch.utils.data.DataLoader(ds, batch_size=6, sampler=sampler, num_workers=workers)
            got += [(x.clone(), r.clone()) for x, r in loader]
        return got

    zero, two = batches(0), batches(2)
    assert len(zero) == len(two) == 8
    for (x0, r0), (x2, r2) in zip(zero, two):
        assert torch.equal(x0, x2) and torch.equal(r0, r2)
    assert not torch.equal(zero[0][0], zero[4][0][: len(zero[0][0])])  # epochs differ


def test_reseed_follows_the_rust_trainer():
    run = SeedTree.from_int(7)
    # Pinned in crates/nn/src/reseed.rs (torch_seed_known_answers).
    assert reseed_init(run) == 3311273587106326963
    assert reseed(run, 1) == 3332445416879272006
    a = torch.rand(4)
    torch.manual_seed(3332445416879272006)
    assert torch.equal(a, torch.rand(4))
    reseed(lockstep.RunKey(run), 2)
    b = torch.rand(4)
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="argument `step`"):
        reseed(run, -1)
