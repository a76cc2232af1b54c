"""lockstep for Python: the seed tree, sampler, streams, augmentations and NMS of the
Rust crates, bit for bit.

Every value equals what the Rust API gives for the same inputs (tested). Heavy calls
release the GIL; batch calls (``Compose.apply_batch``, ``Nms.run_many``) run on the
Rust thread pool. Errors from the Rust crates are ``LockstepError`` subclasses whose
message names what was wrong; bad argument types are ``TypeError``.

``lockstep.torch`` (imported on demand) holds the PyTorch pieces: ``LockstepSampler``,
``KeyedDataset`` and ``reseed``.
"""

from ._lockstep import (
    AugmentError,
    Augmented,
    BufferedShuffle,
    Compose,
    DataError,
    EpochKey,
    IndexPermutation,
    Interleave,
    LockstepError,
    Nms,
    Op,
    OpParams,
    PostprocessError,
    RunKey,
    SampleKey,
    Sampler,
    SeedError,
    SeedRng,
    SeedTree,
    StepKey,
    __version__,
    batched_nms,
    evaluate_map,
    nms,
    op_key,
    permutation,
    replay,
)

__all__ = [
    "AugmentError",
    "Augmented",
    "BufferedShuffle",
    "Compose",
    "DataError",
    "EpochKey",
    "IndexPermutation",
    "Interleave",
    "LockstepError",
    "Nms",
    "Op",
    "OpParams",
    "PostprocessError",
    "RunKey",
    "SampleKey",
    "Sampler",
    "SeedError",
    "SeedRng",
    "SeedTree",
    "StepKey",
    "__version__",
    "batched_nms",
    "evaluate_map",
    "nms",
    "op_key",
    "permutation",
    "replay",
]
