//! The trainer: a step is a pure function of (weights, optimizer state, seed path, step
//! number, batch), so training is bitwise reproducible and resumable.
//!
//! Step `k`: fetch the batch of step `k` → check it → reseed libtorch from
//! `<seed>/step[k]` → forward (train mode) → loss → gradients with
//! `torch::autograd::grad` (no `.grad` accumulation, so nothing carries over) → optional
//! NaN guard → optimizer update at the schedule's rate for `k`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lockstep_seeding::{RunKey, SeedTree};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::batch::SourceState;
use crate::batch::{Batch, BatchSource};
use crate::checkpoint::{self, CheckpointWriter, Manifest};
use crate::determinism::{self, DeterminismConfig, DeterminismReport, Mode as DeterminismMode};
use crate::error::{Error, Result};
use crate::fingerprint::{model_fingerprint, optimizer_fingerprint, Fingerprint};
use crate::models::Model;
use crate::optim::{Optimizer, OptimizerConfig};
use crate::progress::{Progress, ProgressMode};
use crate::reseed::{reseed_locked, with_init_generator};
use crate::schedule::LrSchedule;
use crate::trace::{split_param, Phase, TraceOptions, TraceWriter};

mod parallel;

pub use parallel::{GradientReduction, ParallelOptions};

/// Where training runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeviceConfig {
    /// The CPU.
    Cpu,
    /// A CUDA device by index (untested on GPU in this repository's CI).
    Cuda(usize),
}

impl DeviceConfig {
    /// The tch device, checking that a CUDA device exists.
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(i)
                if tch::Cuda::is_available() && i < tch::Cuda::device_count() as usize =>
            {
                Ok(Device::Cuda(i))
            }
            Self::Cuda(i) => Err(Error::InvalidConfig {
                what: "device",
                value: format!("cuda:{i} (not available)"),
            }),
        }
    }
}

/// Everything that decides the values training produces. Two runs with equal configs,
/// seed nodes and batches produce equal bits (on one machine type).
///
/// Build it from [`Default`] with the `with_*` setters; [`Trainer::new`] and
/// deserialisation call [`Self::validate`].
///
/// ```
/// use lockstep_nn::{LrSchedule, OptimizerConfig, TrainConfig};
///
/// let config = TrainConfig::default()
///     .with_steps(945)
///     .with_batch_size(32)
///     .with_schedule(LrSchedule::Cosine { base: 3e-3, min: 3e-5, warmup: 50, total: 945 })
///     .with_optimizer(OptimizerConfig::adamw())
///     .with_threads(2);
/// config.validate()?;
/// // A schedule that ends before the run does is refused.
/// assert!(config.clone().with_steps(1000).validate().is_err());
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TrainConfigFields")]
#[non_exhaustive]
pub struct TrainConfig {
    /// Total training steps.
    pub steps: u64,
    /// Samples per batch (a batch may be smaller, never larger or empty).
    pub batch_size: u64,
    /// The learning-rate schedule.
    pub schedule: LrSchedule,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// Where to train.
    pub device: DeviceConfig,
    /// The determinism switch: mode, intra-op threads (CPU results depend on them) and
    /// the pinned CPU dispatch level.
    pub determinism: DeterminismConfig,
    /// Stop with [`Error::NonFinite`] when the loss or a gradient is NaN or infinite.
    pub nan_guard: bool,
    /// Micro-batches per step (`M`, default 1): each step's batch is cut into `M`
    /// micro-batches whose gradients are summed in micro-batch order; micro-batch `m`
    /// of step `k` draws from `<run>/step[k]/micro[m]`. A world of `W` ranks
    /// ([`Trainer::distribute`]) must divide it, and every such world gives the same
    /// bits. Left out of the serialised config when 1.
    #[serde(skip_serializing_if = "is_one")]
    pub micro_batches: u64,
    /// How gradients are combined across ranks (default [`GradientReduction::Ordered`],
    /// left out of the serialised config).
    #[serde(skip_serializing_if = "GradientReduction::is_ordered")]
    pub reduction: GradientReduction,
}

