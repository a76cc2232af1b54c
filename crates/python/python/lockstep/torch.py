"""lockstep for PyTorch: a resumable, re-shardable ``DistributedSampler`` replacement,
per-sample keys in ``DataLoader`` workers, and stateless reseeding of torch's
generators before each step.

torch is imported lazily (on first use), so ``import lockstep.torch`` works without it.

- ``LockstepSampler``: the global order of epoch ``e`` is a function of (seed, e,
  dataset length) only, the same for any world size; rank ``r`` of ``w`` takes global
  positions ``p`` with ``p % w == r``. ``state_dict()`` saves the global position, so
  a job resumes mid-epoch, with the same or another world size.
- ``KeyedDataset``: gives dataset item ``i`` of epoch ``e`` its key
  ``<data>/epoch[e]/sample[i]`` (a ``lockstep.SampleKey``) whatever worker loads it,
  so batches are identical for any ``num_workers``.
- ``reseed(run, k)``: seeds torch's CPU and CUDA generators from ``<run>/step[k]``, as
  lockstep-nn's trainer does (``torch_seed``: key bytes 0..8 little-endian, top bit
  cleared), so dropout in step ``k`` depends only on (run, k).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union

from . import EpochKey, RunKey, SampleKey, Sampler, SeedTree, StepKey

__all__ = ["LockstepSampler", "KeyedDataset", "reseed", "reseed_init", "torch_seed"]

_STATE_FORMAT = "lockstep-torch-sampler/1"


def _torch():
    import torch  # noqa: PLC0415 - lazy on purpose

    return torch


def torch_seed(node: Union[SeedTree, StepKey]) -> int:
    """The seed torch gets for ``node``: key bytes 0..8 little-endian, top bit cleared."""
    return node.torch_seed()


def _run_key(run: Union[RunKey, SeedTree]) -> RunKey:
    if isinstance(run, RunKey):
        return run
    if isinstance(run, SeedTree):
        return RunKey(run)
    raise TypeError(f"argument `run`: expected a RunKey or SeedTree, got {type(run).__name__}")


def reseed(run: Union[RunKey, SeedTree], step: int) -> int:
    """Seeds torch's CPU and every CUDA generator from ``<run>/step[step]`` and returns
    the seed. Call it before each optimizer step, as lockstep-nn's trainer does."""
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"argument `step`: expected a non-negative int, got {step!r}")
    seed = _run_key(run).step(step).torch_seed()
    _torch().manual_seed(seed)
    return seed


def reseed_init(run: Union[RunKey, SeedTree]) -> int:
    """Seeds torch's generators from ``<run>/init`` (before building the model) and
    returns the seed."""
    seed = _run_key(run).init().torch_seed()
    _torch().manual_seed(seed)
    return seed


def _dist_default(rank: Optional[int], world_size: Optional[int]) -> Tuple[int, int]:
    if rank is not None and world_size is not None:
        return rank, world_size
    torch = _torch()
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return (
            dist.get_rank() if rank is None else rank,
            dist.get_world_size() if world_size is None else world_size,
        )
    return (0 if rank is None else rank), (1 if world_size is None else world_size)


