//! Stage checks: each crate's promise, checked on this machine and reported as a row
//! with the hashes it compared.

use image::RgbImage;
use lockstep_augment::{replay, Augmented, Compose, Op, Sample};
use lockstep_core::{BBox, ClassId, LabeledBox};
use lockstep_data::{Sampler, SamplerConfig, SamplerState, Shard};
use lockstep_postprocess::Nms;
use lockstep_seeding::{EpochKey, RngCore, SampleKey, SeedTree};
use rayon::prelude::*;

use crate::checks::short_hash;
use crate::error::{Error, Result};
use crate::report::{CheckRow, Stage};

fn hash_u64s(values: &[u64]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    short_hash(&bytes)
}

pub(crate) fn pool(threads: u32) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .build()
        .map_err(|source| Error::ThreadPool { threads, source })
}

/// Runs every stage check under `root` (the node `…/stages`).
///
/// ```no_run
/// use lockstep_seeding::SeedTree;
/// let rows = lockstep_repro::stages::run_all(&SeedTree::from_u64(0).child("stages"));
/// assert!(rows.iter().all(|row| row.pass));
/// ```
pub fn run_all(root: &SeedTree) -> Vec<CheckRow> {
    let mut rows = vec![seeding_vectors()];
    rows.push(data_order_threads(&root.child("order")));
    rows.push(sampler_resume(&root.child("resume")));
    rows.push(shard_union(&root.child("shards")));
    rows.push(augment_threads_and_replay(&root.child("augment")));
    rows.push(nms_permutation(&root.child("nms")));
    rows
}

/// The seed tree's pinned vectors (format v1), recomputed here.
///
/// ```no_run
/// let row = lockstep_repro::stages::seeding_vectors();
/// assert!(row.pass, "{}", row.detail);
/// ```
pub fn seeding_vectors() -> CheckRow {
    let root = SeedTree::from_u64(42);
    let node = root.child("train").child_index("epoch", 3).child("augment");
    let mut rng = root.rng();
    let first = [rng.next_u64(), rng.next_u64()];
    let got = format!(
        "{} {} {} {}",
        root.key_hex(),
        node.key_hex(),
        first[0],
        first[1]
    );
    let pinned = "69f33fd4bfeaf752b08b6cc4752640eb39d64656a6646524fe9510baa0861b12 \
                  04e0434fb0c2e8b696bbcec36b2fc4349a079bfbcd6f7bb95cdb59f7f00af8f5 \
                  15667583195629992052 10223995234185890700";
    CheckRow::equal(
        Stage::Seeding,
        "pinned key and stream vectors",
        vec![short_hash(got.as_bytes()), short_hash(pinned.as_bytes())],
        "root key, root/train/epoch[3]/augment key, first two u64 of root",
    )
}

/// One epoch's order read sequentially and on pools of 1, 2 and 8 threads.
///
/// ```no_run
/// use lockstep_seeding::SeedTree;
/// let row = lockstep_repro::stages::data_order_threads(&SeedTree::from_u64(1));
/// assert!(row.pass, "{}", row.detail);
/// ```
pub fn data_order_threads(root: &SeedTree) -> CheckRow {
    const N: u64 = 10_007;
    let check = "epoch order, 1/2/8 threads";
    let config = SamplerConfig::new(N, root.clone()).with_epochs(2);
    let run = || -> Result<Vec<String>> {
        let sequential: Vec<u64> = Sampler::new(config.clone(), Shard::single())?
            .map(|s| s.index)
            .collect();
        let mut hashes = vec![hash_u64s(&sequential)];
        for threads in [1, 2, 8] {
            let parallel: Result<Vec<u64>> = pool(threads)?.install(|| {
                (0..2u64)
                    .flat_map(|e| (0..N).map(move |p| (e, p)))
                    .collect::<Vec<_>>()
                    .into_par_iter()
                    .map(|(e, p)| Ok(config.epoch_order(e)?.get(p)?))
                    .collect()
            });
            hashes.push(hash_u64s(&parallel?));
        }
        Ok(hashes)
    };
    CheckRow::from_hashes(
        Stage::Data,
        check,
        format!("n = {N}, 2 epochs: sequential, then 1, 2, 8 threads"),
        run(),
    )
}

