//! The Rust side of the `python` bench suite (`cargo xtask bench python`): the calls
//! that `bench/peers/python.py` makes through the binding, made directly on the Rust
//! crates with the same inputs. Records are labelled `rust` (the peer of the binding,
//! which is `lockstep` in that suite), so the report shows binding time over Rust time,
//! and the script reads these records (`LOCKSTEP_BENCH_OURS`) to set its targets.

use std::hint::black_box;

use image::{Rgb, RgbImage};
use lockstep_augment::{Compose, Op, Sample};
use lockstep_benchkit::{Record, Suite};
use lockstep_data::{Sampler, SamplerConfig, Shard};
use lockstep_postprocess::{nms, BBox};
use lockstep_seeding::{EpochKey, SeedTree};

/// Prints `record` relabelled as the `rust` peer.
fn emit(suite: &Suite, mut record: Record) {
    record.implementation = "rust".to_string();
    suite.emit(&record);
}

/// bench/peers/augment.py's `test_image` (and crates/augment/benches/augment.rs's).
fn test_image(size: u32, salt: u32) -> RgbImage {
    RgbImage::from_fn(size, size, |x, y| {
        Rgb([
            (x ^ y.wrapping_mul(3)).wrapping_add(salt) as u8,
            (x.wrapping_mul(7) + y + salt * 5) as u8,
            ((x * y) >> 4) as u8,
        ])
    })
}

fn compose(ops: Vec<Op>) -> Compose {
    Compose::new(ops).unwrap_or_else(|e| panic!("bench pipeline: {e}"))
}

/// The NMS workload of `lockstep_benchkit::nms_workload`, as core boxes.
fn workload(n: u64) -> (Vec<BBox>, Vec<f32>) {
    let (boxes, scores) = lockstep_benchkit::nms_workload(n);
    (boxes.into_iter().map(BBox::from).collect(), scores)
}

fn main() {
    let suite = Suite::new("python");

    // SeedTree.child: one labelled child per call (the binding also allocates the
    // Python object holding it).
    const CHILDREN: u64 = 100_000;
    let root = SeedTree::from_u64(42).child("train");
    emit(
        &suite,
        suite.measure("SeedTree.child", CHILDREN, |_| {
            let mut acc = 0u8;
            for _ in 0..CHILDREN {
                acc ^= black_box(&root).child("augment").key()[0];
            }
            acc
        }),
    );

    // Sampler iteration: one (epoch, position, index) per call, 1e6 shuffled samples.
    const LEN: u64 = 1_000_000;
    let seed = SeedTree::from_u64(7).child("data");
    emit(
        &suite,
        suite.measure("Sampler iteration", LEN, |_| {
            let Ok(sampler) = Sampler::new(SamplerConfig::new(LEN, seed.clone()), Shard::single())
            else {
                return 0;
            };
            sampler.fold(0u64, |acc, s| acc ^ black_box(s.index))
        }),
    );

    // Single-image augment: hflip, brightness, contrast on a 224x224 image. The sample
    // is cloned per call, as the binding copies the NumPy image in.
    let three = compose(vec![
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.6,
            high: 1.4,
        },
        Op::Contrast {
            low: 0.6,
            high: 1.4,
        },
    ]);
    let epoch = EpochKey::new(&SeedTree::from_u64(1).child("bench"), 0);
    let small = Sample::image_only(test_image(224, 0)).unwrap_or_else(|e| panic!("{e}"));
    emit(
        &suite,
        suite.measure("augment 3-op 224x224", 1, |i| {
            three.apply(small.clone(), &epoch.sample(u64::from(i)))
        }),
    );

    // The augment suite's training pipeline (crop 224 of 256, flip, brightness,
    // contrast, saturation), per image: the Rust time the DataLoader rows compare with.
    let five = compose(vec![
        Op::RandomCrop {
            width: 224,
            height: 224,
        },
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.6,
            high: 1.4,
        },
        Op::Contrast {
            low: 0.6,
            high: 1.4,
        },
        Op::Saturation {
            low: 0.6,
            high: 1.4,
        },
    ]);
    let large = Sample::image_only(test_image(256, 0)).unwrap_or_else(|e| panic!("{e}"));
    emit(
        &suite,
        suite.measure("augment pipeline 256->224", 1, |i| {
            five.apply(large.clone(), &epoch.sample(u64::from(i)))
        }),
    );

    for (label, n) in [("1k", 1_000u64), ("10k", 10_000), ("50k", 50_000)] {
        let (boxes, scores) = workload(n);
        let kept = nms(&boxes, &scores, 0.5).map(|k| k.len()).unwrap_or(0);
        eprintln!("rust nms clustered {label}: {n} boxes, {kept} kept");
        emit(
            &suite,
            suite.measure(&format!("nms clustered {label}"), n, |_| {
                nms(&boxes, &scores, 0.5)
            }),
        );
    }
}
