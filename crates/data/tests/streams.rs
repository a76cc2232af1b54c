//! Buffered shuffle, interleave, parallel map and batching against simple reference
//! implementations written here, plus known answers and thread independence.

use std::collections::VecDeque;
use std::num::NonZeroU64;

use lockstep_data::{
    batches, interleave_parallel, par_map, par_map_indexed, BufferedShuffle, BufferedShuffleState,
    Dataset, DatasetIter, Error, InMemoryDataset, Interleave, StateField,
};
use lockstep_seeding::{EpochKey, RngCore, SeedTree};
use proptest::prelude::*;

/// tf.data's shuffle, written the plain way over a Vec and `SeedRng::below`.
fn reference_shuffle(items: &[u64], node: &SeedTree, buffer: usize) -> Vec<u64> {
    let mut rng = node.rng();
    let mut upstream = items.iter().copied();
    let mut buf: Vec<u64> = upstream.by_ref().take(buffer).collect();
    let mut out = Vec::new();
    while !buf.is_empty() {
        let n = NonZeroU64::new(buf.len() as u64).unwrap();
        let j = rng.below(n) as usize;
        out.push(buf[j]);
        match upstream.next() {
            Some(x) => buf[j] = x,
            None => {
                let last = buf.pop().unwrap();
                if j < buf.len() {
                    buf[j] = last;
                }
            }
        }
    }
    out
}

/// tf.data's interleave turn order, written over explicit queues.
fn reference_interleave(inputs: &[Vec<u64>], cycle: usize, block: usize) -> Vec<u64> {
    let mut pending: VecDeque<VecDeque<u64>> =
        inputs.iter().map(|v| v.iter().copied().collect()).collect();
    let mut slots: Vec<Option<VecDeque<u64>>> = vec![None; cycle];
    let mut out = Vec::new();
    let mut slot = 0;
    loop {
        if pending.is_empty() && slots.iter().all(Option::is_none) {
            return out;
        }
        if slots[slot].is_none() {
            slots[slot] = pending.pop_front();
        }
        if let Some(queue) = slots[slot].as_mut() {
            let mut taken = 0;
            while taken < block {
                match queue.pop_front() {
                    Some(x) => {
                        out.push(x);
                        taken += 1;
                    }
                    None => break,
                }
            }
            if taken < block {
                slots[slot] = None;
            }
        }
        slot = (slot + 1) % cycle;
    }
}

/// A dataset that counts its reads.
struct Counting<'a> {
    inner: &'a InMemoryDataset<u64>,
    reads: std::cell::Cell<u64>,
}

impl Dataset for Counting<'_> {
    type Item = u64;

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn get(&self, index: u64) -> lockstep_data::Result<u64> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(index)
    }
}

#[test]
fn buffered_shuffle_known_answers() {
    let node = SeedTree::from_u64(42).child("shuffle_buffer");
    let got: Vec<u64> = BufferedShuffle::new(0..10u64, &node, 4).unwrap().collect();
    assert_eq!(got, vec![3, 0, 2, 5, 6, 8, 9, 4, 1, 7]);
    let full: Vec<u64> = BufferedShuffle::new(0..10u64, &node, 100)
        .unwrap()
        .collect();
    assert_eq!(full, vec![8, 1, 4, 9, 3, 5, 2, 7, 6, 0]);
}

#[test]
fn buffered_shuffle_typed_errors() {
    let node = SeedTree::from_u64(1);
    assert!(matches!(
        BufferedShuffle::new(0..10u64, &node, 0),
        Err(Error::Zero {
            what: "buffer size"
        })
    ));
    let mut s = BufferedShuffle::new(0..10u64, &node, 4).unwrap();
    s.by_ref().take(3).for_each(drop);
    let state = s.state();
    let field = |r: lockstep_data::Result<BufferedShuffle<std::ops::Range<u64>>>| match r {
        Err(Error::StateMismatch { field, .. }) => field,
        other => panic!("expected a mismatch, got {other:?}"),
    };
    assert_eq!(
        field(BufferedShuffle::resume(0..10, &node, 5, &state)),
        StateField::BufferSize
    );
    assert_eq!(
        field(BufferedShuffle::resume(0..10, &node.index(1), 4, &state)),
        StateField::Seed
    );
    // An upstream that is not the same sequence is detected.
    assert!(matches!(
        BufferedShuffle::resume(0..2, &node, 4, &state),
        Err(Error::ReplayDiverged { .. })
    ));
    assert!(matches!(
        BufferedShuffleState::from_json("[]"),
        Err(Error::StateJson { .. })
    ));
}

