//! Seeding benchmarks; the NumPy side is `bench/peers/seeding.py`.

use std::hint::black_box;
use std::num::NonZeroU64;

use lockstep_benchkit::Suite;
use lockstep_seeding::SeedTree;

fn main() {
    let suite = Suite::new("seeding");
    let root = SeedTree::from_u64(42)
        .child("train")
        .child_index("epoch", 3);

    const CHILDREN: u64 = 100_000;
    let r = suite
        .measure("child derivation", CHILDREN, |_| {
            let mut acc = 0u8;
            for i in 0..CHILDREN {
                acc ^= root.index(i).key()[0];
            }
            acc
        })
        .max_ns_per_item(100.0);
    suite.emit(&r);

    let r = suite
        .measure("labelled child derivation", CHILDREN, |_| {
            let mut acc = 0u8;
            for _ in 0..CHILDREN {
                acc ^= black_box(&root).child("augment").key()[0];
            }
            acc
        })
        .max_ns_per_item(100.0);
    suite.emit(&r);

    // 1 GB/s is 8 ns per u64.
    const DRAWS: usize = 1 << 22;
    let mut buf = vec![0u64; DRAWS];
    let r = suite
        .measure("u64 bulk", DRAWS as u64, |sample| {
            root.index(u64::from(sample)).rng().fill_u64(&mut buf);
            buf[DRAWS - 1]
        })
        .max_ns_per_item(8.0);
    suite.emit(&r);

    let bound = NonZeroU64::new(1000).unwrap_or(NonZeroU64::MIN);
    let r = suite.measure("integers below 1000", DRAWS as u64, |sample| {
        let mut rng = root.index(u64::from(sample)).rng();
        for slot in buf.iter_mut() {
            *slot = rng.below(bound);
        }
        buf[DRAWS - 1]
    });
    suite.emit(&r);
}
