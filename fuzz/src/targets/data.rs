//! Sampler, buffered-shuffle and interleave states.

use lockstep_data::interleave::MAX_CYCLE_LENGTH;
use lockstep_data::{
    interleave_parallel, BufferedShuffle, BufferedShuffleState, InMemoryDataset, Interleave,
    Sampler, SamplerConfig, SamplerState, Shard,
};
use lockstep_seeding::SeedTree;
use serde_json::Value;

use crate::bytes::Bytes;

/// Steps or items taken after a successful restore: enough to cross an epoch or a
/// buffer refill in the corpus, few enough to keep an execution short.
const TAKE: usize = 300;
/// The longest upstream a resumed shuffle replays, so an execution stays bounded.
const MAX_UPSTREAM: u64 = 4096;

/// The configuration a state claims to belong to, read from its own fields: the
/// resume path is then reached with a matching configuration and bogus counters.
fn sampler_config(state: &Value) -> Option<SamplerConfig> {
    let seed: SeedTree = serde_json::from_value(state.get("seed")?.clone()).ok()?;
    Some(
        SamplerConfig::new(state.get("len")?.as_u64()?, seed)
            .with_shuffle(state.get("shuffle")?.as_bool()?)
            .with_drop_remainder(state.get("drop_remainder")?.as_bool()?)
            .with_epochs(state.get("epochs")?.as_u64()?),
    )
}

/// `{"state": SamplerState, "shard": Shard}` (or a bare state): the state through
/// `SamplerState::from_json`, the shard through serde, then `Sampler::restore`,
/// `restore_resharded` and `reshard`, each followed by up to [`TAKE`] steps.
pub fn sampler_state(data: &[u8]) {
    let _ = SamplerState::from_json(&crate::bytes::text(data));
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let state_doc = doc.get("state").unwrap_or(&doc);
    let Ok(state) = SamplerState::from_json(&state_doc.to_string()) else {
        return;
    };
    let again = SamplerState::from_json(&state.to_json());
    assert_eq!(again.ok().as_ref(), Some(&state), "state JSON round trip");
    let shard = match doc.get("shard") {
        Some(s) => match serde_json::from_value::<Shard>(s.clone()) {
            Ok(shard) => shard,
            Err(_) => return,
        },
        None => Shard::single(),
    };
    let Some(config) = sampler_config(state_doc) else {
        return;
    };
    if let Ok(sampler) = Sampler::restore(config.clone(), shard, &state) {
        drain(sampler);
    }
    if let Ok(mut sampler) = Sampler::restore_resharded(config.clone(), shard, &state) {
        let _ = sampler.next_step();
        sampler.reshard(Shard::single());
        drain(sampler);
    }
    if let Ok(sampler) = Sampler::new(config, shard) {
        drain(sampler);
    }
}

fn drain(mut sampler: Sampler) {
    for _ in 0..TAKE {
        let Some(step) = sampler.next_step() else {
            break;
        };
        if let Some(sample) = step.sample {
            assert!(sample.index < sampler.config().len, "index out of range");
        }
    }
    let state = sampler.state();
    assert_eq!(
        SamplerState::from_json(&state.to_json()).ok().as_ref(),
        Some(&state),
        "state JSON round trip"
    );
}

/// `{"state": BufferedShuffleState, "len": N}`: the state through
/// `BufferedShuffleState::from_json`, then `BufferedShuffle::resume` over `0..N` and
/// `resume_from_dataset` over the same items (N capped at [`MAX_UPSTREAM`]), with the
/// seed and buffer size the state names. Both must give the same items.
pub fn buffered_shuffle_state(data: &[u8]) {
    let _ = BufferedShuffleState::from_json(&crate::bytes::text(data));
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let state_doc = doc.get("state").unwrap_or(&doc);
    let Ok(state) = BufferedShuffleState::from_json(&state_doc.to_string()) else {
        return;
    };
    let again = BufferedShuffleState::from_json(&state.to_json());
    assert_eq!(again.ok().as_ref(), Some(&state), "state JSON round trip");
    let len = doc
        .get("len")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_UPSTREAM);
    let Some(node) = state_doc
        .get("seed")
        .and_then(|s| serde_json::from_value::<SeedTree>(s.clone()).ok())
    else {
        return;
    };
    let Some(buffer_size) = state_doc.get("buffer_size").and_then(Value::as_u64) else {
        return;
    };
    let streamed = BufferedShuffle::resume(0..len, &node, buffer_size, &state);
    let dataset = InMemoryDataset::new((0..len).collect::<Vec<u64>>());
    let indexed = BufferedShuffle::resume_from_dataset(dataset, &node, buffer_size, &state);
    match (streamed, indexed) {
        (Ok(a), Ok(b)) => {
            let a: Vec<Option<u64>> = a.take(TAKE).map(Some).collect();
            let b: Vec<Option<u64>> = b.take(TAKE).map(Result::ok).collect();
            assert_eq!(a, b, "resume and resume_from_dataset disagree");
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "resume is {}, resume_from_dataset is {}",
            if a.is_ok() { "Ok" } else { "Err" },
            if b.is_ok() { "Ok" } else { "Err" }
        ),
    }
}

/// A cycle or block length: small, or one of the limits. Valid lengths near
/// [`MAX_CYCLE_LENGTH`] are left out: they are correct but take a pass over a million
/// slots per item.
fn length(b: &mut Bytes<'_>) -> u64 {
    match b.u8() % 8 {
        0 => 0,
        1 => MAX_CYCLE_LENGTH + 1,
        2 => u64::MAX,
        _ => u64::from(b.u8() % 64),
    }
}

/// Byte-decoded inputs (up to 8, each up to 31 items), cycle and block lengths:
/// `Interleave` and `interleave_parallel` must give the same order, and every item
/// exactly once. (Interleave keeps no checkpoint of its own; its position is restored
/// by replaying its inputs, which this covers.)
pub fn interleave_state(data: &[u8]) {
    let mut b = Bytes::new(data);
    let cycle = length(&mut b);
    let block = length(&mut b);
    let inputs: Vec<Vec<(usize, usize)>> = (0..b.count(8))
        .map(|i| (0..b.count(31)).map(|j| (i, j)).collect())
        .collect();
    let total: usize = inputs.iter().map(Vec::len).sum();
    let sequential = Interleave::new(inputs.clone(), cycle, block);
    let parallel = interleave_parallel(inputs, |v| v, cycle, block);
    match (sequential, parallel) {
        (Ok(s), Ok(p)) => {
            let s: Vec<(usize, usize)> = s.collect();
            let p: Vec<(usize, usize)> = p.collect();
            assert_eq!(s, p, "interleave_parallel differs from Interleave");
            let mut sorted = s.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), total, "an item was lost or repeated");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("Interleave and interleave_parallel disagree on validity"),
    }
}
