//! Batches and where they come from.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};
pub use lockstep_distributed::MicroPartition;

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
    pub fn len(&self) -> u64 {
        // tch sizes are never negative.
        self.inputs
            .size()
            .first()
            .map_or(0, |&n| u64::try_from(n).unwrap_or(0))
    }

    /// Whether the batch has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch source's position, saved in checkpoints and handed back on resume. Opaque to
/// lockstep-nn; any serde-serialisable value of the source's own (a sampler's state,
/// say) goes in and comes out, so implementing [`BatchSource`] needs no JSON crate.
///
/// ```
/// use lockstep_nn::SourceState;
///
/// let state = SourceState::new(&(3u64, "epoch"))?;
/// assert_eq!(state.get::<(u64, String)>()?, Some((3, "epoch".to_string())));
/// assert_eq!(SourceState::none().get::<u64>()?, None);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceState(serde_json::Value);

impl SourceState {
    /// No state (a source that is a pure function of the step).
    pub fn none() -> Self {
        Self(serde_json::Value::Null)
    }

    /// The state `value`, serialised.
    pub fn new<T: Serialize>(value: &T) -> Result<Self> {
        serde_json::to_value(value)
            .map(Self)
            .map_err(|e| Error::BadSourceState {
                reason: format!("it does not serialise: {e}"),
            })
    }

    /// Whether there is no state.
    pub fn is_none(&self) -> bool {
        self.0.is_null()
    }

    /// The state as `T`, `None` when there is none, and [`Error::BadSourceState`] when
    /// it is not a `T` (another kind of source wrote it).
    pub fn get<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>> {
        if self.is_none() {
            return Ok(None);
        }
        T::deserialize(&self.0)
            .map(Some)
            .map_err(|e| Error::BadSourceState {
                reason: e.to_string(),
            })
    }

    /// The JSON form, as the checkpoint manifest stores it.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }

    /// From the JSON form (as read from a manifest).
    pub fn from_json(value: serde_json::Value) -> Self {
        Self(value)
    }
}

/// Anything that can produce the batch of a given step: [`crate::SamplerSource`]
/// (a sampler, a dataset and an augment pipeline), a pre-built list, or a closure
/// `FnMut(u64) -> Result<Batch>`.
///
/// The batch of step `k` must be a function of `k` and the source's state at `k` only:
/// that is what makes resume equivalence possible. A source with a position (a sampler)
/// saves it in [`Self::state`], and the trainer puts it into every checkpoint and hands
/// it back through [`Self::restore`] on resume. Report your own failures with
/// [`crate::Error::wrap`].
///
/// ```
/// use lockstep_nn::{Batch, BatchSource, Result};
/// use lockstep_nn::tch::{Kind, Tensor};
///
/// struct Zeros;
/// impl BatchSource for Zeros {
///     fn batch(&mut self, _step: u64) -> Result<Batch> {
///         Ok(Batch {
///             inputs: Tensor::zeros([4, 1, 8, 8], (Kind::Float, lockstep_nn::tch::Device::Cpu)),
///             targets: Tensor::zeros([4], (Kind::Int64, lockstep_nn::tch::Device::Cpu)),
///         })
///     }
/// }
/// ```
pub trait BatchSource {
    /// The batch for step `step` (0-based).
    fn batch(&mut self, step: u64) -> Result<Batch>;

    /// The micro-batches of step `step` that this rank computes
    /// ([`MicroPartition::local`], each holding the samples
    /// [`MicroPartition::samples`] names), in order. The default takes the whole batch
    /// and cuts it ([`split_batch`]); a source that loads and augments samples
    /// (`SamplerSource`) overrides it to prepare only this rank's samples. Every rank
    /// must advance its position exactly as [`Self::batch`] would.
    fn micro_batches(&mut self, step: u64, partition: &MicroPartition) -> Result<Vec<Batch>> {
        let batch = self.batch(step)?;
        split_batch(step, &batch, partition)
    }

    /// The position to save in a checkpoint, after the batches handed out so far.
    /// [`SourceState::none`] by default (a pure function of the step).
    fn state(&self) -> Result<SourceState> {
        Ok(SourceState::none())
    }

    /// Takes back a position [`Self::state`] returned (on resume). The default accepts
    /// only "no state": a source that keeps none cannot continue from one, and
    /// ignoring it would silently replay other batches.
    fn restore(&mut self, state: &SourceState) -> Result<()> {
        if state.is_none() {
            Ok(())
        } else {
            Err(Error::BadSourceState {
                reason: "this source keeps no state, but the checkpoint holds one".into(),
            })
        }
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

/// This rank's micro-batches of `batch` (the whole batch of step `step`), as
/// [`MicroPartition`] cuts it. The tensors share `batch`'s storage.
///
/// ```
/// use lockstep_nn::batch::{split_batch, Batch, MicroPartition};
/// use lockstep_nn::tch::{Kind, Tensor};
///
/// let batch = Batch {
///     inputs: Tensor::arange(10, (Kind::Float, lockstep_nn::tch::Device::Cpu)),
///     targets: Tensor::zeros([10], (Kind::Int64, lockstep_nn::tch::Device::Cpu)),
/// };
/// let part = MicroPartition::new(4, 2, 1).map_err(lockstep_nn::Error::wrap)?;
/// let parts = split_batch(0, &batch, &part)?;
/// assert_eq!(parts.iter().map(Batch::len).collect::<Vec<_>>(), [2, 3]); // samples 5..7, 7..10
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn split_batch(step: u64, batch: &Batch, partition: &MicroPartition) -> Result<Vec<Batch>> {
    let n = batch.len();
    partition
        .local()
        .map(|m| {
            let range = partition.samples(n, m).map_err(|_| Error::BadBatchShape {
                step,
                tensor: "inputs",
                got: batch.inputs.size(),
                kind: format!("{:?}", batch.inputs.kind()),
                expected: format!(
                    "at least {} samples (one per micro-batch)",
                    partition.micro_batches()
                ),
            })?;
            // Sample indices are below the batch length, an i64 to tch.
            let start = i64::try_from(range.start).unwrap_or(i64::MAX);
            let len = i64::try_from(range.end - range.start).unwrap_or(i64::MAX);
            Ok(Batch {
                inputs: batch.inputs.f_narrow(0, start, len)?,
                targets: batch.targets.f_narrow(0, start, len)?,
            })
        })
        .collect()
}
