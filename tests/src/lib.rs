//! Shared pieces of the cross-crate properties: a small composed input pipeline
//! (sampler → dataset → augment → batch) whose batches the tests compare byte for byte.
#![deny(missing_docs)]

use image::RgbImage;
use lockstep_augment::{
    batch_to_tensor, BBox, ClassId, Compose, LabeledBox, Normalize, Op, Sample,
};
use lockstep_data::{Dataset, InMemoryDataset, Sampler, SamplerConfig, SamplerState, Shard};
use lockstep_seeding::SeedTree;

/// A synthetic dataset of `len` small images with one box each, drawn from `root`.
pub fn dataset(root: &SeedTree, len: u64, side: u32) -> InMemoryDataset<Sample> {
    let items = (0..len)
        .map(|i| {
            let node = root.child_index("image", i);
            let image = RgbImage::from_fn(side, side, |x, y| {
                let v = node.u64_at(u64::from(y * side + x));
                image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
            });
            let q = side as f32 / 4.0;
            let bbox = BBox::new(q, q, 3.0 * q, 3.0 * q);
            let boxes = vec![LabeledBox::new(bbox, ClassId((i % 3) as u32))];
            Sample { image, boxes }
        })
        .collect();
    InMemoryDataset::new(items)
}

/// The augmentation pipeline of the properties: crop, flip, colour.
pub fn pipeline(crop: u32) -> Compose {
    let ops = vec![
        Op::RandomCrop {
            width: crop,
            height: crop,
        },
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.7,
            high: 1.3,
        },
        Op::Contrast {
            low: 0.7,
            high: 1.3,
        },
        Op::Saturation {
            low: 0.7,
            high: 1.3,
        },
    ];
    match Compose::new(ops) {
        Ok(compose) => compose,
        Err(e) => panic!("the fixed test pipeline is valid: {e}"),
    }
}

/// One batch as bytes: the f32 tensor's bits, then each box's bits and label.
pub type BatchBytes = Vec<u8>;

/// Runs the pipeline for `steps` batches of `batch` samples, on a rayon pool of
/// `threads`, starting from `state` (a fresh sampler when `None`). Returns the batches'
/// bytes and the sampler state after the last batch.
pub fn run(
    data: &InMemoryDataset<Sample>,
    config: &SamplerConfig,
    compose: &Compose,
    batch: usize,
    steps: usize,
    threads: usize,
    state: Option<&SamplerState>,
) -> (Vec<BatchBytes>, SamplerState) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("a pool of {threads} threads: {e}"));
    let mut sampler = match state {
        Some(s) => Sampler::restore(config.clone(), Shard::single(), s),
        None => Sampler::new(config.clone(), Shard::single()),
    }
    .unwrap_or_else(|e| panic!("sampler: {e}"));
    let mut out = Vec::new();
    for _ in 0..steps {
        let picks: Vec<_> = sampler.by_ref().take(batch).collect();
        if picks.is_empty() {
            break;
        }
        // Each sample with its own key, `…/epoch[e]/sample[i]`.
        let pairs: Vec<(Sample, _)> = picks
            .iter()
            .map(|p| {
                let sample = data
                    .get(p.index)
                    .unwrap_or_else(|e| panic!("sample {}: {e}", p.index));
                (sample, config.sample_key(p.epoch, p.index))
            })
            .collect();
        let augmented = pool
            .install(|| compose.apply_batch(pairs))
            .unwrap_or_else(|e| panic!("augment: {e}"));
        let images: Vec<RgbImage> = augmented.iter().map(|a| a.sample.image.clone()).collect();
        let tensor = batch_to_tensor(&images, &Normalize::IMAGENET)
            .unwrap_or_else(|e| panic!("tensor: {e}"));
        let mut bytes: BatchBytes = tensor
            .data
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect();
        for a in &augmented {
            for b in &a.sample.boxes {
                for v in b.bbox.to_array() {
                    bytes.extend_from_slice(&v.to_bits().to_le_bytes());
                }
                bytes.extend_from_slice(&b.class.0.to_le_bytes());
            }
        }
        out.push(bytes);
    }
    (out, sampler.state())
}

/// BLAKE3 of a run's batches, for messages.
pub fn digest(batches: &[BatchBytes]) -> String {
    let mut h = blake3::Hasher::new();
    for b in batches {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    }
    h.finalize().to_hex().to_string()
}
