//! One training run, in its own process: the COCO data through the sampler and the
//! augment pipeline into `TinyDetector`, traced, checkpointed where asked, evaluated.
//!
//! The suite starts workers with `lockstep-repro worker SPEC.json`, so that "two runs"
//! really are two processes, and a killed run really is killed.

use std::path::{Path, PathBuf};

use lockstep::prelude::*;
use lockstep::{augment, data, nn};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, SplitProblem};
use crate::layout::{Attempt, DataPaths, RunFiles};
use crate::options::{check_steps, check_threads};

/// The square side every image is trained at unless `--input-size` says otherwise
/// (every image is resized to it, aspect ratio not kept).
pub const IMAGE_SIZE: u32 = 96;
/// Samples per training batch.
pub const BATCH_SIZE: u64 = 32;
/// Validation images drawn in the report's detections picture.
pub const DRAWN_IMAGES: usize = 8;
/// Detections scoring below this are not kept for evaluation.
const SCORE_THRESHOLD: f32 = 0.05;
/// Validation images per forward pass.
const EVAL_CHUNK: u64 = 64;

/// A deliberate source of nondeterminism, for the suite's negative controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
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
    /// libtorch intra-op threads.
    pub threads: u32,
    /// Where to train.
    pub device: nn::DeviceConfig,
    /// The determinism switch's mode.
    pub mode: nn::DeterminismMode,
    /// Save a checkpoint after this step (then keep training, so a kill lands mid-run).
    pub checkpoint_at: Option<u64>,
    /// Resume from the checkpoint in `run_dir/checkpoints`.
    pub resume: bool,
    /// A deliberate nondeterminism, for controls.
    pub inject: Option<Injection>,
    /// Evaluate on the validation split at the end.
    pub evaluate: bool,
    /// The images the start-up dataset check left out (none for a clean dataset).
    #[serde(default)]
    pub data_policy: crate::dataset_check::DataPolicy,
    /// The square side images are resized to for the model.
    #[serde(default = "default_input_size")]
    pub input_size: u32,
    /// Ranks (`mpiexec -n world`; 1 trains in this process alone). Must divide
    /// `micro_batches`.
    #[serde(default = "one_u32")]
    pub world: u32,
    /// Micro-batches per step (`TrainConfig::micro_batches`).
    #[serde(default = "one_u64")]
    pub micro_batches: u64,
    /// How gradients are combined across ranks.
    #[serde(default)]
    pub reduction: nn::GradientReduction,
}

fn default_input_size() -> u32 {
    IMAGE_SIZE
}

fn one_u32() -> u32 {
    1
}

fn one_u64() -> u64 {
    1
}

/// What a worker reports, written to its [`RunFiles::result`].
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
    /// The detections of the first validation images, for the picture, in pixels of
    /// the `IMAGE_SIZE`-square input the model saw.
    pub drawn: Vec<Vec<Detection>>,
    /// The determinism switch's read-back.
    pub determinism: nn::DeterminismReport,
    /// Wall seconds of the training steps alone.
    pub train_seconds: f64,
    /// Wall seconds of those steps spent in the input pipeline (load, decode, augment,
    /// collate), on this rank.
    #[serde(default)]
    pub input_seconds: f64,
    /// Images the input pipeline delivered in those seconds, on this rank.
    #[serde(default)]
    pub input_images: u64,
    /// Validation AP per class (crowd regions handled as COCO does).
    #[serde(default)]
    pub per_class: Vec<lockstep_postprocess::ClassAp>,
}

/// One split of a COCO dataset, decoded lazily, sample by sample (a user's dataset
/// need not fit in memory), with category ids numbered as dense class ids by the
/// training split's [`data::ClassMap`].
#[derive(Debug)]
pub struct Split {
    coco: data::CocoDataset,
    classes: data::ClassMap,
    /// The annotation file, to name in errors.
    instances: PathBuf,
    /// The dataset's positions in sample order: all of them, less the images the
    /// start-up check left out.
    keep: Vec<u64>,
}

