//! Properties of the seed tree: keys depend only on paths.

use std::collections::HashSet;

use lockstep_seeding::{RngCore, SeedTree, Segment};
use proptest::prelude::*;

fn step() -> impl Strategy<Value = Segment> {
    prop_oneof![
        "[a-z0-9/\\[\\]\\\\]{0,8}".prop_map(|s| Segment::Label(s.into())),
        any::<u64>().prop_map(Segment::Index),
    ]
}

fn first_outputs(node: &SeedTree) -> [u64; 4] {
    let mut rng = node.rng();
    [
        rng.next_u64(),
        rng.next_u64(),
        rng.next_u64(),
        rng.next_u64(),
    ]
}

proptest! {
    #[test]
    fn same_path_gives_same_key(seed: u64, steps in prop::collection::vec(step(), 0..6)) {
        let a = SeedTree::from_u64(seed).follow(&steps);
        let b = SeedTree::from_u64(seed).follow(&steps);
        prop_assert_eq!(a.key(), b.key());
        prop_assert_eq!(first_outputs(&a), first_outputs(&b));
    }

    #[test]
    fn key_does_not_depend_on_derivation_order_or_history(
        seed: u64,
        a in prop::collection::vec(step(), 1..5),
        b in prop::collection::vec(step(), 1..5),
    ) {
        let root = SeedTree::from_u64(seed);
        // Derive a then b, versus b then a, versus a alone on a fresh root.
        let a1 = root.follow(&a);
        let _b1 = root.follow(&b);
        let _b2 = root.follow(&b);
        let a2 = root.follow(&a);
        let a3 = SeedTree::from_u64(seed).follow(&a);
        prop_assert_eq!(a1.key(), a2.key());
        prop_assert_eq!(a1.key(), a3.key());
    }

    #[test]
    fn key_does_not_depend_on_thread(seed: u64, steps in prop::collection::vec(step(), 0..5)) {
        let here = SeedTree::from_u64(seed).follow(&steps).key();
        let steps2 = steps.clone();
        let there = std::thread::spawn(move || SeedTree::from_u64(seed).follow(&steps2).key())
            .join()
            .unwrap();
        prop_assert_eq!(here, there);
    }

    #[test]
    fn label_and_index_never_collide(seed: u64, i: u64) {
        let root = SeedTree::from_u64(seed);
        prop_assert_ne!(root.child(&i.to_string()).key(), root.index(i).key());
    }

    #[test]
    fn child_outputs_differ_from_parent_and_siblings(seed: u64, label in "[a-z]{1,6}", i: u64) {
        let parent = SeedTree::from_u64(seed);
        let child = parent.child(&label);
        let sibling = parent.child(&format!("{label}x"));
        let indexed = parent.index(i);
        let outputs = [
            first_outputs(&parent),
            first_outputs(&child),
            first_outputs(&sibling),
            first_outputs(&indexed),
        ];
        for x in 0..outputs.len() {
            for y in x + 1..outputs.len() {
                prop_assert_ne!(outputs[x], outputs[y]);
            }
        }
    }

    #[test]
    fn path_renders_and_parses_back(seed: u64, steps in prop::collection::vec(step(), 0..6)) {
        let node = SeedTree::from_u64(seed).follow(&steps);
        let again = SeedTree::from_u64(seed).descend(&node.path()).unwrap();
        prop_assert_eq!(again.segments(), steps);
        prop_assert_eq!(again.key(), node.key());
    }

    #[test]
    fn serde_round_trips_exactly(seed: u64, bytes: [u8; 32], steps in prop::collection::vec(step(), 0..6)) {
        for root in [SeedTree::from_u64(seed), SeedTree::from_bytes(bytes)] {
            let node = root.follow(&steps);
            let back = SeedTree::from_json(&node.to_json()).unwrap();
            prop_assert_eq!(&back, &node);
            prop_assert_eq!(back.to_json(), node.to_json());
        }
    }

    #[test]
    fn counter_access_equals_the_stream(seed: u64, skip in 0u64..300) {
        let node = SeedTree::from_u64(seed);
        let mut rng = node.rng();
        for _ in 0..skip {
            rng.next_u64();
        }
        prop_assert_eq!(node.u64_at(skip), rng.next_u64());
    }

    #[test]
    fn below_stays_below(seed: u64, bound in 1u64..) {
        let mut rng = SeedTree::from_u64(seed).rng();
        for _ in 0..16 {
            prop_assert!(rng.try_below(bound).unwrap() < bound);
        }
    }

    #[test]
    fn uniform_stays_in_range(seed: u64, low in -1e6f64..1e6, width in 0f64..1e6) {
        let mut rng = SeedTree::from_u64(seed).rng();
        let high = low + width;
        for _ in 0..16 {
            let x = rng.uniform_f64(low, high).unwrap();
            prop_assert!(x >= low && (x < high || low == high));
            let y = rng.uniform_f32(low as f32, high as f32).unwrap();
            prop_assert!(y >= low as f32 && (y < high as f32 || low as f32 == high as f32));
        }
    }
}

#[test]
fn a_million_sibling_paths_never_collide() {
    let root = SeedTree::from_u64(7).child("samples");
    let mut seen = HashSet::with_capacity(1_000_000);
    for i in 0..1_000_000u64 {
        assert!(seen.insert(root.index(i).key()), "collision at index {i}");
    }
    // Labels in the same family as well: index i and label "i" differ.
    for i in 0..1_000u64 {
        assert!(seen.insert(root.child(&i.to_string()).key()));
    }
}

#[test]
fn additive_seed_schemes_do_not_collide_here() {
    // seed + epoch schemes make (s, e + 1) equal (s + 1, e); hashed paths do not.
    let a = SeedTree::from_u64(10).child_index("epoch", 4);
    let b = SeedTree::from_u64(11).child_index("epoch", 3);
    assert_ne!(a.key(), b.key());
}

#[test]
fn keys_are_the_same_from_many_threads() {
    use rayon::prelude::*;
    let root = SeedTree::from_u64(99).child("sample");
    let sequential: Vec<[u8; 32]> = (0..10_000u64).map(|i| root.index(i).key()).collect();
    for threads in [1, 2, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let parallel: Vec<[u8; 32]> = pool.install(|| {
            (0..10_000u64)
                .into_par_iter()
                .map(|i| root.index(i).key())
                .collect()
        });
        assert_eq!(parallel, sequential, "{threads} threads");
    }
}

#[test]
fn bernoulli_extremes_are_exact() {
    let mut rng = SeedTree::from_u64(3).rng();
    for _ in 0..1000 {
        assert!(rng.bernoulli(1.0).unwrap());
        assert!(!rng.bernoulli(0.0).unwrap());
    }
}

#[test]
fn below_is_unbiased_enough_to_notice_modulo_bias() {
    // With n = 3·2^62, modulo reduction would give the low third twice the mass of the
    // rest; the multiply-and-reject recipe keeps each third near 1/3.
    let n = 3u64 << 62;
    let mut rng = SeedTree::from_u64(5).rng();
    let mut low_third = 0u32;
    let draws = 30_000;
    for _ in 0..draws {
        if rng.try_below(n).unwrap() < (1u64 << 62) {
            low_third += 1;
        }
    }
    let share = f64::from(low_third) / f64::from(draws);
    assert!(
        (share - 1.0 / 3.0).abs() < 0.02,
        "share of the low third: {share}"
    );
}
