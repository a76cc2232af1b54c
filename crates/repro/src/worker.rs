//! One training run, in its own process: the COCO data through the sampler and the
//! augment pipeline into `TinyDetector`, traced, checkpointed where asked, evaluated.
//!
//! The suite starts workers with `lockstep-repro worker SPEC.json`, so that "two runs"
//! really are two processes, and a killed run really is killed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use lockstep_augment::{
    batch_to_tensor, sample_key, Compose, Interpolation, LabeledBox, Normalize, Op, Sample,
};
use lockstep_data::{
    CocoDataset, CorruptPolicy, Dataset, Sampler, SamplerConfig, SamplerState, Shard,
};
use lockstep_nn::models::detector::build_targets;
use lockstep_nn::tch::{Kind, Tensor};
use lockstep_nn::{
    Batch, BatchSource, DetectorConfig, DeterminismReport, DeviceConfig, LrSchedule, Mode,
    ObjectBox, OptimizerConfig, ProgressMode, TinyDetector, TraceOptions, TrainConfig, Trainer,
};
use lockstep_postprocess::{evaluate, Detection, EvalConfig, GroundTruth};
use lockstep_seeding::SeedTree;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::options::{Device, MAX_STEPS, MAX_THREADS, MIN_STEPS};

/// The square side every image is trained at.
pub const IMAGE_SIZE: u32 = 96;
/// Samples per training batch.
pub const BATCH_SIZE: u64 = 32;
/// Validation images drawn in the report's detections picture.
pub const DRAWN_IMAGES: usize = 8;

/// Where a COCO dataset's two splits are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataPaths {
    /// Training images folder.
    pub train_images: PathBuf,
    /// Training annotations.
    pub train_instances: PathBuf,
    /// Validation images folder.
    pub val_images: PathBuf,
    /// Validation annotations.
    pub val_instances: PathBuf,
}

impl DataPaths {
    /// The layout `DIR/{train,val}/{images,instances.json}`.
    pub fn under(dir: &Path) -> Self {
        Self {
            train_images: dir.join("train").join("images"),
            train_instances: dir.join("train").join("instances.json"),
            val_images: dir.join("val").join("images"),
            val_instances: dir.join("val").join("instances.json"),
        }
    }
}

/// A deliberate source of nondeterminism, for the suite's negative controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Injection {
    /// Swap the first two samples of the batch of `step`: the data order perturbed.
    DataOrder {
        /// The step whose batch is perturbed.
        step: u64,
    },
    /// Build the model after reseeding libtorch's generator from the clock, as code
    /// that "just sets the seed" to the time would.
    ClockInit,
}

/// What one worker does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// The run's name in reports.
    pub name: String,
    /// The run's folder: trace, checkpoints, result, log.
    pub run_dir: PathBuf,
    /// The data.
    pub data: DataPaths,
    /// The root seed.
    pub seed: u64,
    /// Steps of the full run (the schedule's length).
    pub steps: u64,
    /// Stop after this many steps (controls need only a prefix).
    pub stop_after: Option<u64>,
    /// libtorch intra-op threads, and the rayon pool's size for augmenting.
    pub threads: usize,
    /// Where to train.
    pub device: Device,
    /// The determinism switch's mode.
    pub mode: Mode,
    /// Save a checkpoint after this step (then keep training, so a kill lands mid-run).
    pub checkpoint_at: Option<u64>,
    /// Resume from the checkpoint in `run_dir/checkpoints`.
    pub resume: bool,
    /// A deliberate nondeterminism, for controls.
    pub inject: Option<Injection>,
    /// Evaluate on the validation split at the end.
    pub evaluate: bool,
}

/// A detection as drawn: box (in the model's `IMAGE_SIZE`-square input), class, score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrawnDetection {
    /// `[x1, y1, x2, y2]` in pixels of the `IMAGE_SIZE`-square input the model saw.
    pub bbox: [f32; 4],
    /// Class index.
    pub class: u32,
    /// Score.
    pub score: f32,
}