impl Split {
    /// Opens a split. `classes` comes from the training split so that both splits
    /// number classes alike; `None` numbers this split's own categories.
    ///
    /// ```no_run
    /// use lockstep_repro::layout::DataPaths;
    /// use lockstep_repro::worker::Split;
    /// let data = DataPaths::under("my-coco".as_ref());
    /// let train = Split::open(&data.train_images, &data.train_instances, None)?;
    /// let val = Split::open(&data.val_images, &data.val_instances, Some(train.classes()))?;
    /// let (image_id, sample) = val.sample(0)?;
    /// println!("image {image_id}: {} boxes", sample.boxes.len());
    /// # Ok::<(), lockstep_repro::Error>(())
    /// ```
    pub fn open(images: &Path, instances: &Path, classes: Option<&data::ClassMap>) -> Result<Self> {
        let policy = crate::dataset_check::DataPolicy::default();
        Self::open_with(images, instances, classes, &policy.skip_train)
    }

    /// [`Split::open`] leaving out the images of `policy` for `split`, as the start-up
    /// dataset check decided (`--on-bad-sample skip`).
    ///
    /// ```no_run
    /// use lockstep_repro::dataset_check::{DataPolicy, SplitName};
    /// use lockstep_repro::layout::DataPaths;
    /// use lockstep_repro::worker::Split;
    /// let data = DataPaths::under("my-coco".as_ref());
    /// let policy = DataPolicy::default();
    /// let train = Split::checked(&data, SplitName::Train, None, &policy)?;
    /// # Ok::<(), lockstep_repro::Error>(())
    /// ```
    pub fn checked(
        data: &DataPaths,
        split: crate::dataset_check::SplitName,
        classes: Option<&data::ClassMap>,
        policy: &crate::dataset_check::DataPolicy,
    ) -> Result<Self> {
        let (images, instances) = match split {
            crate::dataset_check::SplitName::Train => (&data.train_images, &data.train_instances),
            _ => (&data.val_images, &data.val_instances),
        };
        let coco = data::CocoDataset::open(images, instances, policy.corrupt_policy())?;
        Self::from_coco(coco, instances, classes, policy.skipped(split))
    }

    fn open_with(
        images: &Path,
        instances: &Path,
        classes: Option<&data::ClassMap>,
        skip: &std::collections::BTreeSet<u64>,
    ) -> Result<Self> {
        let coco = data::CocoDataset::open(images, instances, data::CorruptPolicy::Fail)?;
        Self::from_coco(coco, instances, classes, skip)
    }

    fn from_coco(
        coco: data::CocoDataset,
        instances: &Path,
        classes: Option<&data::ClassMap>,
        skip: &std::collections::BTreeSet<u64>,
    ) -> Result<Self> {
        let classes = match classes {
            Some(classes) => classes.clone(),
            None => coco.classes()?,
        };
        let keep = (0..coco.images().len() as u64)
            .zip(coco.images())
            .filter(|(_, image)| !skip.contains(&image.id))
            .map(|(k, _)| k)
            .collect();
        Ok(Self {
            coco,
            classes,
            instances: instances.to_path_buf(),
            keep,
        })
    }

