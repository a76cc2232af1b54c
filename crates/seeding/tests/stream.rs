//! The generator's stream bookkeeping and the exact edges of `below`: what a caller
//! relies on to resume a stream or to count draws. (Found by mutation testing: no
//! other test noticed when `position`, `fill_u64`, a zero-width range or the
//! rejection threshold of `below` were broken.)

use std::num::NonZeroU64;

use lockstep_seeding::SeedTree;
use rand_core::RngCore;

#[test]
fn position_counts_the_u64s_drawn() {
    let node = SeedTree::from_u64(11).child("position");
    let mut rng = node.rng();
    assert_eq!(rng.position(), 0);
    for drawn in 1..=70u128 {
        rng.next_u64();
        assert_eq!(rng.position(), drawn);
    }
    // Each helper that documents "one draw" moves the position by one.
    let before = rng.position();
    rng.unit_f64();
    rng.unit_f32();
    rng.uniform_f64(-1.0, 1.0).unwrap();
    rng.bernoulli(0.5).unwrap();
    assert_eq!(rng.position(), before + 4);
    rng.normal_f64();
    assert_eq!(rng.position(), before + 6, "normal_f64 takes two draws");
}

#[test]
fn fill_u64_continues_the_stream_where_it_is() {
    let node = SeedTree::from_u64(12).child("fill");
    let mut filled = node.rng();
    let mut one_by_one = node.rng();
    filled.next_u64();
    one_by_one.next_u64();
    let mut out = [0u64; 37];
    filled.fill_u64(&mut out);
    let expected: Vec<u64> = (0..37).map(|_| one_by_one.next_u64()).collect();
    assert_eq!(out.to_vec(), expected);
    assert_eq!(filled.position(), 38);
    // Each value is the stream's value at its position.
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, node.u64_at(i as u64 + 1));
    }
    assert_eq!(filled.next_u64(), one_by_one.next_u64());
}

#[test]
fn a_zero_width_range_gives_its_bound_after_one_draw() {
    let mut rng = SeedTree::from_u64(13).rng();
    for x in [2.5f64, -0.0, 0.0, 1e30, -f64::from(f32::MIN_POSITIVE)] {
        let before = rng.position();
        let got = rng.uniform_f64(x, x).unwrap();
        assert_eq!(got.to_bits(), x.to_bits());
        assert_eq!(rng.position(), before + 1);
        let got = rng.uniform_f32(x as f32, x as f32).unwrap();
        assert_eq!(got.to_bits(), (x as f32).to_bits());
        assert_eq!(rng.position(), before + 2);
    }
}

/// Lemire's rule rejects a draw only when the low half of `x · n` is *below*
/// `2⁶⁴ mod n`. With `n = 3 · 2⁶²` the threshold is `2⁶²`, and every draw
/// `x ≡ 3 (mod 4)` lands exactly on it: such a draw is accepted, so the value is
/// `⌊x · n / 2⁶⁴⌋` from one draw.
#[test]
fn below_accepts_a_draw_exactly_at_the_rejection_threshold() {
    let n = 3u64 << 62;
    assert_eq!(n.wrapping_neg() % n, 1 << 62, "the threshold");
    let nz = NonZeroU64::new(n).unwrap();
    let mut checked = 0;
    for seed in 0..64u64 {
        let node = SeedTree::from_u64(seed).child("threshold");
        let x = node.u64_at(0);
        if x % 4 != 3 {
            continue;
        }
        let m = u128::from(x) * u128::from(n);
        assert_eq!(m as u64, 1 << 62, "x = {x} sits on the threshold");
        let mut rng = node.rng();
        assert_eq!(rng.below(nz), (m >> 64) as u64);
        assert_eq!(rng.position(), 1, "accepted: one draw");
        checked += 1;
    }
    assert!(
        checked >= 8,
        "only {checked} of 64 seeds gave x ≡ 3 (mod 4)"
    );
}

/// The documented recipe, from the raw stream: draws whose low half is below
/// `2⁶⁴ mod n` are rejected, for `n` where that happens to about half the draws.
#[test]
fn below_follows_the_documented_recipe_where_rejection_is_common() {
    for n in [
        (1u64 << 63) + 1,
        (1u64 << 63) + 999_999,
        u64::MAX / 3 * 2 + 1,
    ] {
        let node = SeedTree::from_u64(n).child("recipe");
        let mut rng = node.rng();
        let mut i = 0u64;
        let threshold = n.wrapping_neg() % n;
        let mut rejected = 0;
        for _ in 0..500 {
            let expected = loop {
                let m = u128::from(node.u64_at(i)) * u128::from(n);
                i += 1;
                if (m as u64) >= threshold {
                    break (m >> 64) as u64;
                }
                rejected += 1;
            };
            assert_eq!(rng.below(NonZeroU64::new(n).unwrap()), expected);
            assert_eq!(rng.position(), u128::from(i));
        }
        assert!(rejected > 50, "n = {n}: only {rejected} rejections");
    }
}