/// What a worker reports, written to `run_dir/result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerResult {
    /// The run's name.
    pub name: String,
    /// The step the run started at (0, or the checkpoint's step when resuming).
    pub start_step: u64,
    /// Steps trained in total, counting those before a resume.
    pub steps_done: u64,
    /// The loss of each step, from step 0 (a resumed run has its checkpoint's losses).
    pub losses: Vec<f32>,
    /// The model's fingerprint at the end.
    pub model_fingerprint: String,
    /// The optimizer state's fingerprint at the end.
    pub optimizer_fingerprint: String,
    /// BLAKE3 of every validation detection's bits, in order.
    pub detections_hash: Option<String>,
    /// Validation mAP@0.5.
    pub map_50: Option<f64>,
    /// Validation mAP@0.5:0.95.
    pub map: Option<f64>,
    /// The detections of the first validation images, for the picture.
    pub drawn: Vec<Vec<DrawnDetection>>,
    /// The determinism switch's read-back.
    pub determinism: DeterminismReport,
    /// Wall seconds of the training steps alone.
    pub train_seconds: f64,
}

/// Where a run's files are.
pub fn trace_path(run_dir: &Path, resumed: bool) -> PathBuf {
    run_dir.join(if resumed {
        "trace-resumed.jsonl"
    } else {
        "trace.jsonl"
    })
}

/// The result file of a run.
pub fn result_path(run_dir: &Path, resumed: bool) -> PathBuf {
    run_dir.join(if resumed {
        "result-resumed.json"
    } else {
        "result.json"
    })
}

/// The checkpoint folder of a run.
pub fn checkpoint_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

/// The progress file: the last finished step, rewritten as training goes.
pub fn progress_path(run_dir: &Path) -> PathBuf {
    run_dir.join("progress")
}

/// One split of a COCO dataset, decoded lazily, sample by sample (a user's dataset
/// need not fit in memory), with category ids mapped to class indices `0..`.
#[derive(Debug)]
pub struct Split {
    coco: CocoDataset,
    /// The training split's category ids, sorted: class `k` is `class_ids[k]`.
    class_ids: Vec<u64>,
}

impl Split {
    /// Opens a split. `class_ids` comes from the training split so that both splits
    /// number classes alike; `None` takes this split's own categories.
    pub fn open(images: &Path, instances: &Path, class_ids: Option<&[u64]>) -> Result<Self> {
        let coco = CocoDataset::open(images, instances, CorruptPolicy::Fail)?;
        let class_ids = match class_ids {
            Some(ids) => ids.to_vec(),
            None => {
                let mut ids: Vec<u64> = coco.categories().iter().map(|c| c.id).collect();
                ids.sort_unstable();
                ids
            }
        };
        Ok(Self { coco, class_ids })
    }

    /// The number of images.
    pub fn len(&self) -> u64 {
        self.coco.len()
    }

