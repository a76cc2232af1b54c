//! Properties of the sampler: shards, resume, re-sharding, thread independence.

use std::collections::BTreeSet;

use lockstep_data::{
    Error, Sampler, SamplerConfig, SamplerState, ScheduledSample, Shard, StateField,
};
use lockstep_seeding::SeedTree;
use proptest::prelude::*;

fn config(len: u64, seed: u64, epochs: u64, shuffle: bool, drop: bool) -> SamplerConfig {
    SamplerConfig::new(len, SeedTree::from_u64(seed).child("train"))
        .with_epochs(epochs)
        .with_shuffle(shuffle)
        .with_drop_remainder(drop)
}

/// The global order, epoch by epoch, from random access.
fn global(config: &SamplerConfig) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    for e in 0..config.epochs {
        let order = config.epoch_order(e).unwrap();
        for p in 0..config.len {
            out.push((e, p, order.get(p).unwrap()));
        }
    }
    out
}

fn key(s: &ScheduledSample) -> (u64, u64, u64) {
    (s.epoch, s.position, s.index)
}

/// Runs `world` ranks in lockstep, `steps` steps each (or to the end), and returns all
/// samples plus each rank's final sampler.
fn run_ranks(samplers: &mut [Sampler], steps: Option<u64>) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut taken = 0;
    loop {
        if steps.is_some_and(|s| taken >= s) {
            break;
        }
        let mut any = false;
        for s in samplers.iter_mut() {
            if let Some(step) = s.next_step() {
                any = true;
                out.extend(step.sample.as_ref().map(key));
            }
        }
        if !any {
            break;
        }
        taken += 1;
    }
    out
}

#[test]
fn known_answers() {
    let c = config(10, 42, 2, true, false);
    let all: Vec<u64> = Sampler::new(c.clone(), Shard::single())
        .unwrap()
        .map(|s| s.index)
        .collect();
    assert_eq!(
        all,
        vec![7, 6, 8, 5, 4, 1, 0, 2, 3, 9, 0, 7, 1, 4, 2, 3, 6, 8, 5, 9]
    );
    let rank1: Vec<u64> = Sampler::new(c, Shard::new(1, 3).unwrap())
        .unwrap()
        .map(|s| s.index)
        .collect();
    // Positions 1, 4, 7 of each epoch.
    assert_eq!(rank1, vec![6, 4, 2, 7, 2, 8]);
    assert_eq!(
        config(5, 1, 1, false, false)
            .epoch_order(0)
            .unwrap()
            .get(3)
            .ok(),
        Some(3)
    );
}

#[test]
fn typed_errors() {
    let c = config(10, 1, 1, true, false);
    assert!(matches!(
        Sampler::new(config(0, 1, 1, true, false), Shard::single()),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Sampler::new(config(10, 1, 0, true, false), Shard::single()),
        Err(Error::Zero { what: "epochs" })
    ));
    assert!(matches!(
        Shard::new(3, 3),
        Err(Error::RankOutOfRange { rank: 3, world: 3 })
    ));
    assert!(matches!(
        Shard::new(0, 0),
        Err(Error::Zero { what: "world size" })
    ));

    let mut s = Sampler::new(c.clone(), Shard::new(0, 2).unwrap()).unwrap();
    s.next();
    let state = s.state();
    let field = |r: lockstep_data::Result<Sampler>| match r {
        Err(Error::StateMismatch { field, .. }) => field,
        other => panic!("expected a mismatch, got {other:?}"),
    };
    let two = Shard::new(0, 2).unwrap();
    assert_eq!(
        field(Sampler::restore(config(11, 1, 1, true, false), two, &state)),
        StateField::Len
    );
    assert_eq!(
        field(Sampler::restore(config(10, 2, 1, true, false), two, &state)),
        StateField::Seed
    );
    assert_eq!(
        field(Sampler::restore(
            config(10, 1, 1, false, false),
            two,
            &state
        )),
        StateField::Shuffle
    );
    assert_eq!(
        field(Sampler::restore(config(10, 1, 1, true, true), two, &state)),
        StateField::DropRemainder
    );
    assert_eq!(
        field(Sampler::restore(config(10, 1, 2, true, false), two, &state)),
        StateField::Epochs
    );
    assert_eq!(
        field(Sampler::restore(c.clone(), Shard::single(), &state)),
        StateField::World
    );
    // The explicit re-sharding API accepts the other world size.
    assert!(Sampler::restore_resharded(c.clone(), Shard::single(), &state).is_ok());

    // An impossible position is refused when decoding, and again at restore (the
    // field is public, so it may be edited after decoding).
    let text = state.to_json().replace("\"position\":2", "\"position\":11");
    assert!(matches!(
        SamplerState::from_json(&text),
        Err(Error::BadState { .. })
    ));
    let mut edited = state.clone();
    edited.position = 11;
    assert!(matches!(
        Sampler::restore(c, two, &edited),
        Err(Error::BadState { .. })
    ));
    assert!(matches!(
        SamplerState::from_json("{}"),
        Err(Error::StateJson { .. })
    ));
}

