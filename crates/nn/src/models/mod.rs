//! The models: what the trainer needs of one, and the two shipped here.

pub mod classifier;
pub mod detector;
mod layers;

use tch::Tensor;

use crate::batch::Batch;
use crate::error::Result;

/// Called with each module's name and forward output (trace mode hashes them).
pub type Tap<'a> = dyn FnMut(&str, &Tensor) -> Result<()> + 'a;

/// What the trainer needs of a model. Parameters live in the `VarStore` the model was
/// built from.
pub trait Model {
    /// Checks that `batch` has the shape and kind the model takes, naming what is wrong
    /// ([`crate::Error::BadBatchShape`]).
    fn check_batch(&self, step: u64, batch: &Batch) -> Result<()>;

    /// The forward pass, calling `tap` with each module's output in order.
    fn forward_tapped(&self, input: &Tensor, train: bool, tap: &mut Tap<'_>) -> Result<Tensor>;

    /// The forward pass.
    fn forward_t(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_tapped(input, train, &mut |_, _| Ok(()))
    }

    /// The scalar training loss of `output` against `targets`.
    fn loss(&self, output: &Tensor, targets: &Tensor) -> Result<Tensor>;
}

/// The shape check shared by the models: `t` must have `kind` and, for each `Some`
/// entry of `dims`, that size.
pub(crate) fn check_shape(
    step: u64,
    tensor: &'static str,
    t: &Tensor,
    kind: tch::Kind,
    dims: &[Option<i64>],
) -> Result<()> {
    let size = t.size();
    let ok = t.kind() == kind
        && size.len() == dims.len()
        && size
            .iter()
            .zip(dims)
            .all(|(s, d)| d.is_none_or(|d| d == *s));
    if ok {
        return Ok(());
    }
    let expected = dims
        .iter()
        .map(|d| d.map_or("N".to_string(), |d| d.to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(crate::Error::BadBatchShape {
        step,
        tensor,
        got: size,
        kind: format!("{:?}", t.kind()),
        expected: format!("[{expected}] {kind:?}"),
    })
}

/// The batch's sample count as tch counts it.
pub(crate) fn batch_len(batch: &Batch) -> Result<i64> {
    Ok(batch.inputs.size().first().copied().unwrap_or(0))
}