    /// Whether the split has no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes image `index` and maps its labels to class indices.
    pub fn sample(&self, index: u64) -> Result<(u64, Sample)> {
        let s = self.coco.get(index)?;
        let boxes = s
            .boxes
            .iter()
            .zip(&s.labels)
            .map(|(b, label)| {
                let class = self.class_ids.binary_search(label).map_err(|_| {
                    Error::Config(format!(
                        "image {} ({}): category {label} is not among the training split's categories {:?}",
                        s.image_id, s.file_name, self.class_ids
                    ))
                })?;
                let class = u32::try_from(class).map_err(|_| {
                    Error::Config(format!("more than {} categories", u32::MAX))
                })?;
                Ok(LabeledBox::new(b[0], b[1], b[2], b[3], class))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((
            s.image_id,
            Sample {
                image: s.image,
                boxes,
            },
        ))
    }
}

/// The training augmentation: resize to the training side, then flips and colour.
fn train_pipeline() -> Result<Compose> {
    Ok(Compose::new(vec![
        Op::Resize {
            width: IMAGE_SIZE,
            height: IMAGE_SIZE,
            interpolation: Interpolation::Bilinear,
        },
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.8,
            high: 1.2,
        },
        Op::Contrast {
            low: 0.8,
            high: 1.2,
        },
        Op::Saturation {
            low: 0.8,
            high: 1.2,
        },
    ])?)
}

/// Validation: resize only (no draws).
fn eval_pipeline() -> Result<Compose> {
    Ok(Compose::new(vec![Op::Resize {
        width: IMAGE_SIZE,
        height: IMAGE_SIZE,
        interpolation: Interpolation::Bilinear,
    }])?)
}

fn images_tensor(samples: &[Sample]) -> Result<Tensor> {
    let images: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let t = batch_to_tensor(&images, &Normalize::UNIT)?;
    Ok(Tensor::from_slice(&t.data)
        .f_view(t.shape_i64().as_slice())
        .map_err(lockstep_nn::Error::from)?)
}

/// The batches of training: the sampler's order, each sample augmented with its own
/// key `…/order/epoch[e]/sample[i]/augment`, on a rayon pool.
struct SamplerSource<'a> {
    data: &'a Split,
    config: SamplerConfig,
    sampler: Sampler,
    compose: Compose,
    detector: DetectorConfig,
    pool: rayon::ThreadPool,
    next_step: u64,
    inject: Option<Injection>,
}

impl BatchSource for SamplerSource<'_> {
    fn batch(&mut self, step: u64) -> lockstep_nn::Result<Batch> {
        let fail = |message: String| lockstep_nn::Error::BatchSource { step, message };
        if step != self.next_step {
            return Err(fail(format!(
                "batches are sequential: expected step {}",
                self.next_step
            )));
        }
        let mut picks: Vec<_> = self.sampler.by_ref().take(BATCH_SIZE as usize).collect();
        if picks.is_empty() {
            return Err(fail("the sampler ran out of samples".into()));
        }
        if self.inject == Some(Injection::DataOrder { step }) && picks.len() > 1 {
            picks.swap(0, 1);
        }
        let keys: Vec<SeedTree> = picks
            .iter()
            .map(|p| sample_key(&self.config.epoch_node(p.epoch), p.index))
            .collect();
        // Decoding and augmenting sample i depend only on (i, its key): in parallel, in
        // the order of the picks, whatever the thread count.
        let (data, compose) = (self.data, &self.compose);
        let out: Vec<Result<Sample>> = self.pool.install(|| {
            picks
                .par_iter()
                .zip(keys.par_iter())
                .map(|(p, key)| {
                    let (_, sample) = data.sample(p.index)?;
                    Ok(compose.apply(sample, key)?.sample)
                })
                .collect()
        });
        let augmented: Vec<Sample> = out
            .into_iter()
            .collect::<Result<_>>()
            .map_err(|e| fail(e.to_string()))?;
        let objects: Vec<Vec<ObjectBox>> = augmented
            .iter()
            .map(|s| {
                s.boxes
                    .iter()
                    .map(|b| ObjectBox {
                        bbox: [b.x1, b.y1, b.x2, b.y2],
                        class: b.label,
                    })
                    .collect()
            })
            .collect();
        let inputs = images_tensor(&augmented).map_err(|e| fail(e.to_string()))?;
        let targets = build_targets(&objects, &self.detector)?;
        self.next_step = step + 1;
        Ok(Batch { inputs, targets })
    }

    fn state(&self) -> serde_json::Value {
        // A sampler state is integers, booleans and strings: it always encodes.
        serde_json::to_value(self.sampler.state()).unwrap_or(serde_json::Value::Null)
    }
}