#[test]
fn drop_remainder_gives_every_rank_the_same_count() {
    let c = config(10, 3, 2, true, true);
    for rank in 0..4 {
        let got: Vec<ScheduledSample> = Sampler::new(c.clone(), Shard::new(rank, 4).unwrap())
            .unwrap()
            .collect();
        assert_eq!(got.len(), 4, "two full steps per epoch, two epochs");
        assert!(got.iter().all(|s| s.position < 8));
    }
    // More ranks than samples: nothing at all, and no endless walk over the epochs.
    let c = config(3, 3, u64::MAX, true, true);
    assert_eq!(
        Sampler::new(c, Shard::new(0, 4).unwrap()).unwrap().count(),
        0
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn shards_union_is_the_global_order(len in 1u64..60, seed in any::<u64>(), world in 1u64..9, shuffle in any::<bool>()) {
        let c = config(len, seed, 2, shuffle, false);
        let mut samplers: Vec<Sampler> = (0..world)
            .map(|r| Sampler::new(c.clone(), Shard::new(r, world).unwrap()).unwrap())
            .collect();
        let mut got = run_ranks(&mut samplers, None);
        got.sort_unstable();
        prop_assert_eq!(got, global(&c));
    }

    #[test]
    fn each_rank_takes_its_residue(len in 1u64..60, seed in any::<u64>(), world in 1u64..9, rank in 0u64..9) {
        let rank = rank % world;
        let c = config(len, seed, 1, true, false);
        let order = c.epoch_order(0).unwrap();
        let got: Vec<ScheduledSample> = Sampler::new(c, Shard::new(rank, world).unwrap()).unwrap().collect();
        let want: Vec<u64> = (0..len).filter(|p| p % world == rank).collect();
        prop_assert_eq!(got.iter().map(|s| s.position).collect::<Vec<_>>(), want.clone());
        for s in &got {
            prop_assert_eq!(s.index, order.get(s.position).unwrap());
        }
    }

    #[test]
    fn resume_at_any_step_equals_the_uninterrupted_run(len in 1u64..50, seed in any::<u64>(), world in 1u64..5, rank in 0u64..5, k in 0usize..120, drop in any::<bool>()) {
        let rank = rank % world;
        let shard = Shard::new(rank, world).unwrap();
        let c = config(len, seed, 3, true, drop);
        let full: Vec<ScheduledSample> = Sampler::new(c.clone(), shard).unwrap().collect();
        let mut first = Sampler::new(c.clone(), shard).unwrap();
        let head: Vec<ScheduledSample> = first.by_ref().take(k).collect();
        let state = SamplerState::from_json(&first.state().to_json()).unwrap();
        let tail: Vec<ScheduledSample> = Sampler::restore(c, shard, &state).unwrap().collect();
        prop_assert_eq!([head, tail].concat(), full);
    }

    #[test]
    fn resharding_at_a_step_boundary_repeats_and_skips_nothing(len in 1u64..60, seed in any::<u64>(), before in 1u64..6, after in 1u64..6, steps in 0u64..30) {
        let c = config(len, seed, 2, true, false);
        let mut old: Vec<Sampler> = (0..before)
            .map(|r| Sampler::new(c.clone(), Shard::new(r, before).unwrap()).unwrap())
            .collect();
        let mut got = run_ranks(&mut old, Some(steps));
        let states: BTreeSet<String> = old.iter().map(|s| s.state().to_json()).collect();
        prop_assert_eq!(states.len(), 1, "all ranks agree at a step boundary");
        let state = old[0].state();
        let mut new: Vec<Sampler> = (0..after)
            .map(|r| Sampler::restore_resharded(c.clone(), Shard::new(r, after).unwrap(), &state).unwrap())
            .collect();
        // Also the in-place API: the same as restoring.
        let mut moved = old.swap_remove(0);
        moved.reshard(Shard::new(0, after).unwrap());
        prop_assert_eq!(moved.state().position, new[0].state().position);
        got.extend(run_ranks(&mut new, None));
        let n = got.len();
        got.sort_unstable();
        got.dedup();
        prop_assert_eq!(got.len(), n, "no sample repeated");
        prop_assert_eq!(got, global(&c));
    }

    #[test]
    fn same_key_same_order_other_epoch_other_order(seed in any::<u64>()) {
        let c = config(200, seed, 2, true, false);
        let a: Vec<u64> = Sampler::new(c.clone(), Shard::single()).unwrap().map(|s| s.index).collect();
        let b: Vec<u64> = Sampler::new(c, Shard::single()).unwrap().map(|s| s.index).collect();
        prop_assert_eq!(&a, &b);
        prop_assert_ne!(&a[..200], &a[200..]);
    }
}

#[test]
fn order_is_independent_of_the_thread_count() {
    let c = config(1000, 7, 2, true, false);
    let reference: Vec<ScheduledSample> =
        Sampler::new(c.clone(), Shard::single()).unwrap().collect();
    for threads in [1, 2, 16] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        // Every rank of a world of 8 runs on the pool at once.
        let mut shards: Vec<Vec<ScheduledSample>> = pool.install(|| {
            use rayon::prelude::*;
            (0..8u64)
                .into_par_iter()
                .map(|r| {
                    Sampler::new(c.clone(), Shard::new(r, 8).unwrap())
                        .unwrap()
                        .collect()
                })
                .collect()
        });
        let mut all: Vec<ScheduledSample> = shards.drain(..).flatten().collect();
        all.sort_by_key(|s| (s.epoch, s.position));
        assert_eq!(all, reference, "{threads} threads");
    }
}

