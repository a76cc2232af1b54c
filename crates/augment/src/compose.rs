//! [`Compose`]: a pipeline of operations, keyed by a sample's [`SampleKey`].
//!
//! The key levels below a sample (see `lockstep_seeding::keys` for those above):
//!
//! | level | path | made by |
//! | --- | --- | --- |
//! | augmentation | `…/epoch[e]/sample[i]/augment` | [`SampleKey::augment`], inside [`Compose::apply`] |
//! | operation | `…/sample[i]/augment/op[p]/<`[`Op::name`]`>` | [`op_key`] |

use lockstep_seeding::{SampleKey, SeedTree};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::apply::{replay, Augmented, State};
use crate::boxes::{BoxPolicy, Sample};
use crate::error::Result;
use crate::op::Op;
use crate::params::OpParams;

/// The key operation `op` at `position` of a pipeline draws from, for the sample keyed
/// `sample`: `…/sample[i]/augment/op[position]/<op.name()>`. The one constructor of
/// the operation level; [`Compose::apply`] uses it for every op, and [`Op::draw`] with
/// this key gives the parameters the pipeline drew.
pub fn op_key(sample: &SampleKey, position: usize, op: &Op) -> SeedTree {
    op_node(&sample.augment(), position, op)
}

/// [`op_key`] under an already derived `…/augment` node.
fn op_node(augment: &SeedTree, position: usize, op: &Op) -> SeedTree {
    augment.child_index("op", position as u64).child(op.name())
}

/// A pipeline: operations applied in order, each drawing from its own key, and the
/// [`BoxPolicy`] that drops boxes after each geometric one.
///
/// Built by [`Compose::new`] (or `Compose::default()` and the `with_*` setters);
/// [`Compose::validate`] runs in `new`, in every `apply`, and when one is deserialised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "crate::raw::RawCompose")]
#[non_exhaustive]
pub struct Compose {
    ops: Vec<Op>,
    #[serde(default)]
    policy: BoxPolicy,
}

impl Compose {
    /// A pipeline of `ops` with the default [`BoxPolicy`]; each op's configuration is
    /// checked here.
    pub fn new(ops: Vec<Op>) -> Result<Self> {
        let compose = Self::default().with_ops(ops);
        compose.validate()?;
        Ok(compose)
    }

    /// This pipeline with its operations replaced by `ops`.
    pub fn with_ops(self, ops: Vec<Op>) -> Self {
        Self { ops, ..self }
    }

    /// This pipeline with `policy` for its boxes.
    pub fn with_policy(self, policy: BoxPolicy) -> Self {
        Self { policy, ..self }
    }

    /// Checks the box policy and every op's configuration.
    pub fn validate(&self) -> Result<()> {
        self.policy.validate()?;
        self.ops.iter().try_for_each(Op::validate)
    }

    /// The operations.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The box policy.
    pub fn policy(&self) -> &BoxPolicy {
        &self.policy
    }

    /// Runs the pipeline on `sample`, the dataset item keyed `key`
    /// (`…/epoch[e]/sample[i]`). Operation `p` draws from [`op_key`]`(key, p, op)`,
    /// under `key`'s `…/augment` node, after the earlier operations ran (its draws may
    /// depend on the current image size, never on other samples, call order or
    /// threads).
    pub fn apply(&self, sample: Sample, key: &SampleKey) -> Result<Augmented> {
        self.validate()?;
        sample.validate()?;
        let augment = key.augment();
        let mut state = State::new(sample)?;
        let mut params = Vec::with_capacity(self.ops.len());
        let mut dropped = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let p = op.draw(&op_node(&augment, i, op), state.size())?;
            p.run(&mut state, &self.policy, i, &mut dropped)?;
            params.push(p);
        }
        state.finish(params, dropped)
    }

    /// [`Compose::apply`] on each `(sample, key)` pair, in parallel on the current rayon
    /// pool. Each output depends only on its own pair, so the result is the same for
    /// any thread count, and each equals `apply(sample, key)` alone. Pairing every
    /// sample with its own key means a batch cannot run with too few keys, or with a
    /// key that is not a sample's. The first error (by position) is returned: every
    /// pair runs and the results are scanned in input order, so which sample's error
    /// comes back does not depend on which thread failed first.
    pub fn apply_batch(&self, batch: Vec<(Sample, SampleKey)>) -> Result<Vec<Augmented>> {
        // Not `collect::<Result<Vec<_>, _>>()`: rayon's version keeps whichever error
        // happens first in time.
        let results: Vec<Result<Augmented>> = batch
            .into_par_iter()
            .map(|(s, k)| self.apply(s, &k))
            .collect();
        results.into_iter().collect()
    }

    /// [`replay`] with this pipeline's box policy. The parameters carry everything, so
    /// the pipeline's ops are not consulted.
    pub fn replay(&self, sample: Sample, params: &[OpParams]) -> Result<Augmented> {
        replay(sample, params, &self.policy)
    }
}