/// Resume from the state after `k` samples, through JSON, for several `k`.
///
/// ```no_run
/// use lockstep_seeding::SeedTree;
/// let row = lockstep_repro::stages::sampler_resume(&SeedTree::from_u64(1));
/// assert!(row.pass, "{}", row.detail);
/// ```
pub fn sampler_resume(root: &SeedTree) -> CheckRow {
    const N: u64 = 1_000;
    let check = "resume at steps 0, 1, 333, 999, 1500";
    let config = SamplerConfig::new(N, root.clone()).with_epochs(2);
    let run = || -> Result<Vec<String>> {
        let straight: Vec<u64> = Sampler::new(config.clone(), Shard::single())?
            .map(|s| s.index)
            .collect();
        let mut hashes = vec![hash_u64s(&straight)];
        for k in [0usize, 1, 333, 999, 1500] {
            let mut head = Sampler::new(config.clone(), Shard::single())?;
            let mut order: Vec<u64> = head.by_ref().take(k).map(|s| s.index).collect();
            let state = SamplerState::from_json(&head.state().to_json())?;
            let tail = Sampler::restore(config.clone(), Shard::single(), &state)?;
            order.extend(tail.map(|s| s.index));
            hashes.push(hash_u64s(&order));
        }
        Ok(hashes)
    };
    CheckRow::from_hashes(
        Stage::Data,
        check,
        format!("n = {N}, 2 epochs, state via JSON"),
        run(),
    )
}

/// The union of all ranks' samples, by position, for several world sizes, and a
/// change of world size mid-epoch.
///
/// ```no_run
/// use lockstep_seeding::SeedTree;
/// let row = lockstep_repro::stages::shard_union(&SeedTree::from_u64(1));
/// assert!(row.pass, "{}", row.detail);
/// ```
pub fn shard_union(root: &SeedTree) -> CheckRow {
    const N: u64 = 997;
    let check = "shard union, world 1/2/3/8 and 2→3";
    let config = SamplerConfig::new(N, root.clone());
    let run = || -> Result<Vec<String>> {
        let global: Vec<u64> = Sampler::new(config.clone(), Shard::single())?
            .map(|s| s.index)
            .collect();
        let mut hashes = vec![hash_u64s(&global)];
        for world in [1u64, 2, 3, 8] {
            let mut by_position = Vec::new();
            for rank in 0..world {
                let sampler = Sampler::new(config.clone(), Shard::new(rank, world)?)?;
                by_position.extend(sampler.map(|s| (s.position, s.index)));
            }
            by_position.sort_unstable();
            let order: Vec<u64> = by_position.iter().map(|&(_, i)| i).collect();
            hashes.push(hash_u64s(&order));
        }
        // World 2 for 100 steps, then world 3 from the shared state (every rank's
        // state is the same after the same number of steps: the last one's is kept).
        let mut by_position = Vec::new();
        let mut ranks = Vec::new();
        for rank in 0..2 {
            let mut s = Sampler::new(config.clone(), Shard::new(rank, 2)?)?;
            by_position.extend(s.by_ref().take(100).map(|x| (x.position, x.index)));
            ranks.push(s);
        }
        let state = ranks[1].state();
        for rank in 0..3 {
            let s = Sampler::restore_resharded(config.clone(), Shard::new(rank, 3)?, &state)?;
            by_position.extend(s.map(|x| (x.position, x.index)));
        }
        by_position.sort_unstable();
        let order: Vec<u64> = by_position.iter().map(|&(_, i)| i).collect();
        hashes.push(hash_u64s(&order));
        Ok(hashes)
    };
    CheckRow::from_hashes(
        Stage::Data,
        check,
        format!("n = {N}: global, then the union for each world"),
        run(),
    )
}

fn augment_batch(root: &SeedTree) -> Vec<Sample> {
    (0..16u64)
        .map(|i| {
            let node = root.child_index("image", i);
            let image = RgbImage::from_fn(48, 40, |x, y| {
                let v = node.u64_at(u64::from(y * 48 + x));
                image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
            });
            Sample {
                image,
                boxes: vec![LabeledBox::new(
                    BBox::new(8.0, 6.0, 30.0, 28.0),
                    ClassId((i % 3) as u32),
                )],
            }
        })
        .collect()
}

