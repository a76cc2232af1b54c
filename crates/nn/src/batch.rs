//! Batches and where they come from.

use tch::Tensor;

use crate::error::Result;

/// One training batch: model inputs and the targets the loss compares against.
#[derive(Debug)]
pub struct Batch {
    /// Inputs, batch-first (`[N, C, H, W]` images for the models here).
    pub inputs: Tensor,
    /// Targets, batch-first (class indices `[N]` for the classifier, the dense grid of
    /// [`crate::models::detector::build_targets`] for the detector).
    pub targets: Tensor,
}

impl Batch {
    /// The number of samples (the leading dimension of `inputs`; 0 for a scalar).
    pub fn len(&self) -> i64 {
        self.inputs.size().first().copied().unwrap_or(0)
    }

    /// Whether the batch has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Anything that can produce the batch of a given step: a sampler + dataset + augment
/// pipeline (the repro suite plugs one in), a pre-built list, or a closure.
///
/// The batch of step `k` must be a pure function of `k` (and the source's fixed
/// configuration): that is what makes resume equivalence possible without replaying
/// earlier steps. Report failures as [`crate::Error::BatchSource`].
pub trait BatchSource {
    /// The batch for step `step` (0-based).
    fn batch(&mut self, step: u64) -> Result<Batch>;

    /// Opaque state saved in checkpoints (a sampler position, say); `Null` by default.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

impl<F> BatchSource for F
where
    F: FnMut(u64) -> Result<Batch>,
{
    fn batch(&mut self, step: u64) -> Result<Batch> {
        self(step)
    }
}
