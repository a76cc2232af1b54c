//! Hostile input: decoded values are checked as their constructors check them, saved
//! states that no run can reach are refused up front, sizes are bounded before
//! allocating, and parallel errors do not depend on the thread count.

use lockstep_data::{
    permutation, permutation_u32, try_par_map_indexed, BufferedShuffle, BufferedShuffleState,
    Error, InMemoryDataset, Sampler, SamplerConfig, SamplerState, Shard, MAX_PERMUTATION_LEN,
};
use lockstep_seeding::{EpochKey, RngCore, SeedTree, MAX_PATH_DEPTH};
use proptest::prelude::*;

#[test]
fn a_decoded_shard_is_checked_like_shard_new() {
    let decode = |text: &str| serde_json::from_str::<Shard>(text);
    let zero = decode(r#"{"rank":0,"world":0}"#).expect_err("world 0");
    assert!(zero.to_string().contains("world size"), "{zero}");
    let past = decode(r#"{"rank":3,"world":2}"#).expect_err("rank 3 of 2");
    assert!(past.to_string().contains("rank 3"), "{past}");
    assert_eq!(
        decode(r#"{"rank":1,"world":2}"#).unwrap(),
        Shard::new(1, 2).unwrap()
    );
    // And it round-trips.
    let shard = Shard::new(5, 8).unwrap();
    assert_eq!(
        decode(&serde_json::to_string(&shard).unwrap()).unwrap(),
        shard
    );
}

fn sampler_state_json() -> String {
    let config = SamplerConfig::new(10, SeedTree::from_u64(1).child("train")).with_epochs(2);
    let mut sampler = Sampler::new(config, Shard::new(0, 2).unwrap()).unwrap();
    sampler.next();
    let text = sampler.state().to_json();
    assert!(text.contains(r#""len":10,"#) && text.contains(r#""position":2"#));
    text
}

#[test]
fn a_decoded_sampler_state_is_consistent_in_itself() {
    let good = sampler_state_json();
    assert!(SamplerState::from_json(&good).is_ok());
    for (from, to) in [
        (r#""len":10,"#, r#""len":0,"#),
        (r#""len":10,"#, r#""len":9223372036854775809,"#),
        (r#""epochs":2,"#, r#""epochs":0,"#),
        (r#""world":2,"#, r#""world":0,"#),
        (r#""epoch":0,"#, r#""epoch":3,"#),
        (r#""position":2"#, r#""position":11"#),
        (r#""epoch":0,"#, r#""epoch":2,"#),
    ] {
        let text = good.replace(from, to);
        assert_ne!(text, good, "{from}");
        assert!(
            matches!(SamplerState::from_json(&text), Err(Error::BadState { .. })),
            "{from} -> {to}"
        );
    }
}

#[test]
fn a_sampler_state_with_a_too_deep_seed_is_refused() {
    let mut seed = SeedTree::from_u64(1);
    for _ in 0..=MAX_PATH_DEPTH {
        seed = seed.child("a");
    }
    let config = SamplerConfig::new(10, seed);
    let text = Sampler::new(config, Shard::single())
        .unwrap()
        .state()
        .to_json();
    match SamplerState::from_json(&text) {
        Err(Error::StateJson { source }) => {
            assert!(source.to_string().contains("more than the maximum"))
        }
        other => panic!("expected malformed state JSON, got {other:?}"),
    }
}

fn shuffle_state(emitted: u64, pulled: u64, buffer_size: u64) -> String {
    let node = SeedTree::from_u64(1);
    let text = BufferedShuffle::new(0..10u64, &node, 4)
        .unwrap()
        .state()
        .to_json();
    text.replace(r#""emitted":0"#, &format!(r#""emitted":{emitted}"#))
        .replace(r#""pulled":0"#, &format!(r#""pulled":{pulled}"#))
        .replace(
            r#""buffer_size":4"#,
            &format!(r#""buffer_size":{buffer_size}"#),
        )
}

#[test]
fn a_decoded_buffered_shuffle_state_is_consistent_in_itself() {
    for (emitted, pulled, size) in [(0, 0, 4), (1, 5, 4), (3, 3, 4), (7, 10, 4)] {
        assert!(
            BufferedShuffleState::from_json(&shuffle_state(emitted, pulled, size)).is_ok(),
            "{emitted} {pulled} {size}"
        );
    }
    for (emitted, pulled, size) in [
        (1 << 40, 5, 4),
        (1, 6, 4),
        (0, 3, 4),
        (0, 0, 0),
        (u64::MAX, u64::MAX, 0),
    ] {
        assert!(
            matches!(
                BufferedShuffleState::from_json(&shuffle_state(emitted, pulled, size)),
                Err(Error::BadState { .. })
            ),
            "{emitted} {pulled} {size}"
        );
    }
}

/// An endless upstream that fails the test instead of hanging if a replay runs away.
fn endless() -> impl Iterator<Item = u64> {
    (0u64..).inspect(|&i| assert!(i < 1_000_000, "the replay ran past any reachable state"))
}

#[test]
fn resume_refuses_impossible_counters_before_replaying() {
    let node = SeedTree::from_u64(1);
    let mut shuffle = BufferedShuffle::new(endless(), &node, 4).unwrap();
    shuffle.by_ref().take(3).for_each(drop);
    let good = shuffle.state();
    let mut state = good.clone();
    state.emitted = 1 << 40;
    state.pulled = 5;
    assert!(matches!(
        BufferedShuffle::resume(endless(), &node, 4, &state),
        Err(Error::BadState { .. })
    ));
    let mut state = good.clone();
    state.pulled = state.emitted + 5;
    assert!(matches!(
        BufferedShuffle::resume(endless(), &node, 4, &state),
        Err(Error::BadState { .. })
    ));
    let dataset = InMemoryDataset::new((0..10u64).collect());
    let mut state = good.clone();
    state.emitted = 1 << 40;
    assert!(matches!(
        BufferedShuffle::resume_from_dataset(&dataset, &node, 4, &state),
        Err(Error::BadState { .. })
    ));
    // A consistent state past the end of a dataset is refused without replaying.
    let mut state = good;
    state.emitted = 1 << 40;
    state.pulled = (1 << 40) + 4;
    assert!(matches!(
        BufferedShuffle::resume_from_dataset(&dataset, &node, 4, &state),
        Err(Error::ReplayDiverged {
            expected,
            found: 10
        }) if expected == (1 << 40) + 4
    ));
}

#[test]
fn permutations_beyond_the_bound_are_refused_before_allocating() {
    let node = SeedTree::from_u64(1);
    for len in [1 << 40, MAX_PERMUTATION_LEN + 1, u64::MAX] {
        assert!(matches!(
            permutation(&node, len),
            Err(Error::TooLarge {
                what: "permutation length",
                value,
                max: MAX_PERMUTATION_LEN
            }) if value == len
        ));
        assert!(matches!(
            permutation_u32(&node, len),
            Err(Error::TooLarge { value, max: MAX_PERMUTATION_LEN, .. }) if value == len
        ));
    }
}

/// Runs `try_par_map_indexed` on a pool of `threads`, where every index in `failing`
/// fails; early failures are made slow, so that with the first-error-in-time pattern a
/// later failure would usually win.
fn first_error(threads: usize, len: u64, failing: &[u64]) -> Result<Vec<u64>, u64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let indices: Vec<u64> = (0..len).collect();
    pool.install(|| {
        try_par_map_indexed(
            &EpochKey::new(&SeedTree::from_u64(3), 0),
            &indices,
            |i, key| {
                if failing.contains(&i) {
                    // Work that grows towards the front: the lowest failing index is the
                    // slowest to fail.
                    let mut rng = key.rng();
                    let mut acc = 0u64;
                    for _ in 0..(len - i) * 200 {
                        acc = acc.wrapping_add(rng.next_u64());
                    }
                    std::hint::black_box(acc);
                    Err(i)
                } else {
                    Ok(i)
                }
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_error_returned_is_the_first_by_position_for_any_pool(
        len in 50u64..400,
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 2..12),
    ) {
        let failing: Vec<u64> = picks.iter().map(|p| p.index(len as usize) as u64).collect();
        let lowest = failing.iter().copied().min();
        for threads in [1, 2, 3, 8] {
            prop_assert_eq!(first_error(threads, len, &failing), Err(lowest.unwrap_or(0)));
        }
    }
}

/// `text` with the byte at `at` replaced by `with`, and the result read as lossy UTF-8.
fn mutate(text: &str, at: prop::sample::Index, with: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = at.index(bytes.len());
    bytes[i] = with;
    String::from_utf8_lossy(&bytes).into_owned()
}

const COCO: &str = r#"{"images":[{"id":1,"file_name":"a.png","width":4,"height":3}],
"annotations":[{"id":7,"image_id":1,"category_id":2,"bbox":[0.5,1,2,1],"iscrowd":0}],
"categories":[{"id":2,"name":"x"}]}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The decoders a fuzzer drives return `Ok` or a typed error on any input.
    #[test]
    fn decoders_never_panic(
        junk in ".{0,64}",
        at in any::<prop::sample::Index>(),
        with in any::<u8>(),
        number in prop_oneof![
            any::<u64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            Just("-1".to_string()),
        ],
    ) {
        let sampler = sampler_state_json();
        let shuffle = shuffle_state(3, 7, 4);
        let node = SeedTree::from_u64(9).child("a").index(3).to_json();
        let source = std::path::Path::new("fuzz.json");
        let policies = [lockstep_data::CorruptPolicy::Fail, lockstep_data::CorruptPolicy::SkipAndRecord];
        for text in [
            junk.clone(),
            mutate(&sampler, at, with),
            mutate(&shuffle, at, with),
            mutate(&node, at, with),
            mutate(COCO, at, with),
            sampler.replace("10", &number),
            shuffle.replace('7', &number),
            COCO.replace("0.5", &number).replace('3', &number),
        ] {
            let _ = SamplerState::from_json(&text);
            let _ = BufferedShuffleState::from_json(&text);
            let _ = SeedTree::from_json(&text);
            let _ = serde_json::from_str::<Shard>(&text);
            for policy in policies {
                let _ = lockstep_data::CocoAnnotations::from_json_slice(text.as_bytes(), source, policy);
            }
        }
    }
}
