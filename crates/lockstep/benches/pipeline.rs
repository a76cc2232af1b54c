//! The "pipeline" bench suite: the input path training takes, end to end, against a
//! PyTorch `DataLoader` (`bench/peers/pipeline.py`) on the same files.
//!
//! Ours is what `lockstep_nn::source::SamplerSource` does for a step, without the
//! final copy into a libtorch tensor (so the bench needs no libtorch): the sampler's
//! next 32 picks, then in parallel per pick `CocoDataset::get` (read + decode from
//! disk) and `Compose::apply` with the sampler's sample key, then `batch_to_tensor`.
//! One timed call is a whole epoch of the set; `ns_per_item` is per image.
//!
//! The set is the shapes set (`lockstep_data::synthetic`) at 256x256, written once as
//! PNG and as JPEG (quality 90) with one `instances.json` each, under
//! `$LOCKSTEP_PIPELINE_DATA` (the xtask sets it; default `target/bench/pipeline-data`),
//! where the peer script reads the same files.
//!
//! Cases per format: 1 and 2 threads (rayon pools) against the `DataLoader` with
//! `num_workers` 0 and 2; the 2-thread case also carries a `lockstep 1 thread` record,
//! so the report shows the scaling; and, to see what dominates, decode alone and
//! augment + collate alone (images already in memory), on one thread.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use lockstep_augment::{
    batch_to_tensor, Compose, ImageTensor, Interpolation, Normalize, Op, Sample,
};
use lockstep_benchkit::{Record, Suite};
use lockstep_data::synthetic::shapes_image;
use lockstep_data::{
    CocoDataset, CorruptPolicy, Dataset, Sampler, SamplerConfig, ScheduledSample, Shard,
};
use lockstep_seeding::SeedTree;
use rayon::prelude::*;

const IMAGES: u64 = 256;
const SIDE: u32 = 256;
const BATCH: usize = 32;
/// Bump when the files' recipe changes, so an old folder is rewritten.
const RECIPE: &str = "shapes-256x256-n256-jpegq90-v1";

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    panic!("pipeline bench: {what}: {e}")
}

fn data_dir() -> PathBuf {
    std::env::var_os("LOCKSTEP_PIPELINE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/pipeline-data")
        })
}

/// Writes `dir/{png,jpeg}/` with the images and `instances.json`, unless the recipe
/// marker says they are already there.
fn write_sets(dir: &Path) {
    let marker = dir.join("recipe.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|r| r == RECIPE) {
        return;
    }
    let root = SeedTree::from_u64(7).child("shapes").child("train");
    let rendered: Vec<_> = (0..IMAGES)
        .into_par_iter()
        .map(|i| {
            shapes_image(&root.child_index("image", i), SIDE).unwrap_or_else(|e| fail("render", e))
        })
        .collect();
    for (format, ext) in [("png", "png"), ("jpeg", "jpg")] {
        let sub = dir.join(format);
        std::fs::create_dir_all(&sub).unwrap_or_else(|e| fail("mkdir", e));
        let mut images = Vec::new();
        let mut annotations = Vec::new();
        for (i, (image, boxes)) in rendered.iter().enumerate() {
            let name = format!("{i:05}.{ext}");
            let path = sub.join(&name);
            if format == "png" {
                image.save(&path).unwrap_or_else(|e| fail("write png", e));
            } else {
                let file = std::fs::File::create(&path).unwrap_or_else(|e| fail("create", e));
                JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90)
                    .encode_image(image)
                    .unwrap_or_else(|e| fail("write jpeg", e));
            }
            images.push(serde_json::json!({
                "id": i + 1, "file_name": name, "width": SIDE, "height": SIDE
            }));
            for b in boxes {
                let bb = b.bbox;
                annotations.push(serde_json::json!({
                    "id": annotations.len() + 1,
                    "image_id": i + 1,
                    "category_id": b.class.0 + 1,
                    "bbox": [bb.x1, bb.y1, bb.x2 - bb.x1, bb.y2 - bb.y1],
                    "iscrowd": 0,
                    "area": (bb.x2 - bb.x1) * (bb.y2 - bb.y1),
                }));
            }
        }
        let categories: Vec<_> = lockstep_data::synthetic::CLASSES
            .iter()
            .enumerate()
            .map(|(c, name)| serde_json::json!({"id": c + 1, "name": name}))
            .collect();
        let json = serde_json::json!({
            "images": images, "annotations": annotations, "categories": categories
        });
        std::fs::write(sub.join("instances.json"), json.to_string())
            .unwrap_or_else(|e| fail("write json", e));
    }
    std::fs::write(&marker, RECIPE).unwrap_or_else(|e| fail("write marker", e));
}