fn is_one(v: &u64) -> bool {
    *v == 1
}

fn one() -> u64 {
    1
}

impl Default for TrainConfig {
    /// 1000 steps of 32 samples, AdamW at a constant 1e-3, on the CPU, strict mode with
    /// 1 intra-op thread, NaN guard on.
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 32,
            schedule: LrSchedule::Constant { base: 1e-3 },
            optimizer: OptimizerConfig::adamw(),
            device: DeviceConfig::Cpu,
            determinism: DeterminismConfig::default(),
            nan_guard: true,
            micro_batches: 1,
            reduction: GradientReduction::Ordered,
        }
    }
}

impl TrainConfig {
    /// The steps that `epochs` passes over `samples` samples take at `batch_size`
    /// (the last batch of an epoch may be partial).
    pub fn steps_for_epochs(epochs: u64, samples: u64, batch_size: u64) -> u64 {
        epochs * samples.div_ceil(batch_size.max(1))
    }

    /// Sets [`Self::steps`].
    pub fn with_steps(mut self, steps: u64) -> Self {
        self.steps = steps;
        self
    }
    /// Sets [`Self::batch_size`].
    pub fn with_batch_size(mut self, batch_size: u64) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Sets [`Self::schedule`].
    pub fn with_schedule(mut self, schedule: LrSchedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// Sets [`Self::optimizer`].
    pub fn with_optimizer(mut self, optimizer: OptimizerConfig) -> Self {
        self.optimizer = optimizer;
        self
    }
    /// Sets [`Self::device`].
    pub fn with_device(mut self, device: DeviceConfig) -> Self {
        self.device = device;
        self
    }
    /// Sets [`Self::determinism`].
    pub fn with_determinism(mut self, determinism: DeterminismConfig) -> Self {
        self.determinism = determinism;
        self
    }
    /// Sets the intra-op thread count (`determinism.intra_op_threads`).
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.determinism.intra_op_threads = threads;
        self
    }
    /// Sets the determinism mode (`determinism.mode`).
    pub fn with_mode(mut self, mode: DeterminismMode) -> Self {
        self.determinism.mode = mode;
        self
    }
    /// Sets [`Self::nan_guard`].
    pub fn with_nan_guard(mut self, on: bool) -> Self {
        self.nan_guard = on;
        self
    }
    /// Sets [`Self::micro_batches`].
    pub fn with_micro_batches(mut self, micro_batches: u64) -> Self {
        self.micro_batches = micro_batches;
        self
    }
    /// Sets [`Self::reduction`].
    pub fn with_reduction(mut self, reduction: GradientReduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The batch size as tch counts it.
    fn batch_size_i64(&self) -> Result<i64> {
        i64::try_from(self.batch_size)
            .ok()
            .filter(|&b| b >= 1)
            .ok_or_else(|| Error::InvalidConfig {
                what: "batch_size",
                value: self.batch_size.to_string(),
            })
    }

    /// Checks every value, and the schedule against the run: a cosine schedule whose
    /// `total` is below `steps` would end before training does (the rest of the run at
    /// its final rate). A `total` above `steps` is accepted (a run stopped early on
    /// purpose).
    pub fn validate(&self) -> Result<()> {
        self.batch_size_i64()?;
        if self.micro_batches == 0 || self.micro_batches > self.batch_size {
            return Err(Error::InvalidConfig {
                what: "micro_batches",
                value: format!(
                    "{} (between 1 and the batch size, {})",
                    self.micro_batches, self.batch_size
                ),
            });
        }
        self.schedule.validate()?;
        if let LrSchedule::Cosine { total, .. } = self.schedule {
            if total < self.steps {
                return Err(Error::InvalidConfig {
                    what: "schedule.total",
                    value: format!(
                        "{total}, below the run's {} steps (the schedule would end before \
                         training does)",
                        self.steps
                    ),
                });
            }
        }
        self.optimizer.validate()?;
        self.determinism.validate()
    }
}

/// The serialised form of [`TrainConfig`]; deserialising validates it.
#[derive(Deserialize)]
struct TrainConfigFields {
    steps: u64,
    batch_size: u64,
    schedule: LrSchedule,
    optimizer: OptimizerConfig,
    device: DeviceConfig,
    determinism: DeterminismConfig,
    nan_guard: bool,
    #[serde(default = "one")]
    micro_batches: u64,
    #[serde(default)]
    reduction: GradientReduction,
}

impl TryFrom<TrainConfigFields> for TrainConfig {
    type Error = Error;
    fn try_from(f: TrainConfigFields) -> Result<Self> {
        let c = Self {
            steps: f.steps,
            batch_size: f.batch_size,
            schedule: f.schedule,
            optimizer: f.optimizer,
            device: f.device,
            determinism: f.determinism,
            nan_guard: f.nan_guard,
            micro_batches: f.micro_batches,
            reduction: f.reduction,
        };
        c.validate()?;
        Ok(c)
    }
}

/// What [`Trainer::resume_with`] tolerates. The default tolerates nothing: a checkpoint
/// written at another CPU dispatch level, intra-op thread count or libtorch version is
/// refused with [`Error::EnvironmentMismatch`], because finishing the run here would
/// give weights that neither machine setting produces on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResumeOptions {
    /// Resume even when the dispatch level, thread count (as read back from libtorch)
    /// or libtorch version differs from the checkpoint's. The run is then no longer
    /// bitwise equal to an uninterrupted run on either setting.
    pub allow_environment_change: bool,
}