/// What mutation testing found unchecked in the sampler: its position accessors, a
/// live reshard, the last full step with `drop_remainder`, and the edge states that
/// deserializing must accept.
mod sampler_edges {
    use lockstep_data::{Sampler, SamplerConfig, SamplerState, Shard};
    use lockstep_seeding::SeedTree;

    fn config(len: u64) -> SamplerConfig {
        SamplerConfig::new(len, SeedTree::from_u64(37).child("edges")).with_epochs(2)
    }

    /// The global order is the same whichever world walks it: a world of 2 resharded
    /// to a world of 3 after two steps continues at the same global position.
    #[test]
    fn a_live_reshard_continues_the_global_order() {
        let order = config(12).epoch_order(0).unwrap();
        let mut s = Sampler::new(config(12), Shard::new(1, 2).unwrap()).unwrap();
        assert_eq!((s.epoch(), s.position()), (0, 0));
        for step in 0..2u64 {
            let got = s.next_step().unwrap();
            let sample = got.sample.unwrap();
            assert_eq!((got.start, sample.position), (2 * step, 2 * step + 1));
            assert_eq!(sample.index, order.get(2 * step + 1).unwrap());
        }
        assert_eq!((s.epoch(), s.position()), (0, 4));
        s.reshard(Shard::new(2, 3).unwrap());
        assert_eq!(s.shard(), Shard::new(2, 3).unwrap());
        assert_eq!(s.state().world(), 3);
        let got = s.next_step().unwrap();
        assert_eq!(got.start, 4);
        assert_eq!(got.sample.unwrap().index, order.get(6).unwrap());
        assert_eq!(s.position(), 7);
    }

    /// With `drop_remainder`, a step that ends exactly at `len` is a full step and is
    /// taken: 10 samples in a world of 2 are 5 steps an epoch.
    #[test]
    fn the_last_full_step_is_kept_with_drop_remainder() {
        for (len, world, steps) in [(10u64, 2u64, 5u64), (9, 3, 3), (11, 2, 5), (7, 7, 1)] {
            let config = config(len).with_drop_remainder(true).with_epochs(1);
            let mut s = Sampler::new(config, Shard::new(0, world).unwrap()).unwrap();
            let mut n = 0;
            while s.next_step().is_some() {
                n += 1;
            }
            assert_eq!(n, steps, "len {len}, world {world}");
            assert_eq!(s.epoch(), 1);
        }
    }

    /// A finished sampler's state (epoch = epochs, position 0), and a state at the very
    /// end of an epoch (position = len, which resumes at the next epoch's start), are
    /// consistent states.
    #[test]
    fn edge_states_deserialize_and_resume() {
        let mut s = Sampler::new(config(4), Shard::single()).unwrap();
        while s.next_step().is_some() {}
        let finished = s.state();
        let back = SamplerState::from_json(&finished.to_json()).unwrap();
        let mut resumed = Sampler::restore(config(4), Shard::single(), &back).unwrap();
        assert_eq!(resumed.next_step(), None);

        let fresh = Sampler::new(config(4), Shard::single()).unwrap().state();
        let json = fresh.to_json();
        let at_end = json.replace("\"position\":0", "\"position\":4");
        assert_ne!(at_end, json);
        let state = SamplerState::from_json(&at_end).unwrap();
        let mut from_end = Sampler::restore(config(4), Shard::single(), &state).unwrap();
        let step = from_end.next_step().unwrap();
        assert_eq!((step.epoch, step.start), (1, 0));
        let past = json.replace("\"position\":0", "\"position\":5");
        assert!(SamplerState::from_json(&past).is_err());

        // The largest length a sampler takes, 2⁶³, round-trips through its state.
        let largest = SamplerConfig::new(1 << 63, SeedTree::from_u64(38));
        let state = Sampler::new(largest, Shard::single()).unwrap().state();
        assert_eq!(SamplerState::from_json(&state.to_json()).unwrap(), state);
    }
}