fn augmented_bytes(out: &[Augmented]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for a in out {
        bytes.extend_from_slice(a.sample.image.as_raw());
        for b in &a.sample.boxes {
            for v in b.bbox.to_array() {
                bytes.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }
    }
    bytes
}

/// A batch augmented on 1 and 2 threads, and replayed from its recorded parameters.
///
/// ```no_run
/// use lockstep_seeding::SeedTree;
/// let row = lockstep_repro::stages::augment_threads_and_replay(&SeedTree::from_u64(1));
/// assert!(row.pass, "{}", row.detail);
/// ```
pub fn augment_threads_and_replay(root: &SeedTree) -> CheckRow {
    let check = "batch on 1/2 threads, replay";
    let run = || -> Result<Vec<String>> {
        let compose = Compose::new(vec![
            Op::RandomCrop {
                width: 32,
                height: 32,
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
            Op::Hue {
                low: -0.1,
                high: 0.1,
            },
        ])?;
        let samples = augment_batch(&root.child("images"));
        let epoch = EpochKey::new(root, 0);
        let keys: Vec<SampleKey> = (0..samples.len() as u64).map(|i| epoch.sample(i)).collect();
        let on = |threads| -> Result<Vec<Augmented>> {
            Ok(pool(threads)?.install(|| {
                compose.apply_batch(samples.iter().cloned().zip(keys.iter().cloned()).collect())
            })?)
        };
        let (one, two) = (on(1)?, on(2)?);
        let replayed = samples
            .iter()
            .zip(&one)
            .map(|(s, a)| Ok(replay(s.clone(), &a.params, compose.policy())?))
            .collect::<Result<Vec<_>>>()?;
        Ok([one, two, replayed]
            .iter()
            .map(|out| short_hash(&augmented_bytes(out)))
            .collect())
    };
    CheckRow::from_hashes(
        Stage::Augment,
        check,
        "16 images: 1 thread, 2 threads, replay of the recorded parameters",
        run(),
    )
}

/// NMS on clustered boxes with deliberate score ties, and on shuffled copies: the kept
/// boxes, in order, must be the same.
///
/// ```no_run
/// use lockstep_seeding::SeedTree;
/// let row = lockstep_repro::stages::nms_permutation(&SeedTree::from_u64(1));
/// assert!(row.pass, "{}", row.detail);
/// ```
pub fn nms_permutation(root: &SeedTree) -> CheckRow {
    let check = "NMS under input permutation";
    let run = || -> Result<Vec<String>> {
        let mut rng = root.child("boxes").rng();
        let mut boxes: Vec<BBox> = Vec::new();
        let mut scores: Vec<f32> = Vec::new();
        for _ in 0..40 {
            let cx = rng.uniform_f32(0.0, 200.0)?;
            let cy = rng.uniform_f32(0.0, 200.0)?;
            for _ in 0..12 {
                let jx = rng.uniform_f32(-4.0, 4.0)?;
                let jy = rng.uniform_f32(-4.0, 4.0)?;
                boxes.push(BBox::new(cx + jx, cy + jy, cx + jx + 20.0, cy + jy + 16.0));
                // Scores on a coarse grid, so ties are common.
                scores.push((rng.try_below(20)? as f32) / 20.0);
            }
        }
        let nms = Nms::new(0.5);
        let kept_boxes = |b: &[BBox], s: &[f32]| -> Result<Vec<u8>> {
            let kept = nms.run(b, s)?;
            Ok(kept
                .iter()
                .flat_map(|&k| {
                    b[k].to_array()
                        .into_iter()
                        .chain(std::iter::once(s[k]))
                        .flat_map(|v| v.to_bits().to_le_bytes())
                        .collect::<Vec<u8>>()
                })
                .collect())
        };
        let mut hashes = vec![short_hash(&kept_boxes(&boxes, &scores)?)];
        for p in 0..3u64 {
            let order = lockstep_data::permutation(
                &root.child_index("permutation", p),
                boxes.len() as u64,
            )?;
            let b: Vec<BBox> = order.iter().map(|&i| boxes[i as usize]).collect();
            let s: Vec<f32> = order.iter().map(|&i| scores[i as usize]).collect();
            hashes.push(short_hash(&kept_boxes(&b, &s)?));
        }
        Ok(hashes)
    };
    CheckRow::from_hashes(
        Stage::Postprocess,
        check,
        "480 clustered boxes, tied scores: original and 3 permutations",
        run(),
    )
}