    /// The dataset position of sample `index`.
    fn position(&self, index: u64) -> Result<u64> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.keep.get(i))
            .copied()
            .ok_or_else(|| {
                data::Error::IndexOutOfRange {
                    index,
                    len: self.keep.len() as u64,
                }
                .into()
            })
    }

    /// The crowd flags (`iscrowd`) of sample `index`'s boxes, in the order of
    /// [`Split::sample`]'s boxes; decodes nothing.
    ///
    /// ```no_run
    /// # fn demo(split: &lockstep_repro::worker::Split) -> lockstep_repro::Result<()> {
    /// let crowds = split.crowd(0)?.iter().filter(|&&c| c).count();
    /// # Ok(())
    /// # }
    /// ```
    pub fn crowd(&self, index: u64) -> Result<Vec<bool>> {
        let entry = self.coco.entry(self.position(index)?)?;
        Ok(entry.objects.iter().map(|o| o.crowd).collect())
    }

    /// The class numbering.
    ///
    /// ```no_run
    /// # fn demo(split: &lockstep_repro::worker::Split) {
    /// let classes = split.classes();
    /// println!("{} classes", classes.len());
    /// # }
    /// ```
    pub fn classes(&self) -> &data::ClassMap {
        &self.classes
    }

    /// The number of classes, checked for training: a split with no images, or with
    /// more categories than a `u32` counts, is refused.
    ///
    /// ```no_run
    /// # fn demo(split: &lockstep_repro::worker::Split) -> lockstep_repro::Result<()> {
    /// let classes: u32 = split.trainable_classes()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn trainable_classes(&self) -> Result<u32> {
        let reason = if self.keep.is_empty() {
            SplitProblem::NoImages
        } else if let Ok(classes) = u32::try_from(self.classes.len()) {
            return Ok(classes);
        } else {
            SplitProblem::TooManyCategories
        };
        Err(Error::Split {
            path: self.instances.clone(),
            reason,
        })
    }

    /// Decodes image `index` and numbers its boxes' classes; returns the image's COCO
    /// id with the sample.
    ///
    /// ```no_run
    /// # fn demo(split: &lockstep_repro::worker::Split) -> lockstep_repro::Result<()> {
    /// let (image_id, sample) = split.sample(0)?;
    /// println!("image {image_id}: {} boxes", sample.boxes.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn sample(&self, index: u64) -> Result<(u64, Sample)> {
        let s = self.coco.get(self.position(index)?)?;
        let size = lockstep_core::ImageSize::new(s.image.width(), s.image.height());
        let boxes = s
            .objects
            .iter()
            .map(|o| {
                // Boxes within the check's tolerance (or clipped by --clip-boxes) are
                // clipped to the image; a box inside it is kept bit for bit.
                o.labeled(&self.classes)
                    .map(|l| LabeledBox::new(crate::dataset_check::clip_box(l.bbox, size), l.class))
                    .ok_or_else(|| Error::UnknownCategory {
                        image_id: s.image_id,
                        file_name: s.file_name.clone(),
                        category: o.category_id,
                        known: self.classes.categories().iter().map(|c| c.id).collect(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((s.image_id, Sample::new(s.image, boxes)?))
    }
}

impl Dataset for Split {
    type Item = Sample;

    fn len(&self) -> u64 {
        self.keep.len() as u64
    }

    fn get(&self, index: u64) -> data::Result<Sample> {
        self.sample(index)
            .map(|(_, sample)| sample)
            .map_err(data::Error::wrap)
    }
}

/// The training augmentation: resize to the training side, then flips and colour.
fn train_pipeline(side: u32) -> Result<Compose> {
    Ok(Compose::new(vec![
        Op::Resize {
            width: side,
            height: side,
            interpolation: augment::Interpolation::Bilinear,
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
fn eval_pipeline(side: u32) -> Result<Compose> {
    Ok(Compose::new(vec![Op::Resize {
        width: side,
        height: side,
        interpolation: augment::Interpolation::Bilinear,
    }])?)
}

/// Images as the `[N, 3, H, W]` input tensor, bytes / 255 in `f32` (the conversion the
/// trainer's batches use).
fn images_tensor(samples: &[Sample]) -> Result<tch::Tensor> {
    let images: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let t = augment::batch_to_tensor(&images, &augment::Normalize::UNIT)?;
    Ok(tch::Tensor::f_from_slice(&t.data)
        .and_then(|t_| t_.f_view(t.shape_i64().as_slice()))
        .map_err(nn::Error::from)?)
}

/// The data-order control: the batch of `step` with its first two samples swapped (as
/// if the sampler had handed them out the other way round); every other batch as the
/// inner source gives it.
struct SwapFirstTwo<S> {
    inner: S,
    step: u64,
}

impl<S: BatchSource> BatchSource for SwapFirstTwo<S> {
    fn batch(&mut self, step: u64) -> nn::Result<nn::Batch> {
        let batch = self.inner.batch(step)?;
        // `len` is tch's own i64 size, so it converts back.
        let n = i64::try_from(batch.len()).unwrap_or(i64::MAX);
        if step != self.step || n < 2 {
            return Ok(batch);
        }
        let order: Vec<i64> = [1, 0].into_iter().chain(2..n).collect();
        let order = tch::Tensor::f_from_slice(&order)?;
        Ok(nn::Batch {
            inputs: batch.inputs.f_index_select(0, &order)?,
            targets: batch.targets.f_index_select(0, &order)?,
        })
    }

    fn state(&self) -> nn::Result<nn::SourceState> {
        self.inner.state()
    }

    fn restore(&mut self, state: &nn::SourceState) -> nn::Result<()> {
        self.inner.restore(state)
    }
}

/// What the input pipeline (load, decode, augment, collate) took during training.
#[derive(Debug, Default)]
struct InputTiming {
    seconds: std::cell::Cell<f64>,
    images: std::cell::Cell<u64>,
}

/// A source that adds the time spent in `inner` and the images it delivered to `timing`.
struct Timed<'t, S> {
    inner: S,
    timing: &'t InputTiming,
}

impl<S> Timed<'_, S> {
    fn record<T>(&self, started: std::time::Instant, images: u64, out: T) -> T {
        let t = self.timing;
        t.seconds
            .set(t.seconds.get() + started.elapsed().as_secs_f64());
        t.images.set(t.images.get() + images);
        out
    }
}

impl<S: BatchSource> BatchSource for Timed<'_, S> {
    fn batch(&mut self, step: u64) -> nn::Result<nn::Batch> {
        let started = std::time::Instant::now();
        let batch = self.inner.batch(step)?;
        Ok(self.record(started, batch.len(), batch))
    }

    fn micro_batches(
        &mut self,
        step: u64,
        partition: &nn::batch::MicroPartition,
    ) -> nn::Result<Vec<nn::Batch>> {
        let started = std::time::Instant::now();
        let batches = self.inner.micro_batches(step, partition)?;
        let images = batches.iter().map(nn::Batch::len).sum();
        Ok(self.record(started, images, batches))
    }

    fn state(&self) -> nn::Result<nn::SourceState> {
        self.inner.state()
    }

    fn restore(&mut self, state: &nn::SourceState) -> nn::Result<()> {
        self.inner.restore(state)
    }
}

fn train_config(spec: &WorkerSpec) -> TrainConfig {
    TrainConfig::default()
        .with_steps(spec.steps)
        .with_batch_size(BATCH_SIZE)
        .with_schedule(nn::LrSchedule::Cosine {
            base: 3e-3,
            min: 3e-5,
            warmup: 30.min(spec.steps / 4),
            total: spec.steps,
        })
        .with_optimizer(nn::OptimizerConfig::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        })
        .with_device(spec.device)
        .with_threads(spec.threads)
        .with_mode(spec.mode)
        .with_nan_guard(true)
        .with_micro_batches(spec.micro_batches)
        .with_reduction(spec.reduction)
}

impl WorkerSpec {
    /// Checks what the suite's options check: a spec is read from a file, so it is not
    /// trusted.
    ///
    /// ```no_run
    /// let text = std::fs::read_to_string("runs/run-a/spec.json")?;
    /// let spec: lockstep_repro::worker::WorkerSpec = serde_json::from_str(&text)?;
    /// spec.validate()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_steps(&format!("worker `{}`: steps", self.name), self.steps)?;
        check_threads(&format!("worker `{}`: threads", self.name), self.threads)?;
        crate::options::check_input_size(
            &format!("worker `{}`: input_size", self.name),
            self.input_size,
        )
    }

    /// The files of this spec's attempt in its run folder.
    ///
    /// ```no_run
    /// # fn demo(spec: &lockstep_repro::worker::WorkerSpec) {
    /// println!("trace: {}", spec.files().trace().display());
    /// # }
    /// ```
    pub fn files(&self) -> RunFiles {
        RunFiles::new(&self.run_dir, Attempt::resuming(self.resume))
    }
}

/// Runs one worker and writes its result file.
///
/// ```no_run
/// # fn demo(spec: &lockstep_repro::worker::WorkerSpec) -> lockstep_repro::Result<()> {
/// let result = lockstep_repro::worker::run(spec)?;
/// println!("{}: model {}", result.name, result.model_fingerprint);
/// # Ok(())
/// # }
/// ```
pub fn run(spec: &WorkerSpec) -> Result<WorkerResult> {
    spec.validate()?;
    let joined = crate::distributed::join(spec)?;
    // Data loading and augmentation run on exactly `threads` threads, never on a pool
    // sized from the machine; the values do not depend on it, the speed does.
    let result = crate::stages::pool(spec.threads)?.install(|| run_in_pool(spec, joined.as_ref()));
    if let (Err(e), Some(j)) = (&result, &joined) {
        // Stops the other ranks too (MPI_Abort), so none waits for this one.
        j.fail(&spec.name, e);
    }
    result
}

fn run_in_pool(
    spec: &WorkerSpec,
    joined: Option<&crate::distributed::Joined>,
) -> Result<WorkerResult> {
    let rank = joined.map_or(0, |j| j.rank());
    let files = spec.files();
    std::fs::create_dir_all(files.dir()).map_err(|e| Error::io(files.dir(), e))?;
    let train = Split::checked(
        &spec.data,
        crate::dataset_check::SplitName::Train,
        None,
        &spec.data_policy,
    )?;
    let root = SeedTree::from_u64(spec.seed).child("train");
    let detector = DetectorConfig::default()
        .with_image_size(spec.input_size)
        .with_classes(train.trainable_classes()?);
    let n = train.len();
    let samples_needed = spec
        .steps
        .checked_mul(BATCH_SIZE)
        .ok_or(Error::TooManySamples {
            steps: spec.steps,
            batch_size: BATCH_SIZE,
        })?;
    let epochs = samples_needed.div_ceil(n) + 1;
    let sampler_config = SamplerConfig::new(n, root.child("order")).with_epochs(epochs);
    let build = |vs: &nn::tch::nn::Path<'_>| {
        if spec.inject == Some(Injection::ClockInit) {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(1);
            nn::tch::manual_seed(nanos);
        }
        TinyDetector::new(vs, &detector)
    };
    // Sample i of epoch e is augmented with the key `…/order/epoch[e]/sample[i]/augment`.
    let batches = nn::source::SamplerSource::new(
        Sampler::new(sampler_config, Shard::single())?,
        &train,
        Some(train_pipeline(spec.input_size)?),
        BATCH_SIZE,
        nn::source::detection(detector.clone()),
    )?;
    let timing = InputTiming::default();
    let batches = Timed {
        inner: batches,
        timing: &timing,
    };
    let mut source: Box<dyn BatchSource + '_> = match spec.inject {
        Some(Injection::DataOrder { step }) => Box::new(SwapFirstTwo {
            inner: batches,
            step,
        }),
        _ => Box::new(batches),
    };
    let config = train_config(spec);
    let model_node = root.child("model");
    let mut trainer = if spec.resume {
        Trainer::resume(
            config,
            model_node,
            build,
            &files.checkpoints(),
            &mut *source,
        )?
    } else {
        Trainer::new(config, model_node, build)?
    };
    let start_step = trainer.step();
    trainer.set_progress(nn::ProgressMode::Off);
    if let Some(j) = joined {
        trainer.distribute(j.collective(), nn::ParallelOptions::default())?;
    }
    // Rank 0 traces (every rank holds the same tensors; the trainer compares them).
    if rank == 0 {
        trainer.enable_trace(&files.trace(), nn::TraceOptions::default())?;
    }
    let until = spec.stop_after.unwrap_or(spec.steps).min(spec.steps);
    let started = std::time::Instant::now();
    trainer.run_with(&mut *source, until, |end| {
        if spec.checkpoint_at == Some(end.step()) {
            end.save_checkpoint(&files.checkpoints())?;
        }
        // Best effort: progress is for the console only.
        if rank == 0 {
            let _ = std::fs::write(files.progress(), end.step().to_string());
        }
        Ok(())
    })?;
    let train_seconds = started.elapsed().as_secs_f64();
    trainer.finish_trace()?;
    // Only the steps run here (a resumed run's checkpointed steps are not timed).
    let (input_seconds, input_images) = (timing.seconds.get(), timing.images.get());

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
        input_seconds,
        input_images,
        per_class: Vec::new(),
    };
    if spec.evaluate && rank == 0 {
        evaluate_run(spec, train.classes(), &trainer, &mut result)?;
    }
    let path = match rank {
        0 => files.result(),
        r => crate::distributed::rank_file(&files.result(), r),
    };
    let text = serde_json::to_string_pretty(&result).map_err(|e| Error::json(&path, e))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(result)
}