#[test]
fn interleave_known_answers() {
    // TF's documented example for Dataset.interleave.
    let inputs: Vec<Vec<u64>> = (1..6).map(|x| vec![x; 6]).collect();
    let want = vec![
        1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5,
    ];
    assert_eq!(
        Interleave::new(inputs.clone(), 2, 4)
            .unwrap()
            .collect::<Vec<_>>(),
        want
    );
    assert_eq!(reference_interleave(&inputs, 2, 4), want);
    // Dataset.range(1, 6).interleave(lambda x: from_tensors(x).repeat(3), cycle_length=4,
    // block_length=2): inputs that end mid-block hand the turn on, and the freed slot
    // opens the next input on its next turn.
    let threes: Vec<Vec<u64>> = (1..6).map(|x| vec![x; 3]).collect();
    assert_eq!(
        Interleave::new(threes, 4, 2).unwrap().collect::<Vec<_>>(),
        vec![1, 1, 2, 2, 3, 3, 4, 4, 1, 2, 3, 4, 5, 5, 5]
    );
    // TF's flat_map example: cycle_length = 1.
    let rows = vec![vec![1u64, 2, 3], vec![4, 5, 6], vec![7, 8, 9]];
    assert_eq!(
        Interleave::new(rows, 1, 2).unwrap().collect::<Vec<_>>(),
        (1..10).collect::<Vec<_>>()
    );
    // Dataset.range(1, 6).interleave(lambda x: from_tensors(x).repeat(x), cycle_length=3,
    // block_length=2), worked by hand from the documented rules.
    let ragged: Vec<Vec<u64>> = (1..6).map(|x| vec![x; x as usize]).collect();
    assert_eq!(
        Interleave::new(ragged, 3, 2).unwrap().collect::<Vec<_>>(),
        vec![1, 2, 2, 3, 3, 4, 4, 3, 4, 4, 5, 5, 5, 5, 5]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn buffered_shuffle_matches_the_reference(seed in any::<u64>(), len in 0usize..300, buffer in 1usize..50) {
        let node = SeedTree::from_u64(seed);
        let items: Vec<u64> = (0..len as u64).map(|i| i * 7 + 3).collect();
        let got: Vec<u64> = BufferedShuffle::new(items.clone().into_iter(), &node, buffer as u64).unwrap().collect();
        prop_assert_eq!(&got, &reference_shuffle(&items, &node, buffer));
        let mut sorted = got;
        sorted.sort_unstable();
        prop_assert_eq!(sorted, items);
    }

    #[test]
    fn buffered_shuffle_resume_equals_the_uninterrupted_run(seed in any::<u64>(), len in 0u64..200, buffer in 1u64..40, k in 0usize..220) {
        let node = SeedTree::from_u64(seed);
        let full: Vec<u64> = BufferedShuffle::new(0..len, &node, buffer).unwrap().collect();
        let mut first = BufferedShuffle::new(0..len, &node, buffer).unwrap();
        let head: Vec<u64> = first.by_ref().take(k).collect();
        let state = BufferedShuffleState::from_json(&first.state().to_json()).unwrap();
        let tail: Vec<u64> = BufferedShuffle::resume(0..len, &node, buffer, &state).unwrap().collect();
        prop_assert_eq!([head, tail].concat(), full);
    }

    #[test]
    fn buffered_shuffle_resume_from_a_dataset_reads_only_the_buffer(seed in any::<u64>(), len in 1u64..150, buffer in 1u64..30, k in 0usize..160) {
        let node = SeedTree::from_u64(seed);
        let data = InMemoryDataset::new((0..len).map(|i| i * 3).collect::<Vec<u64>>());
        let full: Vec<u64> = BufferedShuffle::new(DatasetIter::new(&data), &node, buffer).unwrap()
            .map(|r| r.unwrap()).collect();
        let mut first = BufferedShuffle::new(DatasetIter::new(&data), &node, buffer).unwrap();
        let head: Vec<u64> = first.by_ref().take(k).map(|r| r.unwrap()).collect();
        let state = first.state();
        let counting = Counting { inner: &data, reads: std::cell::Cell::new(0) };
        let resumed = BufferedShuffle::resume_from_dataset(&counting, &node, buffer, &state).unwrap();
        let reads_at_resume = counting.reads.get();
        prop_assert!(reads_at_resume <= buffer.min(len));
        let tail: Vec<u64> = resumed.map(|r| r.unwrap()).collect();
        prop_assert_eq!([head, tail].concat(), full);
        prop_assert!(counting.reads.get() <= len);
    }

    #[test]
    fn interleave_matches_the_reference(lens in proptest::collection::vec(0usize..9, 0..12), cycle in 1usize..5, block in 1usize..5) {
        let inputs: Vec<Vec<u64>> = lens.iter().enumerate()
            .map(|(k, &n)| (0..n as u64).map(|i| 100 * k as u64 + i).collect())
            .collect();
        let got: Vec<u64> = Interleave::new(inputs.clone(), cycle as u64, block as u64).unwrap().collect();
        prop_assert_eq!(&got, &reference_interleave(&inputs, cycle, block));
        let par: Vec<u64> = interleave_parallel(inputs.clone(), |v: Vec<u64>| v, cycle as u64, block as u64).unwrap().collect();
        prop_assert_eq!(&par, &got);
        if cycle == 1 {
            prop_assert_eq!(got, inputs.concat());
        }
    }

    #[test]
    fn batches_concatenate_back(len in 0u64..100, size in 1u64..12, drop in any::<bool>()) {
        let got: Vec<Vec<u64>> = batches(0..len, size, drop).unwrap().collect();
        let kept = if drop { len - len % size } else { len };
        prop_assert_eq!(got.concat(), (0..kept).collect::<Vec<_>>());
        prop_assert!(got.iter().all(|b| b.len() as u64 == size || (!drop && b.len() as u64 == len % size)));
    }
}

#[test]
fn parallel_stages_are_independent_of_the_thread_count() {
    let node = EpochKey::new(&SeedTree::from_u64(11).child("augment"), 0);
    let items: Vec<u64> = (0..2000).collect();
    let inputs: Vec<u64> = (0..64).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mapped = par_map(&node, &items, |i, x, key| {
                key.rng().next_u64() ^ (i * 31 + x)
            });
            let indexed = par_map_indexed(&node, &items, |i, key| key.u64_at(i % 5));
            let woven: Vec<u64> = interleave_parallel(
                inputs.clone(),
                |k: u64| (0..k % 7).map(|i| k * 10 + i).collect(),
                3,
                2,
            )
            .unwrap()
            .collect();
            (mapped, indexed, woven)
        })
    };
    let one = run(1);
    assert_eq!(run(2), one);
    assert_eq!(run(16), one);
}

