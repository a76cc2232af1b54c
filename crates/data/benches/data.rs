//! Data-order benchmarks; the NumPy side is `bench/peers/data.py`.

use std::hint::black_box;

use lockstep_benchkit::Suite;
use lockstep_data::{
    permutation_u32, BufferedShuffle, IndexPermutation, Interleave, Sampler, SamplerConfig, Shard,
};
use lockstep_seeding::SeedTree;

fn main() {
    let suite = Suite::new("data");
    let root = SeedTree::from_u64(42).child("bench");

    const N: u64 = 10_000_000;
    let r = suite
        .measure("permutation 1e7", N, |sample| {
            let p = permutation_u32(&root.index(u64::from(sample)), N).unwrap_or_default();
            p.last().copied()
        })
        .min_speedup("numpy", 1.5);
    suite.emit(&r);

    let r = suite
        .measure("index permutation 1e7", N, |sample| {
            let Ok(p) = IndexPermutation::new(&root.index(u64::from(sample)), N) else {
                return 0;
            };
            p.iter().fold(0u64, |acc, v| acc ^ v)
        })
        .max_ns_per_item(20.0);
    suite.emit(&r);

    const STREAM: u64 = 5_000_000;
    let r = suite
        .measure("buffered shuffle u64 buffer 10000", STREAM, |sample| {
            let Ok(s) = BufferedShuffle::new(0..STREAM, &root.index(u64::from(sample)), 10_000)
            else {
                return 0;
            };
            s.fold(0u64, |acc, v| acc.wrapping_mul(31).wrapping_add(v))
        })
        .max_ns_per_item(20.0);
    suite.emit(&r);

    let r = suite
        .measure("interleave u64 cycle 16 block 4", STREAM, |_| {
            let inputs = (0..STREAM / 1000).map(|k| k * 1000..(k + 1) * 1000);
            let Ok(s) = Interleave::new(inputs, 16, 4) else {
                return 0;
            };
            s.fold(0u64, |acc, v| acc.wrapping_mul(31).wrapping_add(v))
        })
        .max_ns_per_item(20.0);
    suite.emit(&r);

    const SAMPLES: u64 = 1_000_000;
    let r = suite
        .measure("sampler 1e7 shuffled", SAMPLES, |sample| {
            let config = SamplerConfig::new(N, root.index(u64::from(sample)));
            let Ok(sampler) = Sampler::new(config, Shard::single()) else {
                return 0;
            };
            sampler
                .take(SAMPLES as usize)
                .fold(0u64, |acc, s| acc ^ black_box(s.index))
        })
        .max_ns_per_item(50.0);
    suite.emit(&r);
}
