//! The trained workloads: TinyDetector and SmallCnn on the synthetic shapes set, and a
//! larger detector for the cost measurement. Data is made once and kept on the device,
//! so a step measures the model, not host-to-device copies.

use std::num::NonZeroU64;

use lockstep_data::synthetic::shapes_image;
use lockstep_nn::images::images_to_tensor;
use lockstep_nn::models::detector::build_targets;
use lockstep_nn::tch::{Device, Kind, Tensor};
use lockstep_nn::{
    Batch, ClassifierConfig, DetectorConfig, DeterminismMode as Mode, DeterminismReport,
    DeviceConfig, Fingerprint, LabeledBox, LrSchedule, OptimizerConfig, ProgressMode, SmallCnn,
    TinyDetector, TraceOptions, TrainConfig, Trainer,
};
use lockstep_postprocess::{evaluate, Detection, EvalConfig, GroundTruth};
use lockstep_seeding::SeedTree;

use crate::Failure;

/// The root seed of every workload: equal across processes and devices.
const SEED: u64 = 2024;

/// Which model and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// TinyDetector at its defaults (96×96, width 8), batch 32.
    Tiny,
    /// SmallCnn on 32×32 crops of the shapes (the first object's class), batch 64.
    Cnn,
    /// TinyDetector at 256×256, width 32, batch 128: kernels dominate.
    Large,
}

impl Which {
    /// From `tiny`, `cnn` or `large`.
    pub fn parse(s: &str) -> Result<Self, Failure> {
        match s {
            "tiny" => Ok(Self::Tiny),
            "cnn" => Ok(Self::Cnn),
            "large" => Ok(Self::Large),
            other => Err(Failure(format!(
                "--model is tiny, cnn or large, not `{other}`"
            ))),
        }
    }

    /// The name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tiny => "TinyDetector 96x96 w8",
            Self::Cnn => "SmallCnn 32x32",
            Self::Large => "TinyDetector 256x256 w32",
        }
    }
}

/// Ground truth of the validation set.
#[derive(Debug)]
enum Truth {
    Boxes(Vec<Vec<LabeledBox>>),
    Labels(Vec<i64>),
}

/// A workload's data, on its device.
#[derive(Debug)]
pub struct Workload {
    kind: Which,
    det: DetectorConfig,
    cls: ClassifierConfig,
    batch: i64,
    images: Tensor,
    targets: Tensor,
    val_images: Tensor,
    truth: Truth,
    device: Device,
}

/// A trainer of either model.
#[derive(Debug)]
pub enum AnyTrainer {
    /// A detector.
    Det(Trainer<TinyDetector>),
    /// A classifier.
    Cls(Trainer<SmallCnn>),
}

/// Validation outputs: a fingerprint of what the model predicts, and its quality.
#[derive(Debug, Clone)]
pub struct Validation {
    /// BLAKE3 over the detections (or the logits' fingerprint).
    pub fingerprint: String,
    /// Detections (or samples) it covers.
    pub count: u64,
    /// mAP@0.5 (detector) or accuracy (classifier).
    pub quality: f64,
    /// `mAP@0.5` or `accuracy`.
    pub quality_name: &'static str,
}

impl Workload {
    /// Makes `train_n` training and `val_n` validation samples on `device`.
    pub fn new(
        kind: Which,
        train_n: u64,
        val_n: u64,
        device: DeviceConfig,
    ) -> Result<Self, Failure> {
        let device = device.device()?;
        let root = SeedTree::from_u64(SEED);
        let det = match kind {
            Which::Large => DetectorConfig::default()
                .with_image_size(256)
                .with_width(32),
            _ => DetectorConfig::default(),
        };
        let cls = ClassifierConfig::default()
            .with_channels(3)
            .with_size(32)
            .with_classes(3)
            .with_dropout(0.25);
        let (size, batch) = match kind {
            Which::Tiny => (det.image_size, 32),
            Which::Large => (det.image_size, 128),
            Which::Cnn => (cls.size, 64),
        };
        let (images, objects) = shapes_batch(&root.child("train"), 0, train_n, size)?;
        let (val_images, val_objects) = shapes_batch(&root.child("val"), 0, val_n, size)?;
        let (targets, truth) = match kind {
            Which::Cnn => {
                let labels = first_classes(&objects);
                (
                    Tensor::f_from_slice(&labels)?,
                    Truth::Labels(first_classes(&val_objects)),
                )
            }
            _ => (build_targets(&objects, &det)?, Truth::Boxes(val_objects)),
        };
        Ok(Self {
            kind,
            det,
            cls,
            batch,
            images: images.f_to_device(device)?,
            targets: targets.f_to_device(device)?,
            val_images: val_images.f_to_device(device)?,
            truth,
            device,
        })
    }

