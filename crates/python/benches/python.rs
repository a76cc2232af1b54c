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

/// The workload recipe of crates/postprocess/benches/postprocess.rs (documented there;
/// bench/peers/postprocess.py rebuilds it for the binding and torchvision).
struct Recipe(u64);

impl Recipe {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn workload(n: u64) -> (Vec<BBox>, Vec<f32>) {
    let mut r = Recipe(0x9E37_79B9_7F4A_7C15 ^ n);
    let m = (n / 25).max(1);
    let objects: Vec<[f64; 4]> = (0..m)
        .map(|_| {
            let cx = r.unit() * 1280.0;
            let cy = r.unit() * 1280.0;
            let w = 16.0 + r.unit() * 112.0;
            let h = 16.0 + r.unit() * 112.0;
            [cx, cy, w, h]
        })
        .collect();
    let (mut boxes, mut scores) = (Vec::new(), Vec::new());
    for i in 0..n {
        let [cx, cy, w, h] = objects[(i % m) as usize];
        let dx = (r.unit() - 0.5) * 0.3 * w;
        let dy = (r.unit() - 0.5) * 0.3 * h;
        let sw = w * (0.85 + r.unit() * 0.3);
        let sh = h * (0.85 + r.unit() * 0.3);
        let x1 = cx + dx - sw / 2.0;
        let y1 = cy + dy - sh / 2.0;
        boxes.push(BBox::new(
            x1 as f32,
            y1 as f32,
            (x1 + sw) as f32,
            (y1 + sh) as f32,
        ));
        scores.push(((r.next() >> 40) as f64 / (1u64 << 24) as f64) as f32);
    }
    (boxes, scores)
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