/// Detections on the validation split, their hash, and mAP.
fn evaluate_run(
    spec: &WorkerSpec,
    classes: &data::ClassMap,
    trainer: &Trainer<TinyDetector>,
    result: &mut WorkerResult,
) -> Result<()> {
    let val = Split::checked(
        &spec.data,
        crate::dataset_check::SplitName::Val,
        Some(classes),
        &spec.data_policy,
    )?;
    let compose = eval_pipeline(spec.input_size)?;
    // The pipeline draws nothing; the keys only satisfy its signature.
    let keys = EpochKey::new(&SeedTree::from_u64(spec.seed).child("val"), 0);
    let mut detections = Vec::new();
    let mut truth = Vec::new();
    let mut hasher = blake3::Hasher::new();
    for start in (0..val.len()).step_by(EVAL_CHUNK as usize) {
        let mut ids = Vec::new();
        let mut resized = Vec::new();
        let mut crowds = Vec::new();
        for index in start..(start + EVAL_CHUNK).min(val.len()) {
            let (image_id, sample) = val.sample(index)?;
            let crowd = val.crowd(index)?;
            ids.push(image_id);
            let augmented = compose.apply(sample, &keys.sample(index))?;
            // The resize may drop boxes too small to keep; their flags go with them.
            let dropped: std::collections::BTreeSet<usize> =
                augmented.dropped.iter().map(|d| d.index).collect();
            crowds.push(
                crowd
                    .into_iter()
                    .enumerate()
                    .filter(|(k, _)| !dropped.contains(k))
                    .map(|(_, c)| c)
                    .collect::<Vec<_>>(),
            );
            resized.push(augmented.sample);
        }
        let inputs = images_tensor(&resized)?;
        let pred = trainer
            .predict(&inputs)?
            .f_to_kind(tch::Kind::Float)
            .map_err(nn::Error::from)?;
        let decoded = trainer.model().decode(&pred, SCORE_THRESHOLD)?;
        for (k, (((sample, dets), image_id), crowd)) in resized
            .iter()
            .zip(decoded)
            .zip(ids)
            .zip(&crowds)
            .enumerate()
        {
            // `start` < the split's length and `k` < EVAL_CHUNK: no overflow.
            let image_index = start.saturating_add(k as u64);
            truth.extend(sample.boxes.iter().enumerate().map(|(j, &b)| {
                GroundTruth::new(image_id, b).with_crowd(crowd.get(j).copied().unwrap_or(false))
            }));
            let mut drawn = Vec::new();
            for d in dets {
                for v in d.bbox.to_array().into_iter().chain([d.score]) {
                    hasher.update(&v.to_bits().to_le_bytes());
                }
                hasher.update(&d.class.0.to_le_bytes());
                let d = Detection { image_id, ..d };
                if image_index < DRAWN_IMAGES as u64 {
                    drawn.push(d);
                }
                detections.push(d);
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
    result.per_class = report.per_class;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_sources_count_the_images_they_deliver() {
        let timing = InputTiming::default();
        let inner = |_step: u64| -> nn::Result<nn::Batch> {
            let cpu = (tch::Kind::Float, tch::Device::Cpu);
            Ok(nn::Batch {
                inputs: tch::Tensor::zeros([4, 3, 8, 8], cpu),
                targets: tch::Tensor::zeros([4], cpu),
            })
        };
        let mut source = Timed {
            inner,
            timing: &timing,
        };
        for step in 0..3 {
            assert_eq!(source.batch(step).map(|b| b.len()).ok(), Some(4));
        }
        let part = nn::batch::MicroPartition::new(4, 2, 0).expect("a valid partition");
        let parts = source.micro_batches(3, &part).expect("micro-batches");
        let local: u64 = parts.iter().map(nn::Batch::len).sum();
        assert_eq!(timing.images.get(), 12 + local);
        assert!(timing.seconds.get() >= 0.0);
    }
}