class _LockstepSampler:
    """A ``torch.utils.data.Sampler`` replacing ``DistributedSampler``.

    ``LockstepSampler(dataset_or_len, seed, rank=None, world_size=None, shuffle=True,
    drop_last=False, keyed=False)``: rank and world size default to
    ``torch.distributed``'s (or 0 and 1). Call ``set_epoch(e)`` before each epoch, as
    with ``DistributedSampler``. With ``keyed=True`` it yields ``(epoch, index)`` pairs
    for ``KeyedDataset``; otherwise plain indices.

    Unlike ``DistributedSampler`` it pads nothing: without ``drop_last`` the ranks'
    samples together are exactly the epoch's global order (a rank may get one fewer);
    with it, the partial last step is dropped for every rank.

    ``state_dict(samples_seen=None)`` saves the global position after the samples this
    rank has consumed (by default, the ones it has yielded; pass ``samples_seen`` when a
    ``DataLoader`` prefetches). ``load_state_dict`` resumes there, with the same or
    another world size: the next ``__iter__`` continues the epoch.
    """

    def __init__(
        self,
        dataset_or_len: Any,
        seed: SeedTree,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        shuffle: bool = True,
        drop_last: bool = False,
        keyed: bool = False,
    ) -> None:
        if isinstance(dataset_or_len, int):
            n = dataset_or_len
        else:
            n = len(dataset_or_len)
        if not isinstance(seed, SeedTree):
            raise TypeError(f"argument `seed`: expected a SeedTree, got {type(seed).__name__}")
        self.len = n
        self.seed = seed
        self.rank, self.world_size = _dist_default(rank, world_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.keyed = keyed
        self.epoch = 0
        self._start = 0  # global position where the next __iter__ starts
        self._yielded = 0
        self._iter_start = 0
        # Validates len, rank and world now, with lockstep's typed errors.
        self._make(self.epoch, 0, self.world_size)

    def _make(self, epoch: int, position: int, saved_world: int) -> Sampler:
        """The lockstep Sampler of epoch ``epoch`` (``epochs = epoch + 1``), at global
        ``position``; ``saved_world`` is the world size the position was saved with."""
        kw = dict(shuffle=self.shuffle, drop_remainder=self.drop_last, epochs=epoch + 1)
        fresh = Sampler(self.len, self.seed, rank=0, world=saved_world, **kw)
        if epoch == 0 and position == 0 and saved_world == self.world_size:
            return Sampler(self.len, self.seed, rank=self.rank, world=self.world_size, **kw)
        state = json.loads(fresh.state())
        state["epoch"] = epoch
        state["position"] = position
        if position >= self.len:
            state["epoch"], state["position"] = epoch + 1, 0
        return Sampler.restore(
            json.dumps(state),
            self.len,
            self.seed,
            rank=self.rank,
            world=self.world_size,
            reshard=True,
            **kw,
        )

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch the next ``__iter__`` yields, from its start (unless a
        loaded state is pending for this epoch)."""
        if epoch != self.epoch:
            self._start = 0
        self.epoch = epoch

    def epoch_key(self) -> EpochKey:
        """The current epoch's key, ``<seed>/epoch[e]``."""
        return EpochKey(self.seed, self.epoch)

    def __iter__(self) -> Iterator[Any]:
        sampler = self._make(self.epoch, self._start, self.world_size)
        self._iter_start = self._start
        self._yielded = 0
        self._start = 0
        epoch = self.epoch
        while True:
            chunk = sampler.take_epoch(4096)
            if len(chunk) == 0:
                return
            for i in chunk.tolist():
                self._yielded += 1
                yield (epoch, i) if self.keyed else i

    def __len__(self) -> int:
        left = self.len - self._start
        if left <= 0:
            return 0
        w, r = self.world_size, self.rank
        if self.drop_last:
            return left // w
        return max(0, (left - r + w - 1) // w)

    def state_dict(self, samples_seen: Optional[int] = None) -> Dict[str, Any]:
        """The global position after this rank consumed ``samples_seen`` samples of the
        current iteration (default: all it yielded). The same on every rank at a step
        boundary."""
        seen = self._yielded if samples_seen is None else samples_seen
        position = min(self._iter_start + seen * self.world_size, self.len)
        return {
            "format": _STATE_FORMAT,
            "epoch": self.epoch,
            "position": position,
            "world_size": self.world_size,
            "len": self.len,
            "seed": self.seed.to_json(),
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Resumes at the saved epoch and global position; the world size may differ
        from the saved one (the position is cut for this sampler's world size)."""
        if state.get("format") != _STATE_FORMAT:
            raise ValueError(f"argument `state`: format is {state.get('format')!r}, expected {_STATE_FORMAT!r}")
        for name, mine in (("len", self.len), ("shuffle", self.shuffle), ("drop_last", self.drop_last)):
            if state.get(name) != mine:
                raise ValueError(f"argument `state`: {name} is {state.get(name)!r} but this sampler has {mine!r}")
        if SeedTree.from_json(state["seed"]) != self.seed:
            raise ValueError("argument `state`: it was saved with another seed")
        epoch, position = int(state["epoch"]), int(state["position"])
        # Checked by lockstep's Sampler.restore (typed DataError on a bad position).
        self._make(epoch, position, int(state["world_size"]))
        self.epoch = epoch
        self._start = position


_CLASSES: Dict[str, type] = {}


def __getattr__(name: str) -> Any:
    """``LockstepSampler`` is made on first access, as a subclass of
    ``torch.utils.data.Sampler`` (so torch is imported only then)."""
    if name != "LockstepSampler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _CLASSES:
        from torch.utils.data import Sampler as TorchSampler  # noqa: PLC0415

        _CLASSES[name] = type(
            "LockstepSampler",
            (_LockstepSampler, TorchSampler),
            {"__doc__": _LockstepSampler.__doc__, "__module__": __name__},
        )
    return _CLASSES[name]


class KeyedDataset:
    """Wraps a map-style dataset so that item ``i`` of epoch ``e`` is passed, with its
    key ``<data>/epoch[e]/sample[i]``, to ``fn(item, key)`` (e.g. a lockstep
    ``Compose.apply``). Index it with ``(epoch, index)`` pairs (``LockstepSampler(...,
    keyed=True)``); a plain index uses ``self.epoch`` (``set_epoch``).

    With ``reseed_torch=True``, torch's generator in the loading process is seeded from
    ``…/sample[i]/torch`` before ``fn`` runs, so even transforms that draw from torch's
    global generator (torchvision's) depend only on the sample, not on the worker.
    """

    def __init__(
        self,
        dataset: Any,
        data: SeedTree,
        fn: Callable[[Any, SampleKey], Any],
        reseed_torch: bool = False,
    ) -> None:
        if not isinstance(data, SeedTree):
            raise TypeError(f"argument `data`: expected a SeedTree, got {type(data).__name__}")
        self.dataset = dataset
        self.data = data
        self.fn = fn
        self.reseed_torch = reseed_torch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def key(self, epoch: int, index: int) -> SampleKey:
        return EpochKey(self.data, epoch).sample(index)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: Union[int, Tuple[int, int], Sequence[int]]) -> Any:
        if isinstance(idx, (tuple, list)) and len(idx) == 2:
            epoch, index = int(idx[0]), int(idx[1])
        else:
            epoch, index = self.epoch, int(idx)
        key = self.key(epoch, index)
        if self.reseed_torch:
            _torch().manual_seed(key.node.child("torch").torch_seed())
        return self.fn(self.dataset[index], key)