/// The buffered shuffle's counters: `emitted` counts outputs, `pulled` the upstream
/// items consumed (the buffer fills first), and a saved state whose `pulled` disagrees
/// with the replay is refused even when `emitted` agrees. (Found by mutation testing.)
#[test]
fn buffered_shuffle_counts_and_checks_both_counters() {
    let node = SeedTree::from_u64(31).child("counters");
    let mut s = BufferedShuffle::new(0..10u64, &node, 4).unwrap();
    assert_eq!((s.emitted(), s.pulled()), (0, 0));
    s.next();
    assert_eq!(
        (s.emitted(), s.pulled()),
        (1, 5),
        "4 buffered + 1 to replace the output"
    );
    s.by_ref().take(6).for_each(drop);
    assert_eq!((s.emitted(), s.pulled()), (7, 10));
    s.by_ref().for_each(drop);
    assert_eq!((s.emitted(), s.pulled()), (10, 10));

    let mut s = BufferedShuffle::new(0..10u64, &node, 4).unwrap();
    s.by_ref().take(3).for_each(drop);
    let state = s.state();
    assert_eq!((state.emitted, state.pulled), (3, 7));
    let mut wrong = state.clone();
    wrong.pulled = 6; // still reachable for a buffer of 4, but not by this replay
    assert!(matches!(
        BufferedShuffle::resume(0..10u64, &node, 4, &wrong),
        Err(Error::ReplayDiverged {
            expected: 6,
            found: 7
        })
    ));
    let resumed = BufferedShuffle::resume(0..10u64, &node, 4, &state).unwrap();
    assert_eq!((resumed.emitted(), resumed.pulled()), (3, 7));
}

/// `size_hint` is exact for an exact upstream, at every step: what `collect` and
/// `ExactSizeIterator`-style callers rely on.
#[test]
fn size_hints_are_exact_at_every_step() {
    let node = SeedTree::from_u64(32).child("hints");
    for buffer in [1u64, 3, 16] {
        let mut s = BufferedShuffle::new(0..20u64, &node, buffer).unwrap();
        for left in (0..=20usize).rev() {
            assert_eq!(s.size_hint(), (left, Some(left)), "buffer {buffer}");
            assert_eq!(s.next().is_some(), left > 0);
        }
        // An upstream that does not know its length gives no upper bound.
        let unknown = (0..20u64).filter(|x| x % 2 == 0);
        let s = BufferedShuffle::new(unknown, &node, buffer).unwrap();
        assert_eq!(s.size_hint(), (0, Some(20)));
    }
    let perm = lockstep_data::IndexPermutation::new(&node, 1000).unwrap();
    let mut it = perm.iter();
    for left in (0..=1000usize).rev() {
        assert_eq!(it.size_hint(), (left, Some(left)));
        assert_eq!(it.next().is_some(), left > 0);
    }
}
