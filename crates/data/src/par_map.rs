//! Order-preserving parallel maps on rayon, where dataset item `i` gets its own key
//! `…/epoch[e]/sample[i]` (a [`SampleKey`] of the epoch's [`EpochKey`]).
//!
//! Each item's result depends only on its key and its input, and results are collected
//! in input order, so the output is identical for any number of threads. Run inside a
//! `rayon::ThreadPool::install` to choose the pool.

use lockstep_seeding::{EpochKey, SampleKey};
use rayon::prelude::*;

/// `f(i, &items[i], epoch.sample(i))` for every position `i` of `items`, in parallel,
/// in input order.
pub fn par_map<T, U, F>(epoch: &EpochKey, items: &[T], f: F) -> Vec<U>
where
    T: Sync,
    U: Send,
    F: Fn(u64, &T, &SampleKey) -> U + Sync + Send,
{
    items
        .par_iter()
        .enumerate()
        .map(|(i, item)| {
            let i = i as u64;
            f(i, item, &epoch.sample(i))
        })
        .collect()
}

/// `f(index, epoch.sample(index))` for every dataset index in `indices` (such as those
/// a [`crate::Sampler`] yields for this epoch), in parallel, in input order.
pub fn par_map_indexed<U, F>(epoch: &EpochKey, indices: &[u64], f: F) -> Vec<U>
where
    U: Send,
    F: Fn(u64, &SampleKey) -> U + Sync + Send,
{
    indices
        .par_iter()
        .map(|&i| f(i, &epoch.sample(i)))
        .collect()
}

/// The fallible [`par_map_indexed`]: all results, or the error of the *first* failing
/// index in input order (not whichever thread failed first), so the error too is the
/// same for any number of threads.
pub fn try_par_map_indexed<U, E, F>(
    epoch: &EpochKey,
    indices: &[u64],
    f: F,
) -> std::result::Result<Vec<U>, E>
where
    U: Send,
    E: Send,
    F: Fn(u64, &SampleKey) -> std::result::Result<U, E> + Sync + Send,
{
    let results: Vec<std::result::Result<U, E>> = indices
        .par_iter()
        .map(|&i| f(i, &epoch.sample(i)))
        .collect();
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use lockstep_seeding::{RngCore, SeedTree};

    use super::*;

    #[test]
    fn known_answers_of_the_sample_keying() {
        // The pinned values of 0.1's `par_map(node, …)`, whose keys were
        // `node/sample[i]`: the same keying under an epoch node.
        let node = SeedTree::from_u64(5).child("augment");
        let draws: Vec<u64> = (0..3)
            .map(|i| node.child_index("sample", i).rng().next_u64() % 1000)
            .collect();
        assert_eq!(draws, vec![72, 322, 142]);
    }

    #[test]
    fn known_answers_and_keys() {
        let epoch = EpochKey::new(&SeedTree::from_u64(5).child("train"), 2);
        let out = par_map(&epoch, &[10u64, 20, 30], |i, x, key| {
            (i, *x, key.path(), key.rng().next_u64() % 1000)
        });
        assert_eq!(out[1].2, "root/train/epoch[2]/sample[1]");
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o.2, epoch.sample(i as u64).path());
            let plain = epoch.child_index("sample", i as u64);
            assert_eq!(o.3, plain.rng().next_u64() % 1000);
        }
        let indexed = par_map_indexed(&epoch, &[7, 0], |i, key| (i, key.key()));
        assert_eq!(indexed[0], (7, epoch.sample(7).key()));
        assert_eq!(indexed[1], (0, epoch.sample(0).key()));
    }

    #[test]
    fn first_error_in_input_order() {
        let epoch = EpochKey::new(&SeedTree::from_u64(5), 0);
        let indices: Vec<u64> = (0..1000).collect();
        let r: Result<Vec<u64>, u64> =
            try_par_map_indexed(
                &epoch,
                &indices,
                |i, _| if i % 97 == 13 { Err(i) } else { Ok(i) },
            );
        assert_eq!(r, Err(13));
    }
}
