//! Stateless reseeding of libtorch's global generators from the seed tree.
//!
//! libtorch draws weight init and dropout masks from a process-global generator. We
//! never let it run on from one phase to the next: before model init it is seeded from
//! `<run>/init`, and before step `k` from `<run>/step[k]`. The state at any step is then
//! a pure function of the seed path and `k`, so a checkpoint needs no generator state.
//!
//! [`with_init_generator`] and [`with_step_generator`] take the named key levels of
//! `lockstep_seeding` ([`RunKey`], [`StepKey`]), so a step cannot be seeded from a
//! sample's key by mistake.
//!
//! The `i64` seed of a node is the first 8 bytes of its 32-byte key, read little-endian,
//! with the top bit cleared (so it is non-negative, 63 bits): [`torch_seed`].

use std::sync::{Mutex, MutexGuard};

use lockstep_seeding::{RunKey, SeedTree, StepKey};

/// Serialises every use of libtorch's global generator in this process (init and
/// training steps): two trainers on two threads would otherwise draw from each other's
/// seeds.
static GENERATOR: Mutex<()> = Mutex::new(());

/// The seed libtorch gets for `node`: key bytes 0..8 little-endian, masked to 63 bits.
pub fn torch_seed(node: &SeedTree) -> i64 {
    let key = node.key();
    let mut head = [0u8; 8];
    head.copy_from_slice(&key[..8]);
    let masked = u64::from_le_bytes(head) & (u64::MAX >> 1);
    // The mask makes the value fit; the fallback is unreachable but keeps this total.
    i64::try_from(masked).unwrap_or(0)
}

/// Seeds the CPU generator and every CUDA device's generator from `node`. Private: a
/// caller outside the generator lock would race with a training step on another thread.
fn reseed(node: &SeedTree) {
    let seed = torch_seed(node);
    tch::manual_seed(seed);
    if tch::Cuda::is_available() {
        tch::Cuda::manual_seed_all(seed.unsigned_abs());
    }
}

/// Holds the process-wide generator lock until dropped. A poisoned lock is taken over:
/// the guarded data is `()`, and every holder reseeds before drawing.
fn lock_generator() -> MutexGuard<'static, ()> {
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seeds the generators from `node` and returns the lock that keeps other threads from
/// drawing until the caller is done.
pub(crate) fn reseed_locked(node: &SeedTree) -> MutexGuard<'static, ()> {
    let guard = lock_generator();
    reseed(node);
    guard
}

/// Runs `f` (model construction) with libtorch's generators seeded from `<run>/init`,
/// holding the process-wide generator lock, as [`crate::Trainer::new`] does.
///
/// ```no_run
/// use lockstep_nn::reseed::with_init_generator;
/// use lockstep_seeding::{RunKey, SeedTree};
///
/// let run = RunKey::new(SeedTree::from_u64(7).child("run"));
/// let w = with_init_generator(&run, || lockstep_nn::tch::Tensor::randn([4], lockstep_nn::tch::kind::FLOAT_CPU));
/// ```
pub fn with_init_generator<T>(run: &RunKey, f: impl FnOnce() -> T) -> T {
    let _guard = reseed_locked(&run.init());
    f()
}

/// Runs `f` (the draws of step `k`, such as dropout) with libtorch's generators seeded
/// from `<run>/step[k]`, holding the process-wide generator lock.
///
/// ```no_run
/// use lockstep_nn::reseed::with_step_generator;
/// use lockstep_seeding::{RunKey, SeedTree};
///
/// let run = RunKey::new(SeedTree::from_u64(7).child("run"));
/// let mask = with_step_generator(&run.step(3), || lockstep_nn::tch::Tensor::rand([4], lockstep_nn::tch::kind::FLOAT_CPU));
/// ```
pub fn with_step_generator<T>(step: &StepKey, f: impl FnOnce() -> T) -> T {
    let _guard = reseed_locked(step);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_seed_known_answers() {
        let root = SeedTree::from_u64(7);
        let values = [
            torch_seed(&root.child("init")),
            torch_seed(&root.child_index("step", 0)),
            torch_seed(&root.child_index("step", 1)),
        ];
        assert!(values.iter().all(|&v| v >= 0));
        assert_eq!(
            values,
            [
                3311273587106326963,
                5966453945926781282,
                3332445416879272006
            ],
            "pinned values"
        );
    }

    #[test]
    fn the_named_levels_seed_exactly_the_old_paths() {
        let run = RunKey::new(SeedTree::from_u64(7));
        assert_eq!(torch_seed(&run.init()), 3311273587106326963);
        assert_eq!(torch_seed(&run.step(1)), 3332445416879272006);
        let a = with_step_generator(&run.step(2), || {
            tch::Tensor::rand([8], (tch::Kind::Float, tch::Device::Cpu))
        });
        let b = {
            let _g = reseed_locked(&SeedTree::from_u64(7).child_index("step", 2));
            tch::Tensor::rand([8], (tch::Kind::Float, tch::Device::Cpu))
        };
        assert!(a.equal(&b));
    }

    #[test]
    fn reseeding_repeats_libtorch_draws() {
        let node = SeedTree::from_u64(3).child_index("step", 5);
        let _guard = lock_generator();
        reseed(&node);
        let a = tch::Tensor::rand([16], (tch::Kind::Float, tch::Device::Cpu));
        reseed(&node);
        let b = tch::Tensor::rand([16], (tch::Kind::Float, tch::Device::Cpu));
        reseed(&SeedTree::from_u64(3).child_index("step", 6));
        let c = tch::Tensor::rand([16], (tch::Kind::Float, tch::Device::Cpu));
        assert!(a.equal(&b));
        assert!(!a.equal(&c));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn seed_is_non_negative_and_a_function_of_the_key(root in proptest::prelude::any::<u64>(), k in 0u64..1_000_000) {
            let node = SeedTree::from_u64(root).child_index("step", k);
            let s = torch_seed(&node);
            proptest::prop_assert!(s >= 0);
            proptest::prop_assert_eq!(s, torch_seed(&SeedTree::from_u64(root).child_index("step", k)));
            let key = node.key();
            let mut head = [0u8; 8];
            head.copy_from_slice(&key[..8]);
            proptest::prop_assert_eq!(s as u64, u64::from_le_bytes(head) & (u64::MAX >> 1));
        }
    }
}