/// `SeedRng` as a `rand_core::RngCore`: its 32-bit words and bytes are the same
/// ChaCha12 stream as its `u64`s (low word first, little-endian bytes), so rand
/// ecosystem code driven by it sees the node's stream.
#[test]
fn rng_core_words_and_bytes_are_the_nodes_stream() {
    let node = SeedTree::from_u64(14).child("rand_core");
    let mut rng = node.rng();
    for i in 0..8 {
        let low = u64::from(rng.next_u32());
        let high = u64::from(rng.next_u32());
        assert_eq!(low | (high << 32), node.u64_at(i));
    }
    let mut bytes = [0u8; 40];
    rng.fill_bytes(&mut bytes);
    let expected: Vec<u8> = (8..13).flat_map(|i| node.u64_at(i).to_le_bytes()).collect();
    assert_eq!(bytes.to_vec(), expected);
}

/// `normal` refuses a `(mean, std)` whose worst case `|mean| + 8.6 · std` overflows,
/// even where the mean and the deviation are each finite and modest on their own.
#[test]
fn normal_refuses_parameters_whose_worst_case_overflows() {
    use lockstep_seeding::{Error, NORMAL_MAX_ABS};
    let mut rng = SeedTree::from_u64(15).rng();
    let cases = [
        (0.0, f64::MAX / 4.0),
        (f64::MAX / 2.0, f64::MAX / 16.0),
        (-f64::MAX, f64::MAX / 1e6),
    ];
    for (mean, std) in cases {
        assert!(!(mean.abs() + NORMAL_MAX_ABS * std).is_finite());
        assert!(
            matches!(rng.normal(mean, std), Err(Error::NormalTooWide { .. })),
            "({mean:e}, {std:e}) was accepted"
        );
    }
    assert_eq!(rng.position(), 0, "refused before any draw");
    // Just inside the bound: accepted, and finite.
    let std = f64::MAX / (2.0 * NORMAL_MAX_ABS);
    for _ in 0..100 {
        assert!(rng.normal(f64::MAX / 4.0, std).unwrap().is_finite());
    }
}

#[test]
fn nodes_are_equal_exactly_when_root_path_and_key_are() {
    let a = SeedTree::from_u64(16).child("train").index(0);
    assert_eq!(a, SeedTree::from_u64(16).child("train").index(0));
    assert_eq!(a, SeedTree::from_u64(16).descend("train[0]").unwrap());
    for other in [
        SeedTree::from_u64(17).child("train").index(0),
        SeedTree::from_u64(16).child("train").index(1),
        SeedTree::from_u64(16).child("val").index(0),
        SeedTree::from_u64(16).child("train"),
        SeedTree::from_bytes([16; 32]).child("train").index(0),
    ] {
        assert_ne!(a, other, "{other}");
    }
}

#[test]
fn display_is_the_path_and_debug_names_path_and_key() {
    let node = SeedTree::from_u64(18).child("train").index(3);
    assert_eq!(node.to_string(), "root/train[3]");
    let debug = format!("{node:?}");
    assert!(debug.contains("root/train[3]"), "{debug}");
    assert!(debug.contains(&node.key_hex()), "{debug}");
}

#[test]
fn index_zero_parses_and_index_errors_say_why() {
    let root = SeedTree::from_u64(19);
    assert_eq!(root.descend("a[0]").unwrap(), root.child("a").index(0));
    assert_eq!(root.descend("[0][10]").unwrap(), root.index(0).index(10));
    let reason = |path: &str| match root.descend(path) {
        Err(lockstep_seeding::Error::BadPath { reason, .. }) => reason,
        other => panic!("{path}: {other:?}"),
    };
    assert!(reason("a[1x]").contains("decimal digits only"));
    assert!(
        reason("a[٣]").contains("decimal digits only"),
        "a non-ASCII digit"
    );
    assert!(reason("a[01]").contains("leading zeros"));
    assert!(reason("a[]").contains("without leading zeros"));
}

#[test]
fn a_path_that_is_not_an_array_is_refused_with_what_was_expected() {
    let json = SeedTree::from_u64(20).child("x").to_json();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["path"] = "root/x".into();
    let err = SeedTree::from_json(&value.to_string()).unwrap_err();
    assert!(err.to_string().contains("an array of path steps"), "{err}");
}

/// `normal(mean, std)` is `mean + std · z` with `z` the same stream's `normal_f64`.
#[test]
fn normal_scales_and_shifts_the_standard_draw() {
    let node = SeedTree::from_u64(21).child("normal");
    let (mut scaled, mut standard) = (node.rng(), node.rng());
    for (mean, std) in [
        (0.0, 1.0),
        (3.5, 0.25),
        (-2.0, 10.0),
        (1e6, 0.0),
        (0.0, 3.0),
    ] {
        for _ in 0..20 {
            let z = standard.normal_f64();
            let got = scaled.normal(mean, std).unwrap();
            assert_eq!(got.to_bits(), (mean + std * z).to_bits(), "({mean}, {std})");
        }
    }
}
