//! Order-preserving parallel map on rayon, where sample `i` gets its own key
//! `node/sample[i]`.
//!
//! Each item's result depends only on its key and its input, and results are collected
//! in input order, so the output is identical for any number of threads. Run inside a
//! `rayon::ThreadPool::install` to choose the pool.

use lockstep_seeding::SeedTree;
use rayon::prelude::*;

/// `f(i, &items[i], node/sample[i])` for every `i`, in parallel, in input order.
pub fn par_map<T, U, F>(node: &SeedTree, items: &[T], f: F) -> Vec<U>
where
    T: Sync,
    U: Send,
    F: Fn(u64, &T, &SeedTree) -> U + Sync + Send,
{
    items
        .par_iter()
        .enumerate()
        .map(|(i, item)| {
            let i = i as u64;
            f(i, item, &node.child_index("sample", i))
        })
        .collect()
}

/// `f(index, node/sample[index])` for every dataset index in `indices` (such as those a
/// [`crate::Sampler`] yields), in parallel, in input order.
pub fn par_map_indexed<U, F>(node: &SeedTree, indices: &[u64], f: F) -> Vec<U>
where
    U: Send,
    F: Fn(u64, &SeedTree) -> U + Sync + Send,
{
    indices
        .par_iter()
        .map(|&i| f(i, &node.child_index("sample", i)))
        .collect()
}

/// The fallible [`par_map_indexed`]: all results, or the error of the *first* failing
/// index in input order (not whichever thread failed first), so the error too is the
/// same for any number of threads.
pub fn try_par_map_indexed<U, E, F>(
    node: &SeedTree,
    indices: &[u64],
    f: F,
) -> std::result::Result<Vec<U>, E>
where
    U: Send,
    E: Send,
    F: Fn(u64, &SeedTree) -> std::result::Result<U, E> + Sync + Send,
{
    let results: Vec<std::result::Result<U, E>> = indices
        .par_iter()
        .map(|&i| f(i, &node.child_index("sample", i)))
        .collect();
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use lockstep_seeding::RngCore;

    use super::*;

    #[test]
    fn known_answers_and_keys() {
        let node = SeedTree::from_u64(5).child("augment");
        let out = par_map(&node, &[10u64, 20, 30], |i, x, key| {
            (i, *x, key.path(), key.rng().next_u64() % 1000)
        });
        assert_eq!(out[1].2, "root/augment/sample[1]");
        assert_eq!(
            out.iter().map(|o| o.3).collect::<Vec<_>>(),
            vec![72, 322, 142]
        );
    }

    #[test]
    fn first_error_in_input_order() {
        let node = SeedTree::from_u64(5);
        let indices: Vec<u64> = (0..1000).collect();
        let r: Result<Vec<u64>, u64> =
            try_par_map_indexed(
                &node,
                &indices,
                |i, _| if i % 97 == 13 { Err(i) } else { Ok(i) },
            );
        assert_eq!(r, Err(13));
    }
}