/// RandomResizedCrop to 224 (torchvision's defaults), flip, ColorJitter(0.4, 0.4, 0.4).
fn training_pipeline() -> Compose {
    Compose::new(vec![
        Op::RandomResizedCrop {
            width: 224,
            height: 224,
            scale: [0.08, 1.0],
            ratio: [3.0 / 4.0, 4.0 / 3.0],
            interpolation: Interpolation::Bilinear,
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
    .unwrap_or_else(|e| fail("pipeline", e))
}

fn to_sample(s: lockstep_data::CocoSample, classes: &lockstep_data::ClassMap) -> Sample {
    let boxes = s
        .objects
        .iter()
        .filter_map(|o| o.labeled(classes))
        .collect();
    Sample::new(s.image, boxes).unwrap_or_else(|e| fail("sample", e))
}

/// One epoch the way `SamplerSource` runs it: batches of 32 from the sampler, each
/// loaded and augmented in parallel on the current rayon pool, then collated.
fn epoch(
    data: &CocoDataset,
    classes: &lockstep_data::ClassMap,
    pipeline: &Compose,
    seed: u32,
) -> usize {
    let config = SamplerConfig::new(
        data.len(),
        SeedTree::from_u64(u64::from(seed)).child("order"),
    );
    let mut sampler =
        Sampler::new(config.clone(), Shard::single()).unwrap_or_else(|e| fail("sampler", e));
    let mut batches = 0;
    loop {
        let picks: Vec<ScheduledSample> = sampler.by_ref().take(BATCH).collect();
        if picks.is_empty() {
            return batches;
        }
        let images: Vec<RgbImage> = picks
            .par_iter()
            .map(|pick| {
                let sample = data.get(pick.index).unwrap_or_else(|e| fail("get", e));
                let key = config.sample_key(pick.epoch, pick.index);
                pipeline
                    .apply(to_sample(sample, classes), &key)
                    .unwrap_or_else(|e| fail("augment", e))
                    .sample
                    .image
            })
            .collect();
        let t: ImageTensor =
            batch_to_tensor(&images, &Normalize::UNIT).unwrap_or_else(|e| fail("collate", e));
        std::hint::black_box(t);
        batches += 1;
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| fail("pool", e))
}

fn main() {
    let suite = Suite::new("pipeline");
    let dir = data_dir();
    write_sets(&dir);
    let pipeline = training_pipeline();
    let (one, two) = (pool(1), pool(2));
    for format in ["png", "jpeg"] {
        let sub = dir.join(format);
        let data = CocoDataset::open(&sub, sub.join("instances.json"), CorruptPolicy::Fail)
            .unwrap_or_else(|e| fail("open", e));
        let classes = data.classes().unwrap_or_else(|e| fail("classes", e));
        let run =
            |p: &rayon::ThreadPool, s: u32| p.install(|| epoch(&data, &classes, &pipeline, s));

        let r1 = suite.measure(&format!("{format} e2e 1 core"), IMAGES, |s| run(&one, s));
        suite.emit(&r1.clone().min_speedup("dataloader", 2.0));
        let r2 = suite.measure(&format!("{format} e2e 2 cores"), IMAGES, |s| run(&two, s));
        suite.emit(
            &r2.min_speedup("dataloader", 2.0)
                .min_speedup("lockstep 1 thread", 1.8),
        );
        // Ours on one thread, as a "peer" of the 2-thread case: the report's ratio is
        // the scaling from 1 to 2 threads.
        let scaling = Record {
            case: format!("{format} e2e 2 cores"),
            implementation: "lockstep 1 thread".into(),
            ..r1
        };
        println!(
            "{}",
            serde_json::to_string(&scaling).unwrap_or_else(|e| fail("json", e))
        );

        // Where the time goes, on one thread.
        let r = suite.measure(&format!("{format} decode only"), IMAGES, |_| {
            (0..data.len())
                .map(|i| data.get(i).unwrap_or_else(|e| fail("get", e)).image.len())
                .sum::<usize>()
        });
        suite.emit(&r);
        let decoded: Vec<Sample> = (0..data.len())
            .map(|i| to_sample(data.get(i).unwrap_or_else(|e| fail("get", e)), &classes))
            .collect();
        let r = suite.measure(&format!("{format} augment+collate only"), IMAGES, |s| {
            let epoch_key =
                SamplerConfig::new(IMAGES, SeedTree::from_u64(u64::from(s)).child("order"));
            let images: Vec<RgbImage> = decoded
                .chunks(BATCH)
                .enumerate()
                .flat_map(|(b, chunk)| {
                    chunk
                        .iter()
                        .enumerate()
                        .map(move |(j, sample)| (b * BATCH + j, sample))
                })
                .map(|(i, sample)| {
                    pipeline
                        .apply(sample.clone(), &epoch_key.sample_key(0, i as u64))
                        .unwrap_or_else(|e| fail("augment", e))
                        .sample
                        .image
                })
                .collect();
            images
                .chunks(BATCH)
                .map(|c| {
                    batch_to_tensor(c, &Normalize::UNIT)
                        .unwrap_or_else(|e| fail("collate", e))
                        .data
                        .len()
                })
                .sum::<usize>()
        });
        suite.emit(&r);
    }
}