fn train_config(spec: &WorkerSpec) -> TrainConfig {
    TrainConfig {
        steps: spec.steps,
        batch_size: BATCH_SIZE as i64,
        schedule: LrSchedule::Cosine {
            base: 3e-3,
            min: 3e-5,
            warmup: 30.min(spec.steps / 4),
            total: spec.steps,
        },
        optimizer: OptimizerConfig::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        },
        device: match spec.device {
            Device::Cpu => DeviceConfig::Cpu,
            Device::Cuda => DeviceConfig::Cuda(0),
        },
        threads: spec.threads,
        mode: spec.mode,
        cpu_capability: None,
        nan_guard: true,
    }
}

impl WorkerSpec {
    /// Checks what the suite's options check: a spec is read from a file, so it is not
    /// trusted (0 threads would let rayon choose a machine-dependent count).
    pub fn validate(&self) -> Result<()> {
        if !(MIN_STEPS..=MAX_STEPS).contains(&self.steps) {
            return Err(Error::Config(format!(
                "worker `{}`: steps must be in {MIN_STEPS}..={MAX_STEPS}, got {}",
                self.name, self.steps
            )));
        }
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return Err(Error::Config(format!(
                "worker `{}`: threads must be in 1..={MAX_THREADS}, got {}",
                self.name, self.threads
            )));
        }
        Ok(())
    }
}