impl ResumeOptions {
    /// The strict default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Self::allow_environment_change`].
    pub fn with_allow_environment_change(mut self, allow: bool) -> Self {
        self.allow_environment_change = allow;
        self
    }
}

/// A model under training, with its optimizer, position and records.
#[derive(Debug)]
pub struct Trainer<M> {
    config: TrainConfig,
    run: RunKey,
    device: Device,
    vs: VarStore,
    model: M,
    params: Vec<(String, Tensor)>,
    optimizer: Optimizer,
    step: u64,
    losses: Vec<f32>,
    report: DeterminismReport,
    trace: Option<TraceWriter>,
    progress: ProgressMode,
    /// The writer of the checkpoint folder last saved to; holds its lock until the
    /// trainer is dropped or saves elsewhere.
    writer: Mutex<Option<CheckpointWriter>>,
    /// The group of ranks joined by [`Self::distribute`].
    group: Option<parallel::Group>,
}

impl<M: Model> Trainer<M> {
    /// Applies the determinism switch, then builds the model with libtorch's generator
    /// seeded from `<seed>/init` (the seed node is the run's [`RunKey`]).
    ///
    /// ```no_run
    /// use lockstep_nn::{ClassifierConfig, SmallCnn, TrainConfig, Trainer};
    /// use lockstep_seeding::{RunKey, SeedTree};
    ///
    /// let cnn = ClassifierConfig::default();
    /// let trainer = Trainer::new(
    ///     TrainConfig::default().with_steps(100),
    ///     SeedTree::from_u64(1).child("run"),
    ///     |vs| SmallCnn::new(vs, &cnn),
    /// )?;
    /// assert_eq!(trainer.step(), 0);
    /// # Ok::<(), lockstep_nn::Error>(())
    /// ```
    pub fn new<F>(config: TrainConfig, seed: SeedTree, build: F) -> Result<Self>
    where
        F: FnOnce(&tch::nn::Path<'_>) -> Result<M>,
    {
        config.validate()?;
        let report = determinism::enable(&config.determinism)?;
        let device = config.device.device()?;
        let vs = VarStore::new(device);
        let run = RunKey::new(seed);
        let model = with_init_generator(&run, || build(&vs.root()))?;
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let optimizer = Optimizer::new(config.optimizer.clone())?;
        Ok(Self {
            config,
            run,
            device,
            vs,
            model,
            params,
            optimizer,
            step: 0,
            losses: Vec::new(),
            report,
            trace: None,
            progress: ProgressMode::Auto,
            writer: Mutex::new(None),
            group: None,
        })
    }

    /// Rebuilds the trainer from the newest checkpoint in `root` and hands the batch
    /// source state saved there back to `source` ([`BatchSource::restore`]), so training
    /// continues where it stopped. The seed node and config must equal the checkpoint's,
    /// the checkpoint's tensors must fit the model exactly, and the CPU dispatch level,
    /// thread count and libtorch version must equal the checkpoint's (see
    /// [`ResumeOptions`] and [`Self::resume_with`]).
    ///
    /// ```no_run
    /// use lockstep_nn::{Batch, ClassifierConfig, Result, SmallCnn, TrainConfig, Trainer};
    /// use lockstep_seeding::{RunKey, SeedTree};
    ///
    /// let cnn = ClassifierConfig::default();
    /// let mut source = |_step: u64| -> Result<Batch> { todo!("the batch of `step`") };
    /// let mut trainer = Trainer::resume(
    ///     TrainConfig::default().with_steps(100),
    ///     SeedTree::from_u64(1).child("run"),
    ///     |vs| SmallCnn::new(vs, &cnn),
    ///     "ckpt".as_ref(),
    ///     &mut source,
    /// )?;
    /// trainer.run(&mut source, 100)?;
    /// # Ok::<(), lockstep_nn::Error>(())
    /// ```
    pub fn resume<F>(
        config: TrainConfig,
        seed: SeedTree,
        build: F,
        root: &Path,
        source: &mut dyn BatchSource,
    ) -> Result<Self>
    where
        F: FnOnce(&tch::nn::Path<'_>) -> Result<M>,
    {
        Self::resume_with(config, seed, build, root, source, &ResumeOptions::default())
    }

    /// As [`Self::resume`], with `options` saying what may differ.
    ///
    /// ```no_run
    /// use lockstep_nn::{Batch, ClassifierConfig, Result, ResumeOptions, SmallCnn, TrainConfig, Trainer};
    /// use lockstep_seeding::{RunKey, SeedTree};
    ///
    /// let cnn = ClassifierConfig::default();
    /// let mut source = |_step: u64| -> Result<Batch> { todo!() };
    /// let options = ResumeOptions::new().with_allow_environment_change(true);
    /// let trainer = Trainer::resume_with(
    ///     TrainConfig::default(),
    ///     SeedTree::from_u64(1).child("run"),
    ///     |vs| SmallCnn::new(vs, &cnn),
    ///     "ckpt".as_ref(),
    ///     &mut source,
    ///     &options,
    /// )?;
    /// # Ok::<(), lockstep_nn::Error>(())
    /// ```
    pub fn resume_with<F>(
        config: TrainConfig,
        seed: SeedTree,
        build: F,
        root: &Path,
        source: &mut dyn BatchSource,
        options: &ResumeOptions,
    ) -> Result<Self>
    where
        F: FnOnce(&tch::nn::Path<'_>) -> Result<M>,
    {
        let mut t = Self::new(config, seed, build)?;
        let ckpt = checkpoint::read_latest(root, t.device)?;
        let m = &ckpt.manifest;
        check_counts(&ckpt)?;
        if m.seed.key() != t.run.key() {
            return Err(Error::ConfigMismatch {
                field: "seed".into(),
                checkpoint: m.seed.path(),
                current: t.run.path(),
            });
        }
        let current = serde_json::to_value(&t.config).map_err(|e| Error::InvalidConfig {
            what: "config",
            value: e.to_string(),
        })?;
        if let Some((field, a, b)) = first_difference("config", &m.config, &current) {
            return Err(Error::ConfigMismatch {
                field,
                checkpoint: a,
                current: b,
            });
        }
        // After the config check, so another `threads` is still named as a config field.
        if !options.allow_environment_change {
            check_environment(&m.determinism, &t.report)?;
        }
        t.load_weights(&ckpt.weights)?;
        t.optimizer
            .restore(m.optimizer_updates, ckpt.optimizer, &t.params)?;
        t.step = m.step;
        t.losses = m.losses.clone();
        source.restore(&m.source_state)?;
        Ok(t)
    }

    fn load_weights(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let mismatch = |tensor: &str, reason: String| Error::ModelMismatch {
            what: "model",
            tensor: tensor.to_string(),
            reason,
        };
        for (name, _) in weights {
            if !vars.iter().any(|(n, _)| n == name) {
                return Err(mismatch(
                    name,
                    "in the checkpoint but not in this model".into(),
                ));
            }
        }
        let _no_grad = tch::no_grad_guard();
        for (name, var) in &mut vars {
            let src = weights
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t)
                .ok_or_else(|| mismatch(name, "missing from the checkpoint".into()))?;
            if src.size() != var.size() || src.kind() != var.kind() {
                return Err(mismatch(
                    name,
                    format!(
                        "checkpoint has {:?} {:?}, model has {:?} {:?}",
                        src.size(),
                        src.kind(),
                        var.size(),
                        var.kind()
                    ),
                ));
            }
            var.f_copy_(src)?;
        }
        Ok(())
    }

    /// Writes a checkpoint of the current state under `root` (see [`checkpoint`]), with
    /// the batch source's position `source_state` ([`BatchSource::state`]; inside
    /// [`Self::run_with`], [`StepEnd::save_checkpoint`] fills it in).
    ///
    /// ```no_run
    /// # fn f(t: &lockstep_nn::Trainer<lockstep_nn::SmallCnn>) -> lockstep_nn::Result<()> {
    /// let dir = t.save_checkpoint("ckpt".as_ref(), lockstep_nn::SourceState::none())?;
    /// # Ok(()) }
    /// ```
    ///
    /// In a group of ranks ([`Self::distribute`]) every rank calls it; rank 0 writes,
    /// the others wait for it and get the same folder back, or
    /// [`crate::ParallelError::CheckpointFailed`] with rank 0's error.
    pub fn save_checkpoint(&self, root: &Path, source_state: SourceState) -> Result<PathBuf> {
        match &self.group {
            Some(group) if group.collective.world() > 1 => {
                self.save_as_group(group, root, source_state)
            }
            _ => self.write_checkpoint(root, source_state),
        }
    }

    /// Writes the checkpoint (this process alone).
    fn write_checkpoint(&self, root: &Path, source_state: SourceState) -> Result<PathBuf> {
        // The fingerprints, file entries and format are filled in by the writer from the
        // tensors it writes.
        let manifest = Manifest {
            format: checkpoint::FORMAT.to_string(),
            step: self.step,
            optimizer_updates: self.optimizer.updates(),
            seed: self.run.node().clone(),
            seed_path: self.run.path(),
            config: serde_json::to_value(&self.config).map_err(|e| Error::InvalidConfig {
                what: "config",
                value: e.to_string(),
            })?,
            source_state,
            determinism: self.report.clone(),
            model_fingerprint: Fingerprint([0; 32]),
            optimizer_fingerprint: Fingerprint([0; 32]),
            losses: self.losses.clone(),
            files: Default::default(),
        };
        // A poisoned lock only means an earlier save panicked; the writer is still whole.
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = match writer.take() {
            Some(w) if w.root() == root => w,
            old => {
                // Release the old folder's lock before taking the new one's.
                drop(old);
                CheckpointWriter::open(root)?
            }
        };
        let written = current.write(manifest, &self.weights(), &self.optimizer.state());
        *writer = Some(current);
        written
    }

    /// Starts trace mode: every following step appends its records to `path`.
    pub fn enable_trace(&mut self, path: &Path, options: TraceOptions) -> Result<()> {
        self.trace = Some(TraceWriter::create(path, options)?);
        Ok(())
    }

    /// Ends trace mode, flushing the file.
    pub fn finish_trace(&mut self) -> Result<()> {
        if let Some(mut t) = self.trace.take() {
            t.flush()?;
        }
        Ok(())
    }

    /// Sets how progress is shown by [`Self::run`].
    pub fn set_progress(&mut self, mode: ProgressMode) {
        self.progress = mode;
    }

    /// Trains one step on the batch `source` gives for the current step; returns its
    /// loss.
    pub fn train_step(&mut self, source: &mut dyn BatchSource) -> Result<f32> {
        if self.config.micro_batches > 1 || self.group.is_some() {
            return self.train_step_micro(source);
        }
        let k = self.step;
        let batch = source.batch(k)?;
        self.check_batch(k, &batch)?;
        let inputs = batch.inputs.f_to_device(self.device)?;
        let targets = batch.targets.f_to_device(self.device)?;
        let _generator = reseed_locked(&self.run.step(k));
        let trace = &mut self.trace;
        if let Some(tr) = trace.as_mut() {
            tr.record(k, Phase::Batch, "", "inputs", &inputs)?;
            tr.record(k, Phase::Batch, "", "targets", &targets)?;
        }
        let output = {
            let mut tap = |module: &str, t: &Tensor| -> Result<()> {
                match trace.as_mut() {
                    Some(tr) => tr.record(k, Phase::Forward, module, "output", t),
                    None => Ok(()),
                }
            };
            self.model.forward_tapped(&inputs, true, &mut tap)?
        };
        let loss = self.model.loss(&output, &targets)?;
        let loss_value = loss.f_double_value(&[])? as f32;
        if let Some(tr) = trace.as_mut() {
            tr.record(k, Phase::Loss, "", "loss", &loss)?;
        }
        if self.config.nan_guard && !loss_value.is_finite() {
            return Err(Error::NonFinite {
                step: k,
                phase: Phase::Loss,
                tensor: "loss".into(),
            });
        }
        let tensors: Vec<&Tensor> = self.params.iter().map(|(_, t)| t).collect();
        let grads = Tensor::f_run_backward(&[&loss], &tensors, false, false)?;
        for ((name, _), g) in self.params.iter().zip(&grads) {
            if let Some(tr) = trace.as_mut() {
                let (module, tensor) = split_param(name);
                tr.record(k, Phase::Backward, module, tensor, g)?;
            }
            if self.config.nan_guard && g.f_isfinite()?.f_all()?.f_int64_value(&[])? == 0 {
                return Err(Error::NonFinite {
                    step: k,
                    phase: Phase::Backward,
                    tensor: name.clone(),
                });
            }
        }
        let lr = self.config.schedule.checked_lr(k)?;
        self.optimizer.step(&self.params, &grads, lr)?;
        if let Some(tr) = trace.as_mut() {
            for (name, p) in &self.params {
                let (module, tensor) = split_param(name);
                tr.record(k, Phase::Update, module, tensor, p)?;
            }
        }
        self.step = k + 1;
        self.losses.push(loss_value);
        Ok(loss_value)
    }

    fn check_batch(&self, k: u64, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return Err(Error::EmptyBatch { step: k });
        }
        if batch.len() > self.config.batch_size {
            return Err(Error::BadBatchShape {
                step: k,
                tensor: "inputs",
                got: batch.inputs.size(),
                kind: format!("{:?}", batch.inputs.kind()),
                expected: format!("at most {} samples", self.config.batch_size),
            });
        }
        self.model.check_batch(k, batch)
    }

    /// Trains until `until` steps are done (at most `config.steps`), showing progress.
    ///
    /// ```no_run
    /// # fn f(mut t: lockstep_nn::Trainer<lockstep_nn::SmallCnn>, mut source: impl lockstep_nn::BatchSource) -> lockstep_nn::Result<()> {
    /// t.run(&mut source, 500)?;
    /// # Ok(()) }
    /// ```
    pub fn run(&mut self, source: &mut dyn BatchSource, until: u64) -> Result<()> {
        self.run_with(source, until, |_| Ok(()))
    }

    /// As [`Self::run`], calling `after_step` after every step with a [`StepEnd`] that
    /// reaches both the trainer and the source: checkpoint (with the source's state),
    /// evaluate, or stop early by returning an error.
    ///
    /// ```no_run
    /// # fn f(mut t: lockstep_nn::Trainer<lockstep_nn::SmallCnn>, mut source: impl lockstep_nn::BatchSource) -> lockstep_nn::Result<()> {
    /// t.run_with(&mut source, 500, |end| {
    ///     if end.trainer().step() % 100 == 0 {
    ///         end.save_checkpoint("ckpt".as_ref())?;
    ///     }
    ///     Ok(())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn run_with<F>(
        &mut self,
        source: &mut dyn BatchSource,
        until: u64,
        mut after_step: F,
    ) -> Result<()>
    where
        F: FnMut(&StepEnd<'_, M>) -> Result<()>,
    {
        let until = until.min(self.config.steps);
        let progress = Progress::new(self.progress, self.step, until);
        while self.step < until {
            let k = self.step;
            let loss = self.train_step(source)?;
            progress.step(k, loss, self.config.schedule.lr(k));
            after_step(&StepEnd {
                trainer: self,
                source,
            })?;
        }
        progress.finish();
        if let Some(t) = self.trace.as_mut() {
            t.flush()?;
        }
        self.compare_ranks_if_due(true)
    }

    /// The model in eval mode on `inputs`, without gradients (draws nothing from the
    /// generator).
    pub fn predict(&self, inputs: &Tensor) -> Result<Tensor> {
        let _no_grad = tch::no_grad_guard();
        self.model
            .forward_t(&inputs.f_to_device(self.device)?, false)
    }

    /// All variables (parameters and buffers), in name order.
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The fingerprint of all variables.
    pub fn model_fingerprint(&self) -> Result<Fingerprint> {
        model_fingerprint(&self.vs)
    }

    /// The fingerprint of the optimizer state (and its update count).
    pub fn optimizer_fingerprint(&self) -> Result<Fingerprint> {
        optimizer_fingerprint(&self.optimizer.state(), self.optimizer.updates())
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }
    /// The var store holding the model's variables.
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }
    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }
    /// Steps done.
    pub fn step(&self) -> u64 {
        self.step
    }
    /// The loss of every step done.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }
    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }
    /// The run's seed node.
    pub fn seed(&self) -> &SeedTree {
        self.run.node()
    }
    /// The run's key (`<run>`; init and steps are its children).
    pub fn run_key(&self) -> &RunKey {
        &self.run
    }
    /// The determinism settings applied at construction.
    pub fn determinism_report(&self) -> &DeterminismReport {
        &self.report
    }
}