    /// The same data with another batch size (small dry runs of the large workload).
    pub fn with_batch(mut self, batch: i64) -> Result<Self, Failure> {
        if batch < 1 {
            return Err(Failure(format!("--batch must be at least 1, got {batch}")));
        }
        self.batch = batch;
        Ok(self)
    }

    /// Samples per batch.
    pub fn batch(&self) -> i64 {
        self.batch
    }

    /// The training configuration for `steps` steps.
    pub fn config(
        &self,
        steps: u64,
        mode: Mode,
        device: DeviceConfig,
        threads: u32,
    ) -> TrainConfig {
        TrainConfig::default()
            .with_steps(steps)
            .with_batch_size(self.batch as u64)
            .with_schedule(LrSchedule::Cosine {
                base: 3e-3,
                min: 3e-5,
                warmup: (steps / 10).min(50),
                total: steps.max(1),
            })
            .with_optimizer(OptimizerConfig::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-4,
            })
            .with_device(device)
            .with_threads(threads)
            .with_mode(mode)
            .with_nan_guard(true)
    }

    /// A trainer (the determinism switch is applied by `Trainer::new`).
    pub fn trainer(&self, config: TrainConfig) -> Result<AnyTrainer, Failure> {
        let run = SeedTree::from_u64(SEED).child("run");
        let mut t = match self.kind {
            Which::Cnn => {
                let cls = self.cls.clone();
                AnyTrainer::Cls(Trainer::new(config, run, move |vs| {
                    SmallCnn::new(vs, &cls)
                })?)
            }
            _ => {
                let det = self.det.clone();
                AnyTrainer::Det(Trainer::new(config, run, move |vs| {
                    TinyDetector::new(vs, &det)
                })?)
            }
        };
        match &mut t {
            AnyTrainer::Det(t) => t.set_progress(ProgressMode::Off),
            AnyTrainer::Cls(t) => t.set_progress(ProgressMode::Off),
        }
        Ok(t)
    }

    /// The batch of step `k`: a fresh permutation of the training set each epoch, drawn
    /// from the seed tree, indexing the data on the device.
    pub fn source(&self) -> impl FnMut(u64) -> lockstep_nn::Result<Batch> + '_ {
        let n = self.images.size()[0];
        let per_epoch = (n / self.batch).max(1) as u64;
        let order = SeedTree::from_u64(SEED).child("order");
        let mut epoch = u64::MAX;
        let mut perm: Vec<i64> = Vec::new();
        move |k| {
            if k / per_epoch != epoch {
                epoch = k / per_epoch;
                perm = (0..n).collect();
                let mut rng = order.child_index("epoch", epoch).rng();
                for i in (1..perm.len()).rev() {
                    let bound = NonZeroU64::new(i as u64 + 1).unwrap_or(NonZeroU64::MIN);
                    let j = rng.below(bound) as usize;
                    perm.swap(i, j);
                }
            }
            let start = ((k % per_epoch) as i64 * self.batch) as usize;
            let end = (start + self.batch as usize).min(perm.len());
            let idx = Tensor::f_from_slice(&perm[start..end])?.f_to_device(self.device)?;
            Ok(Batch {
                inputs: self.images.f_index_select(0, &idx)?,
                targets: self.targets.f_index_select(0, &idx)?,
            })
        }
    }

    /// Predicts the validation set and scores it.
    pub fn validate(&self, t: &AnyTrainer) -> Result<Validation, Failure> {
        match (t, &self.truth) {
            (AnyTrainer::Det(t), Truth::Boxes(objects)) => {
                let pred = t.predict(&self.val_images)?;
                let dets = t.model().decode(&pred.f_to_kind(Kind::Float)?, 0.05)?;
                let all: Vec<Detection> = dets.into_iter().flatten().collect();
                let mut h = blake3::Hasher::new();
                for d in &all {
                    h.update(&d.image_id.to_le_bytes());
                    h.update(&d.class.0.to_le_bytes());
                    h.update(&d.score.to_bits().to_le_bytes());
                    for c in d.bbox.to_array() {
                        h.update(&c.to_bits().to_le_bytes());
                    }
                }
                let gts: Vec<GroundTruth> = objects
                    .iter()
                    .enumerate()
                    .flat_map(|(i, objs)| {
                        objs.iter().map(move |o| GroundTruth {
                            image_id: i as u64,
                            class: o.class,
                            bbox: o.bbox,
                            crowd: false,
                        })
                    })
                    .collect();
                let report = evaluate(&all, &gts, &EvalConfig::default())?;
                Ok(Validation {
                    fingerprint: h.finalize().to_hex().to_string(),
                    count: all.len() as u64,
                    quality: report.map_50,
                    quality_name: "mAP@0.5",
                })
            }
            (AnyTrainer::Cls(t), Truth::Labels(labels)) => {
                let logits = t.predict(&self.val_images)?;
                let fp = lockstep_nn::tensor_fingerprint(&logits)?;
                let pred = logits.f_argmax(1, false)?.f_to_device(Device::Cpu)?;
                let pred: Vec<i64> = Vec::<i64>::try_from(&pred)?;
                let right = pred.iter().zip(labels).filter(|(a, b)| a == b).count();
                Ok(Validation {
                    fingerprint: fp.to_string(),
                    count: labels.len() as u64,
                    quality: right as f64 / labels.len().max(1) as f64,
                    quality_name: "accuracy",
                })
            }
            _ => Err(Failure("validation truth does not fit the model".into())),
        }
    }
}