/// Runs one worker and writes its result file.
pub fn run(spec: &WorkerSpec) -> Result<WorkerResult> {
    spec.validate()?;
    std::fs::create_dir_all(&spec.run_dir).map_err(|e| Error::io(&spec.run_dir, e))?;
    let train = Split::open(&spec.data.train_images, &spec.data.train_instances, None)?;
    if train.is_empty() {
        return Err(Error::Config("the training split has no images".into()));
    }
    if train.class_ids.is_empty() {
        return Err(Error::Config("the training split has no categories".into()));
    }
    let classes = i64::try_from(train.class_ids.len())
        .map_err(|_| Error::Config("the training split has too many categories".into()))?;
    let root = SeedTree::from_u64(spec.seed).child("train");
    let detector = DetectorConfig {
        image_size: i64::from(IMAGE_SIZE),
        classes,
        ..DetectorConfig::default()
    };
    let n = train.len();
    let samples_needed = spec.steps.checked_mul(BATCH_SIZE).ok_or_else(|| {
        Error::Config(format!(
            "{} steps of {BATCH_SIZE} samples overflow",
            spec.steps
        ))
    })?;
    let epochs = samples_needed.div_ceil(n) + 1;
    let sampler_config = SamplerConfig::new(n, root.child("order")).with_epochs(epochs);
    let build = |vs: &lockstep_nn::tch::nn::Path<'_>| {
        if spec.inject == Some(Injection::ClockInit) {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(1);
            lockstep_nn::tch::manual_seed(nanos);
        }
        TinyDetector::new(vs, &detector)
    };
    let config = train_config(spec);
    let model_node = root.child("model");
    let (mut trainer, sampler) = if spec.resume {
        let (trainer, state) =
            Trainer::resume(config, model_node, build, &checkpoint_dir(&spec.run_dir))?;
        let state = SamplerState::from_json(&state.to_string())?;
        (
            trainer,
            Sampler::restore(sampler_config.clone(), Shard::single(), &state)?,
        )
    } else {
        (
            Trainer::new(config, model_node, build)?,
            Sampler::new(sampler_config.clone(), Shard::single())?,
        )
    };
    let start_step = trainer.step();
    trainer.set_progress(ProgressMode::Off);
    trainer.enable_trace(
        &trace_path(&spec.run_dir, spec.resume),
        TraceOptions::default(),
    )?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads)
        .build()
        .map_err(|e| Error::Config(format!("a pool of {} threads: {e}", spec.threads)))?;
    let mut source = SamplerSource {
        data: &train,
        config: sampler_config,
        sampler,
        compose: train_pipeline()?,
        detector: detector.clone(),
        pool,
        next_step: start_step,
        inject: spec.inject,
    };
    let until = spec.stop_after.unwrap_or(spec.steps).min(spec.steps);
    let progress = progress_path(&spec.run_dir);
    let started = Instant::now();
    while trainer.step() < until {
        trainer.train_step(&mut source)?;
        let step = trainer.step();
        if spec.checkpoint_at == Some(step) {
            trainer.save_checkpoint(&checkpoint_dir(&spec.run_dir), source.state())?;
        }
        // Best effort: progress is for the console only.
        let _ = std::fs::write(&progress, step.to_string());
    }
    let train_seconds = started.elapsed().as_secs_f64();
    trainer.finish_trace()?;

    let mut result = WorkerResult {
        name: spec.name.clone(),
        start_step,
        steps_done: trainer.step(),
        losses: trainer.losses().to_vec(),
        model_fingerprint: trainer.model_fingerprint()?.to_string(),
        optimizer_fingerprint: trainer.optimizer_fingerprint()?.to_string(),
        detections_hash: None,
        map_50: None,
        map: None,
        drawn: Vec::new(),
        determinism: trainer.determinism_report().clone(),
        train_seconds,
    };
    if spec.evaluate {
        evaluate_run(spec, &train.class_ids, &trainer, &mut result)?;
    }
    let path = result_path(&spec.run_dir, spec.resume);
    let text = serde_json::to_string_pretty(&result).map_err(|e| Error::Config(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(result)
}

/// Detections on the validation split, their hash, and mAP.
fn evaluate_run(
    spec: &WorkerSpec,
    class_ids: &[u64],
    trainer: &Trainer<TinyDetector>,
    result: &mut WorkerResult,
) -> Result<()> {
    let val = Split::open(
        &spec.data.val_images,
        &spec.data.val_instances,
        Some(class_ids),
    )?;
    let compose = eval_pipeline()?;
    let none = SeedTree::from_u64(0);
    let mut detections = Vec::new();
    let mut truth = Vec::new();
    let mut hasher = blake3::Hasher::new();
    const CHUNK: u64 = 64;
    for start in (0..val.len()).step_by(CHUNK as usize) {
        let mut ids = Vec::new();
        let mut resized = Vec::new();
        for index in start..(start + CHUNK).min(val.len()) {
            let (image_id, sample) = val.sample(index)?;
            ids.push(image_id);
            resized.push(compose.apply(sample, &none)?.sample);
        }
        let inputs = images_tensor(&resized)?;
        let pred = trainer
            .predict(&inputs)?
            .f_to_kind(Kind::Float)
            .map_err(lockstep_nn::Error::from)?;
        let decoded = trainer.model().decode(&pred, 0.05)?;
        for (k, ((sample, dets), image_id)) in resized.iter().zip(decoded).zip(ids).enumerate() {
            // `start` < the split's length and `k` < CHUNK: no overflow.
            let image_index = start.saturating_add(k as u64);
            for b in &sample.boxes {
                truth.push(GroundTruth {
                    image_id,
                    class: b.label,
                    bbox: [b.x1, b.y1, b.x2, b.y2],
                });
            }
            let mut drawn = Vec::new();
            for d in dets {
                for v in d.bbox.iter().chain(std::iter::once(&d.score)) {
                    hasher.update(&v.to_bits().to_le_bytes());
                }
                hasher.update(&d.class.to_le_bytes());
                if image_index < DRAWN_IMAGES as u64 {
                    drawn.push(DrawnDetection {
                        bbox: d.bbox,
                        class: d.class,
                        score: d.score,
                    });
                }
                detections.push(Detection { image_id, ..d });
            }
            if image_index < DRAWN_IMAGES as u64 {
                result.drawn.push(drawn);
            }
        }
    }
    let report = evaluate(&detections, &truth, &EvalConfig::default())?;
    result.detections_hash = Some(hasher.finalize().to_hex().to_string());
    result.map_50 = Some(report.map_50);
    result.map = Some(report.map);
    Ok(())
}