/// What [`Trainer::run_with`]'s hook sees after a step: the trainer and the batch
/// source, so a checkpoint can hold the source's position.
pub struct StepEnd<'a, M> {
    trainer: &'a Trainer<M>,
    source: &'a dyn BatchSource,
}

impl<M> std::fmt::Debug for StepEnd<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepEnd")
            .field("step", &self.trainer.step)
            .finish_non_exhaustive()
    }
}

impl<M: Model> StepEnd<'_, M> {
    /// The trainer, after the step.
    pub fn trainer(&self) -> &Trainer<M> {
        self.trainer
    }

    /// Steps done (the trainer's [`Trainer::step`]).
    pub fn step(&self) -> u64 {
        self.trainer.step()
    }

    /// The batch source's position after the batches it has handed out.
    pub fn source_state(&self) -> Result<SourceState> {
        self.source.state()
    }

    /// Writes a checkpoint under `root` holding the trainer's state and the source's
    /// ([`Trainer::resume`] hands it back to the source).
    pub fn save_checkpoint(&self, root: &Path) -> Result<PathBuf> {
        self.trainer.save_checkpoint(root, self.source.state()?)
    }
}

/// The trainer records one loss and one optimizer update per step; a manifest whose
/// counts disagree was not written by it (the manifest hash makes this a second line
/// of defence that names the field).
fn check_counts(ckpt: &checkpoint::Checkpoint) -> Result<()> {
    let m = &ckpt.manifest;
    let bad = |field: &str, value: String| Error::CorruptCheckpoint {
        path: ckpt.dir.join(checkpoint::MANIFEST),
        reason: format!("field `{field}` is {value}, but `step` is {}", m.step),
    };
    if m.optimizer_updates != m.step {
        return Err(bad("optimizer_updates", m.optimizer_updates.to_string()));
    }
    if m.losses.len() as u64 != m.step {
        return Err(bad("losses", format!("{} entries long", m.losses.len())));
    }
    Ok(())
}

