//! The named levels of a run's seed tree, one constructor each.
//!
//! The key path *is* the API: a sample's augmentation must be keyed by
//! `<data>/epoch[e]/sample[i]/augment`, whatever thread or batch it lands in, and a
//! training step by `<run>/step[k]`. These wrappers make each level a type, so a
//! function that wants a sample's key cannot be handed an epoch's or a step's:
//!
//! | level | path | type | made by |
//! | --- | --- | --- | --- |
//! | epoch | `<data>/epoch[e]` | [`EpochKey`] | [`EpochKey::new`] (or the sampler) |
//! | sample | `…/epoch[e]/sample[i]` | [`SampleKey`] | [`EpochKey::sample`] |
//! | augmentation | `…/sample[i]/augment` | [`SeedTree`] | [`SampleKey::augment`] |
//! | init | `<run>/init` | [`SeedTree`] | [`RunKey::init`] |
//! | step | `<run>/step[k]` | [`StepKey`] | [`RunKey::step`] |
//! | micro-batch | `<run>/step[k]/micro[m]` | [`MicroKey`] | [`StepKey::micro`] |
//!
//! Each wrapper derefs to its [`SeedTree`] node for drawing.

use std::ops::Deref;

use crate::SeedTree;

/// A training run's root, `<run>`: the parent of weight init and of every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey(SeedTree);

impl RunKey {
    /// The run rooted at `node`.
    pub fn new(node: SeedTree) -> Self {
        Self(node)
    }

    /// `<run>/init`: weight initialisation.
    pub fn init(&self) -> SeedTree {
        self.0.child("init")
    }

    /// `<run>/step[k]`: every draw of optimizer step `k` (dropout and the like).
    pub fn step(&self, k: u64) -> StepKey {
        StepKey(self.0.child_index("step", k))
    }

    /// The root node.
    pub fn node(&self) -> &SeedTree {
        &self.0
    }
}

/// `<run>/step[k]`: the key of one optimizer step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepKey(SeedTree);

impl StepKey {
    /// `<run>/step[k]/micro[m]`: every draw of micro-batch `m` of this step when a step
    /// is cut into more than one micro-batch (a step of one micro-batch draws from the
    /// step's own key, so its values are those of an undivided step).
    pub fn micro(&self, m: u64) -> MicroKey {
        MicroKey(self.0.child_index("micro", m))
    }

    /// The node.
    pub fn node(&self) -> &SeedTree {
        &self.0
    }
}

/// `<run>/step[k]/micro[m]`: the key of one micro-batch of one optimizer step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicroKey(SeedTree);

impl MicroKey {
    /// The node.
    pub fn node(&self) -> &SeedTree {
        &self.0
    }
}

/// `<data>/epoch[e]`: one epoch's order and the parent of its samples' keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochKey(SeedTree);

impl EpochKey {
    /// Epoch `epoch` under the data root `data`.
    pub fn new(data: &SeedTree, epoch: u64) -> Self {
        Self(data.child_index("epoch", epoch))
    }

    /// `…/epoch[e]/sample[i]`: the key of dataset item `index` in this epoch.
    pub fn sample(&self, index: u64) -> SampleKey {
        SampleKey(self.0.child_index("sample", index))
    }

    /// The node.
    pub fn node(&self) -> &SeedTree {
        &self.0
    }
}

/// `…/epoch[e]/sample[i]`: every random decision about one sample in one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleKey(SeedTree);

impl SampleKey {
    /// `…/sample[i]/augment`: the parent of the sample's augmentation draws.
    pub fn augment(&self) -> SeedTree {
        self.0.child("augment")
    }

    /// The node.
    pub fn node(&self) -> &SeedTree {
        &self.0
    }
}

macro_rules! deref_to_node {
    ($($t:ty),*) => {$(
        impl Deref for $t {
            type Target = SeedTree;
            fn deref(&self) -> &SeedTree {
                &self.0
            }
        }
    )*};
}
deref_to_node!(RunKey, StepKey, MicroKey, EpochKey, SampleKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_has_its_documented_path() {
        let data = SeedTree::from_u64(7).child("train");
        let epoch = EpochKey::new(&data, 3);
        assert_eq!(epoch.path(), "root/train/epoch[3]");
        let sample = epoch.sample(12);
        assert_eq!(sample.path(), "root/train/epoch[3]/sample[12]");
        assert_eq!(
            sample.augment().path(),
            "root/train/epoch[3]/sample[12]/augment"
        );
        let run = RunKey::new(SeedTree::from_u64(7).child("run"));
        assert_eq!(run.init().path(), "root/run/init");
        assert_eq!(run.step(5).path(), "root/run/step[5]");
        assert_eq!(run.step(5).micro(2).path(), "root/run/step[5]/micro[2]");
    }

    #[test]
    fn levels_equal_the_plain_tree_calls_key_for_key() {
        let data = SeedTree::from_u64(11);
        let sample = EpochKey::new(&data, 2).sample(9);
        let plain = data.child_index("epoch", 2).child_index("sample", 9);
        assert_eq!(sample.key(), plain.key());
        assert_eq!(sample.augment().key(), plain.child("augment").key());
        assert_eq!(
            RunKey::new(data.clone()).step(4).key(),
            data.child_index("step", 4).key()
        );
        assert_ne!(sample.key(), EpochKey::new(&data, 2).sample(10).key());
        assert_eq!(
            RunKey::new(data.clone()).step(4).micro(1).key(),
            data.child_index("step", 4).child_index("micro", 1).key()
        );
    }
}
