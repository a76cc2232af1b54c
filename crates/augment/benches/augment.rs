//! The "augment" bench suite: ours against torchvision v2 and Pillow
//! (`bench/peers/augment.py`), single-threaded, on 256x256 RGB uint8 images.

use image::{Rgb, RgbImage};
use lockstep_augment::{adjust_brightness, adjust_contrast, hflip, Compose, Op, Sample};
use lockstep_benchkit::Suite;
use lockstep_seeding::{EpochKey, SampleKey, SeedTree};

fn test_image(salt: u32) -> RgbImage {
    RgbImage::from_fn(256, 256, |x, y| {
        Rgb([
            (x ^ y.wrapping_mul(3)).wrapping_add(salt) as u8,
            (x.wrapping_mul(7) + y + salt * 5) as u8,
            ((x * y) >> 4) as u8,
        ])
    })
}

fn training_pipeline() -> Compose {
    // The same as the peers: random crop 224, flip, brightness, contrast, saturation
    // (ColorJitter-style factors in [0.6, 1.4]).
    Compose::new(vec![
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
    ])
    .unwrap_or_else(|e| panic!("bench pipeline: {e}"))
}

fn main() {
    let suite = Suite::new("augment");
    let img = test_image(0);
    let sample = Sample::image_only(img.clone()).unwrap_or_else(|e| panic!("{e}"));
    let pipeline = training_pipeline();
    let epoch = EpochKey::new(&SeedTree::from_u64(1).child("bench"), 0);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    let r = suite.measure("pipeline 256->224", 1, |i| {
        pipeline.apply(sample.clone(), &epoch.sample(u64::from(i)))
    });
    suite.emit(&r.min_speedup("torchvision", 2.0).min_speedup("pillow", 2.0));

    let r = suite.measure("hflip", 1, |_| hflip(&img));
    suite.emit(&r.min_speedup("torchvision", 3.0).min_speedup("pillow", 3.0));

    let r = suite.measure("brightness", 1, |i| {
        adjust_brightness(&img, 1.1 + f64::from(i % 7) * 0.01)
    });
    suite.emit(&r.min_speedup("torchvision", 2.0).min_speedup("pillow", 2.0));

    let r = suite.measure("contrast", 1, |i| {
        adjust_contrast(&img, 1.1 + f64::from(i % 7) * 0.01)
    });
    suite.emit(&r.min_speedup("torchvision", 2.0).min_speedup("pillow", 2.0));

    let batch: Vec<Sample> = (0..64)
        .map(|i| Sample::image_only(test_image(i)).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let batch: Vec<(Sample, SampleKey)> = batch
        .into_iter()
        .zip(0..)
        .map(|(s, i)| (s, epoch.sample(i)))
        .collect();
    let r = suite.measure("batch64 pipeline 1 thread", 64, |_| {
        one_thread.install(|| pipeline.apply_batch(batch.clone()))
    });
    suite.emit(&r);
    let two_threads = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let r = suite.measure("batch64 pipeline 2 threads", 64, |_| {
        two_threads.install(|| pipeline.apply_batch(batch.clone()))
    });
    suite.emit(&r);
}
