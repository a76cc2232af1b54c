//! [`Compose`]: a pipeline of operations, its record of drawn parameters, and replay.

use lockstep_seeding::SeedTree;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boxes::{BoxPolicy, DroppedBox, Sample};
use crate::error::{Error, Result};
use crate::op::Op;
use crate::params::{OpParams, State};

/// The result of a pipeline (or of one operation).
#[derive(Debug, Clone, PartialEq)]
pub struct Augmented {
    /// The output image and its surviving boxes, in input order.
    pub sample: Sample,
    /// The parameters of every operation, in pipeline order: feed them to [`replay`] to
    /// get this output again without a key.
    pub params: Vec<OpParams>,
    /// The boxes dropped on the way, in the order they were dropped.
    pub dropped: Vec<DroppedBox>,
}

/// The key of operation `position` named `name` under a sample's augment key:
/// `key/op[position]/name`.
pub fn op_key(key: &SeedTree, position: usize, name: &str) -> SeedTree {
    key.child_index("op", position as u64).child(name)
}

/// The augment key of sample `index` under `parent` (such as an epoch node):
/// `parent/sample[index]/augment`.
pub fn sample_key(parent: &SeedTree, index: u64) -> SeedTree {
    parent.child_index("sample", index).child("augment")
}

/// A pipeline: operations applied in order, each drawing from its own key.
/// Deserialising checks the ops and the policy as [`Compose::with_policy`] does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "crate::raw::RawCompose")]
pub struct Compose {
    ops: Vec<Op>,
    #[serde(default)]
    policy: BoxPolicy,
}

impl Compose {
    /// A pipeline of `ops` with the default [`BoxPolicy`]; each op's configuration is
    /// checked here.
    pub fn new(ops: Vec<Op>) -> Result<Self> {
        Self::with_policy(ops, BoxPolicy::default())
    }

    /// A pipeline with an explicit box policy.
    pub fn with_policy(ops: Vec<Op>, policy: BoxPolicy) -> Result<Self> {
        policy.validate()?;
        for op in &ops {
            op.validate()?;
        }
        Ok(Self { ops, policy })
    }

    /// The operations.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The box policy.
    pub fn policy(&self) -> &BoxPolicy {
        &self.policy
    }

    /// Runs the pipeline on `sample` with the sample's augment key `key`. Operation `i`
    /// named `n` draws from [`op_key`]`(key, i, n)`, after the earlier operations ran
    /// (its draws may depend on the current image size, never on other samples, call
    /// order or threads).
    pub fn apply(&self, sample: Sample, key: &SeedTree) -> Result<Augmented> {
        sample.validate()?;
        let mut state = State::new(sample)?;
        let mut params = Vec::with_capacity(self.ops.len());
        let mut dropped = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let (w, h) = state.image.dimensions();
            let p = op.draw(&op_key(key, i, op.name()), w, h)?;
            p.run(&mut state, &self.policy, i, &mut dropped)?;
            params.push(p);
        }
        finish(state, params, dropped)
    }

    /// [`Compose::apply`] on each `(sample, key)` pair, in parallel on the current rayon
    /// pool. Each output depends only on its own pair, so the result is the same for
    /// any thread count. The first error (by position) is returned: every pair runs and
    /// the results are scanned in input order, so which sample's error comes back does
    /// not depend on which thread failed first.
    pub fn apply_batch(&self, samples: Vec<Sample>, keys: &[SeedTree]) -> Result<Vec<Augmented>> {
        if samples.len() != keys.len() {
            return Err(Error::LengthMismatch {
                what: "samples and keys",
                left: samples.len(),
                right: keys.len(),
            });
        }
        // Not `collect::<Result<Vec<_>, _>>()`: rayon's version keeps whichever error
        // happens first in time.
        let results: Vec<Result<Augmented>> = samples
            .into_par_iter()
            .zip(keys.par_iter())
            .map(|(s, k)| self.apply(s, k))
            .collect();
        results.into_iter().collect()
    }

    /// [`replay`] with this pipeline's box policy. The parameters carry everything, so
    /// the pipeline's ops are not consulted.
    pub fn replay(&self, sample: Sample, params: &[OpParams]) -> Result<Augmented> {
        replay(sample, params, &self.policy)
    }
}

/// Applies recorded parameters in order, with no key: the same bytes, boxes and drop
/// reports as the run that recorded them.
pub fn replay(sample: Sample, params: &[OpParams], policy: &BoxPolicy) -> Result<Augmented> {
    policy.validate()?;
    sample.validate()?;
    let mut state = State::new(sample)?;
    let mut dropped = Vec::new();
    for (i, p) in params.iter().enumerate() {
        p.run(&mut state, policy, i, &mut dropped)?;
    }
    finish(state, params.to_vec(), dropped)
}

fn finish(state: State, params: Vec<OpParams>, dropped: Vec<DroppedBox>) -> Result<Augmented> {
    let (image, boxes) = state.finish()?;
    Ok(Augmented {
        sample: Sample { image, boxes },
        params,
        dropped,
    })
}