impl AnyTrainer {
    /// One step.
    pub fn step(&mut self, source: &mut dyn lockstep_nn::BatchSource) -> Result<f32, Failure> {
        Ok(match self {
            Self::Det(t) => t.train_step(source)?,
            Self::Cls(t) => t.train_step(source)?,
        })
    }
    /// The fingerprint of all variables.
    pub fn model_fingerprint(&self) -> Result<Fingerprint, Failure> {
        Ok(match self {
            Self::Det(t) => t.model_fingerprint()?,
            Self::Cls(t) => t.model_fingerprint()?,
        })
    }
    /// The fingerprint of the optimizer state.
    pub fn optimizer_fingerprint(&self) -> Result<Fingerprint, Failure> {
        Ok(match self {
            Self::Det(t) => t.optimizer_fingerprint()?,
            Self::Cls(t) => t.optimizer_fingerprint()?,
        })
    }
    /// Starts trace mode.
    pub fn enable_trace(&mut self, path: &std::path::Path) -> Result<(), Failure> {
        let o = TraceOptions::default();
        match self {
            Self::Det(t) => t.enable_trace(path, o)?,
            Self::Cls(t) => t.enable_trace(path, o)?,
        }
        Ok(())
    }
    /// Ends trace mode.
    pub fn finish_trace(&mut self) -> Result<(), Failure> {
        match self {
            Self::Det(t) => t.finish_trace()?,
            Self::Cls(t) => t.finish_trace()?,
        }
        Ok(())
    }
    /// The switch's read-back at construction.
    pub fn report(&self) -> &DeterminismReport {
        match self {
            Self::Det(t) => t.determinism_report(),
            Self::Cls(t) => t.determinism_report(),
        }
    }
}

/// The class of each image's first object (0 for an image without objects).
fn first_classes(objects: &[Vec<LabeledBox>]) -> Vec<i64> {
    objects
        .iter()
        .map(|o| o.first().map_or(0, |b| i64::from(b.class.0)))
        .collect()
}

/// Images `start .. start + n` of the built-in shapes set (`lockstep_data::synthetic`,
/// nodes `seed/image[i]`) as a `[n, 3, size, size]` tensor, and their boxes.
fn shapes_batch(
    seed: &SeedTree,
    start: u64,
    n: u64,
    size: u32,
) -> Result<(Tensor, Vec<Vec<LabeledBox>>), Failure> {
    let mut images = Vec::new();
    let mut boxes = Vec::new();
    for i in start..start + n {
        let (image, b) = shapes_image(&seed.child_index("image", i), size)
            .map_err(|e| Failure(e.to_string()))?;
        images.push(image);
        boxes.push(b);
    }
    Ok((images_to_tensor(&images)?, boxes))
}