/// Refuses a checkpoint written under another dispatch level, thread count or libtorch.
fn check_environment(saved: &DeterminismReport, now: &DeterminismReport) -> Result<()> {
    if saved.cpu_capability != now.cpu_capability {
        let want = saved.cpu_capability.env_value();
        return Err(Error::EnvironmentMismatch {
            setting: "CPU dispatch level",
            checkpoint: want.clone(),
            current: now.cpu_capability.env_value(),
            remedy: format!(
                "set ATEN_CPU_CAPABILITY={want} in the environment before the process starts"
            ),
        });
    }
    if saved.intra_op_threads != now.intra_op_threads {
        return Err(Error::EnvironmentMismatch {
            setting: "intra-op threads",
            checkpoint: saved.intra_op_threads.to_string(),
            current: now.intra_op_threads.to_string(),
            remedy: format!(
                "set `determinism.intra_op_threads: {}` in the config (`TrainConfig::with_threads`)",
                saved.intra_op_threads
            ),
        });
    }
    if saved.libtorch_version != now.libtorch_version {
        return Err(Error::EnvironmentMismatch {
            setting: "libtorch version",
            checkpoint: saved.libtorch_version.clone(),
            current: now.libtorch_version.clone(),
            remedy: format!("build against libtorch {}", saved.libtorch_version),
        });
    }
    Ok(())
}

/// The first field (dotted path) where two JSON values differ, with both renderings.
fn first_difference(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let null = Value::Null;
                first_difference(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                )
            })
        }
        _ if a == b => None,
        _ => Some((path.to_string(), a.to_string(), b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_nested_field() {
        let a = serde_json::json!({"steps": 10, "optimizer": {"kind": "sgd", "momentum": 0.9}});
        let b = serde_json::json!({"steps": 10, "optimizer": {"kind": "sgd", "momentum": 0.5}});
        let d = first_difference("config", &a, &b).unwrap();
        assert_eq!(
            d,
            (
                "config.optimizer.momentum".to_string(),
                "0.9".to_string(),
                "0.5".to_string()
            )
        );
        assert_eq!(first_difference("config", &a, &a), None);
    }

    #[test]
    fn steps_for_epochs_counts_partial_batches() {
        assert_eq!(TrainConfig::steps_for_epochs(3, 2000, 32), 3 * 63);
        assert_eq!(TrainConfig::steps_for_epochs(1, 64, 32), 2);
    }
}
