//! Micro-batches and data-parallel training: the step of a [`Trainer`] whose config
//! cuts each step into `M` micro-batches, or that [`Trainer::distribute`] has joined to
//! a group of ranks.
//!
//! Micro-batch `m` of step `k` is drawn from `<run>/step[k]/micro[m]` (from
//! `<run>/step[k]` itself when `M = 1`), starts from the buffers (BatchNorm running
//! statistics) as they were at the start of the step, and yields its gradient, loss and
//! buffers. Every rank all-gathers every micro-batch's part and combines them in
//! micro-batch order with weights `n_m / n` (its share of the step's samples):
//! `g = Σ_m g_m · w_m`, folded left from `m = 0`, in plain `f32` arithmetic (no fused
//! multiply-add). The same for the loss and the buffers. The result depends on `M`
//! and the samples, never on which rank computed what, so every world size dividing
//! `M` gives the same bits. With `M = 1`, `w_0 = 1` and the step equals the undivided
//! one bit for bit.

use lockstep_distributed::{differing_ranks, Collective, MicroPartition, Solo};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::Trainer;
use crate::batch::Batch;
use crate::error::{Error, ParallelError, Result};
use crate::models::Model;
use crate::reseed::reseed_locked;
use crate::trace::{split_param, Phase};

/// How a step's gradients are combined across ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GradientReduction {
    /// Every rank gathers every micro-batch's gradient and sums them in micro-batch
    /// order: the same bits at every world size that divides `M`, and across runs.
    #[default]
    Ordered,
    /// The fast mode: each rank sums its own micro-batches, then the backend's
    /// all-reduce sums the ranks in its own order (MPI's reduction tree). `W` times
    /// less gradient traffic into each rank; the bits depend on the world size (see
    /// `docs/reproducibility.md` for what was measured at a fixed one).
    AllReduce,
}

impl GradientReduction {
    /// Whether this is the default (kept out of serialised configs, so configs and
    /// checkpoints of undivided runs read as before).
    pub fn is_ordered(&self) -> bool {
        *self == Self::Ordered
    }
}

/// How a distributed trainer checks itself.
///
/// ```
/// let options = lockstep_nn::ParallelOptions::default().with_check_every(5);
/// assert_eq!(options.check_every, 5);
/// assert!(options.with_check_every(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParallelOptions {
    /// Compare the ranks' model fingerprints after every this many steps (and at the
    /// end of [`Trainer::run_with`], and when joining). Default 10.
    pub check_every: u64,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        Self { check_every: 10 }
    }
}

impl ParallelOptions {
    /// Sets [`Self::check_every`].
    pub fn with_check_every(mut self, steps: u64) -> Self {
        self.check_every = steps;
        self
    }

    /// `check_every` is at least 1.
    pub fn validate(&self) -> Result<()> {
        if self.check_every == 0 {
            return Err(Error::InvalidConfig {
                what: "check_every",
                value: "0".into(),
            });
        }
        Ok(())
    }
}

/// A trainer's place in a group of ranks.
#[derive(Debug)]
pub(super) struct Group {
    pub(super) collective: Box<dyn Collective>,
    pub(super) partition: MicroPartition,
    pub(super) options: ParallelOptions,
    /// The step at which the fingerprints were last compared.
    pub(super) checked_at: Option<u64>,
}

fn collective_error(step: u64) -> impl FnOnce(lockstep_distributed::Error) -> Error {
    move |source| ParallelError::Collective { step, source }.into()
}

/// An `f32` tensor's values (the kind is checked when a group is joined).
fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        &t.f_flatten(0, -1)?.f_to_kind(Kind::Float)?,
    )?)
}

fn push_f32s(out: &mut Vec<u8>, values: &[f32]) {
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
}

/// Reads `len` little-endian `f32`s at `*at`, advancing it.
fn read_f32s(bytes: &[u8], at: &mut usize, len: usize) -> Vec<f32> {
    let end = *at + 4 * len;
    let out = bytes[*at..end]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    *at = end;
    out
}

/// `acc ← acc + x · w` element-wise, or `acc ← x · w` for the first term.
fn fold(acc: &mut Vec<f32>, x: &[f32], w: f32, first: bool) {
    if first {
        *acc = x.iter().map(|v| v * w).collect();
    } else {
        for (a, v) in acc.iter_mut().zip(x) {
            *a += v * w;
        }
    }
}

/// What one micro-batch yields.
struct MicroResult {
    samples: u64,
    loss: f32,
    grads: Vec<Vec<f32>>,
    buffers: Vec<Vec<f32>>,
}

impl<M: Model> Trainer<M> {
    /// Joins a group of ranks for data-parallel training: from now on each step's `M`
    /// micro-batches (`TrainConfig::micro_batches`) are shared out over the group's
    /// ranks ([`MicroPartition`]), and every rank ends each step with the same weights.
    /// The world size must divide `M`. Checks at once that every rank holds the same
    /// weights (same seed and config, or the same checkpoint), then every
    /// `options.check_every` steps.
    ///
    /// ```no_run
    /// use lockstep_nn::{ClassifierConfig, ParallelOptions, SmallCnn, TrainConfig, Trainer};
    /// use lockstep_seeding::SeedTree;
    ///
    /// let cnn = ClassifierConfig::default();
    /// let config = TrainConfig::default().with_steps(100).with_micro_batches(4);
    /// let mut trainer = Trainer::new(config, SeedTree::from_u64(1).child("run"), |vs| {
    ///     SmallCnn::new(vs, &cnn)
    /// })?;
    /// // With MPI: `lockstep_distributed::mpi::Mpi::init()?` (feature `mpi`).
    /// trainer.distribute(Box::new(lockstep_distributed::Solo), ParallelOptions::default())?;
    /// # Ok::<(), lockstep_nn::Error>(())
    /// ```
    pub fn distribute(
        &mut self,
        collective: Box<dyn Collective>,
        options: ParallelOptions,
    ) -> Result<()> {
        options.validate()?;
        let step = self.step;
        let partition = MicroPartition::new(
            self.config.micro_batches,
            collective.world(),
            collective.rank(),
        )
        .map_err(collective_error(step))?;
        for (name, t) in self.vs.variables() {
            if t.kind() != Kind::Float {
                return Err(Error::InvalidConfig {
                    what: "model variables",
                    value: format!(
                        "`{name}` is {:?}; micro-batched training exchanges f32 only",
                        t.kind()
                    ),
                });
            }
        }
        self.group = Some(Group {
            collective,
            partition,
            options,
            checked_at: None,
        });
        self.compare_ranks()
    }

    /// The group's collective, if the trainer has joined one.
    pub fn collective(&self) -> Option<&dyn Collective> {
        self.group.as_ref().map(|g| g.collective.as_ref())
    }

    /// Compares every rank's model fingerprint (a 32-byte hash each) and fails with
    /// [`ParallelError::RanksDiverged`], naming the step and ranks, if any differs.
    /// Without a group there is nothing to compare.
    pub fn compare_ranks(&mut self) -> Result<()> {
        let step = self.step;
        let Some(group) = self.group.as_ref() else {
            return Ok(());
        };
        let ours = crate::fingerprint::model_fingerprint(&self.vs)?;
        let mut all = vec![0u8; 32 * group.collective.world() as usize];
        group
            .collective
            .all_gather(&ours.0, &mut all)
            .map_err(collective_error(step))?;
        if let Some(d) = differing_ranks(&all, 32) {
            return Err(ParallelError::RanksDiverged {
                step,
                ranks: d.ranks,
                fingerprints: d.values,
            }
            .into());
        }
        if let Some(g) = self.group.as_mut() {
            g.checked_at = Some(step);
        }
        Ok(())
    }

    /// Compares the ranks now unless they were compared at this step already.
    pub(super) fn compare_ranks_if_due(&mut self, force: bool) -> Result<()> {
        let (due, done) = match &self.group {
            Some(g) => (
                force || self.step.is_multiple_of(g.options.check_every),
                g.checked_at == Some(self.step),
            ),
            None => return Ok(()),
        };
        if due && !done {
            self.compare_ranks()?;
        }
        Ok(())
    }

    /// Rank 0 writes the checkpoint; every rank then learns its folder, or rank 0's
    /// error, by broadcast (so the others wait for the write, and none runs ahead).
    pub(super) fn save_as_group(
        &self,
        group: &Group,
        root: &std::path::Path,
        source_state: crate::batch::SourceState,
    ) -> Result<std::path::PathBuf> {
        let step = self.step;
        let c = group.collective.as_ref();
        let written = if c.rank() == 0 {
            Some(self.write_checkpoint(root, source_state))
        } else {
            None
        };
        // Status byte (1 = written) then the folder name or the error text.
        let mut message = match &written {
            Some(Ok(dir)) => {
                let mut m = vec![1u8];
                m.extend(dir.to_string_lossy().as_bytes());
                m
            }
            Some(Err(e)) => {
                let mut m = vec![0u8];
                m.extend(e.to_string().as_bytes());
                m
            }
            None => Vec::new(),
        };
        let mut len = (message.len() as u64).to_le_bytes();
        c.broadcast(0, &mut len).map_err(collective_error(step))?;
        let len = usize::try_from(u64::from_le_bytes(len)).unwrap_or(usize::MAX);
        if c.rank() != 0 {
            message = vec![0u8; len];
        }
        c.broadcast(0, &mut message)
            .map_err(collective_error(step))?;
        if let Some(result) = written {
            return result;
        }
        match message.split_first() {
            Some((1, dir)) => Ok(std::path::PathBuf::from(
                String::from_utf8_lossy(dir).into_owned(),
            )),
            _ => Err(ParallelError::CheckpointFailed {
                step,
                reason: String::from_utf8_lossy(message.get(1..).unwrap_or_default()).into_owned(),
            }
            .into()),
        }
    }

    /// Forward and backward of micro-batch `m` from the step-start buffers.
    fn micro_step(
        &mut self,
        k: u64,
        m: u64,
        batch: &Batch,
        start_buffers: &[(String, Tensor)],
        buffers: &[(String, Tensor)],
    ) -> Result<MicroResult> {
        if batch.is_empty() {
            return Err(Error::EmptyBatch { step: k });
        }
        self.model.check_batch(k, batch)?;
        {
            let _no_grad = tch::no_grad_guard();
            for ((_, live), (_, start)) in buffers.iter().zip(start_buffers) {
                live.shallow_clone().f_copy_(start)?;
            }
        }
        let inputs = batch.inputs.f_to_device(self.device)?;
        let targets = batch.targets.f_to_device(self.device)?;
        let step_key = self.run.step(k);
        // One micro-batch: the step's own key, so M = 1 equals the undivided step.
        let _generator = if self.config.micro_batches == 1 {
            reseed_locked(&step_key)
        } else {
            reseed_locked(&step_key.micro(m))
        };
        let output = self.model.forward_t(&inputs, true)?;
        let loss = self.model.loss(&output, &targets)?;
        let loss_value = loss.f_double_value(&[])? as f32;
        let tensors: Vec<&Tensor> = self.params.iter().map(|(_, t)| t).collect();
        let grads = Tensor::f_run_backward(&[&loss], &tensors, false, false)?;
        Ok(MicroResult {
            samples: batch.len(),
            loss: loss_value,
            grads: grads.iter().map(values).collect::<Result<_>>()?,
            buffers: buffers
                .iter()
                .map(|(_, t)| values(t))
                .collect::<Result<_>>()?,
        })
    }

    /// One step of `M` micro-batches (see the module docs).
    pub(super) fn train_step_micro(
        &mut self,
        source: &mut dyn crate::batch::BatchSource,
    ) -> Result<f32> {
        let k = self.step;
        let partition = match &self.group {
            Some(g) => g.partition,
            None => {
                MicroPartition::single(self.config.micro_batches).map_err(collective_error(k))?
            }
        };
        let reduction = self.config.reduction;
        let batches = source.micro_batches(k, &partition)?;
        if batches.len() as u64 != partition.per_rank() {
            return Err(Error::BatchSource {
                step: k,
                source: format!(
                    "gave {} micro-batches, {} expected",
                    batches.len(),
                    partition.per_rank()
                )
                .into(),
            });
        }
        let mut buffers: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .filter(|(_, t)| !t.requires_grad())
            .collect();
        buffers.sort_by(|a, b| a.0.cmp(&b.0));
        let start_buffers = buffers
            .iter()
            .map(|(n, t)| Ok((n.clone(), t.f_detach_copy()?)))
            .collect::<Result<Vec<_>>>()?;
        let mut locals = Vec::with_capacity(batches.len());
        for (m, batch) in partition.local().zip(&batches) {
            locals.push(self.micro_step(k, m, batch, &start_buffers, &buffers)?);
        }
        // The exchange: per micro-batch, its sample count, loss, buffers and (ordered
        // mode) gradients, all of one length on every rank.
        let grad_lens: Vec<usize> = self.params.iter().map(|(_, t)| t.numel()).collect();
        let buffer_lens: Vec<usize> = buffers.iter().map(|(_, t)| t.numel()).collect();
        let exchanged_grads = reduction == GradientReduction::Ordered;
        let part_len = 12
            + 4 * buffer_lens.iter().sum::<usize>()
            + if exchanged_grads {
                4 * grad_lens.iter().sum::<usize>()
            } else {
                0
            };
        let mut send = Vec::with_capacity(part_len * locals.len());
        for r in &locals {
            send.extend(r.samples.to_le_bytes());
            send.extend(r.loss.to_le_bytes());
            for b in &r.buffers {
                push_f32s(&mut send, b);
            }
            if exchanged_grads {
                for g in &r.grads {
                    push_f32s(&mut send, g);
                }
            }
        }
        if send.len() != part_len * locals.len() {
            return Err(ParallelError::Mismatch {
                step: k,
                what: "a micro-batch's gradients or buffers have another size than the model's"
                    .into(),
            }
            .into());
        }
        let all = match &self.group {
            Some(g) => {
                let mut all = vec![0u8; send.len() * g.collective.world() as usize];
                g.collective
                    .all_gather(&send, &mut all)
                    .map_err(collective_error(k))?;
                all
            }
            None => {
                let mut all = vec![0u8; send.len()];
                Solo.all_gather(&send, &mut all)
                    .map_err(collective_error(k))?;
                all
            }
        };
        // Micro-batch parts in micro-batch order (ranks hold consecutive ranges).
        let parts: Vec<&[u8]> = all.chunks_exact(part_len).collect();
        let counts: Vec<u64> = parts
            .iter()
            .map(|p| u64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]]))
            .collect();
        let total: u64 = counts.iter().sum();
        if total > self.config.batch_size || counts.contains(&0) {
            return Err(ParallelError::Mismatch {
                step: k,
                what: format!(
                    "micro-batch sizes {counts:?}: the step holds {total} samples, at most {} \
                     allowed, none empty",
                    self.config.batch_size
                ),
            }
            .into());
        }
        let weights: Vec<f32> = counts
            .iter()
            .map(|&c| (c as f64 / total as f64) as f32)
            .collect();
        let mut loss = 0f32;
        let mut new_buffers = vec![Vec::new(); buffer_lens.len()];
        let mut grads = vec![Vec::new(); grad_lens.len()];
        for (m, (part, &w)) in parts.iter().zip(&weights).enumerate() {
            let first = m == 0;
            let l = f32::from_le_bytes([part[8], part[9], part[10], part[11]]);
            loss = if first { l * w } else { loss + l * w };
            let mut at = 12;
            for (acc, &len) in new_buffers.iter_mut().zip(&buffer_lens) {
                fold(acc, &read_f32s(part, &mut at, len), w, first);
            }
            if exchanged_grads {
                for (acc, &len) in grads.iter_mut().zip(&grad_lens) {
                    fold(acc, &read_f32s(part, &mut at, len), w, first);
                }
            }
        }
        if !exchanged_grads {
            // The fast mode: this rank's micro-batches in order, then the backend's sum.
            let first_local = partition.local().start as usize;
            for (i, r) in locals.iter().enumerate() {
                let w = weights[first_local + i];
                for (acc, g) in grads.iter_mut().zip(&r.grads) {
                    fold(acc, g, w, i == 0);
                }
            }
            if let Some(g) = &self.group {
                let mut flat: Vec<f32> = grads.concat();
                g.collective
                    .all_reduce_sum_f32(&mut flat)
                    .map_err(collective_error(k))?;
                let mut at = 0;
                for (acc, &len) in grads.iter_mut().zip(&grad_lens) {
                    *acc = flat[at..at + len].to_vec();
                    at += len;
                }
            }
        }
        self.finish_micro_step(k, loss, &grads, &buffers, &new_buffers)
    }

    /// Sets the combined buffers, guards, traces and applies the update.
    fn finish_micro_step(
        &mut self,
        k: u64,
        loss: f32,
        grads: &[Vec<f32>],
        buffers: &[(String, Tensor)],
        new_buffers: &[Vec<f32>],
    ) -> Result<f32> {
        {
            let _no_grad = tch::no_grad_guard();
            for ((_, live), values) in buffers.iter().zip(new_buffers) {
                let t = Tensor::f_from_slice(values)?
                    .f_view(live.size().as_slice())?
                    .f_to_device(self.device)?;
                live.shallow_clone().f_copy_(&t)?;
            }
        }
        if let Some(tr) = self.trace.as_mut() {
            tr.record(k, Phase::Loss, "", "loss", &Tensor::from(loss))?;
        }
        if self.config.nan_guard && !loss.is_finite() {
            return Err(Error::NonFinite {
                step: k,
                phase: Phase::Loss,
                tensor: "loss".into(),
            });
        }
        let mut tensors = Vec::with_capacity(grads.len());
        for ((name, p), g) in self.params.iter().zip(grads) {
            let t = Tensor::f_from_slice(g)?
                .f_view(p.size().as_slice())?
                .f_to_device(self.device)?;
            if let Some(tr) = self.trace.as_mut() {
                let (module, tensor) = split_param(name);
                tr.record(k, Phase::Backward, module, tensor, &t)?;
            }
            if self.config.nan_guard && !g.iter().all(|v| v.is_finite()) {
                return Err(Error::NonFinite {
                    step: k,
                    phase: Phase::Backward,
                    tensor: name.clone(),
                });
            }
            tensors.push(t);
        }
        let lr = self.config.schedule.checked_lr(k)?;
        self.optimizer.step(&self.params, &tensors, lr)?;
        if let Some(tr) = self.trace.as_mut() {
            for (name, p) in &self.params {
                let (module, tensor) = split_param(name);
                tr.record(k, Phase::Update, module, tensor, p)?;
            }
        }
        self.step = k + 1;
        self.losses.push(loss);
        self.compare_ranks_if_due(false)?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_of_one_part_with_weight_one_is_the_part() {
        let x = [1.5f32, -0.0, f32::MIN_POSITIVE, 3.0e-39];
        let mut acc = Vec::new();
        fold(&mut acc, &x, 1.0, true);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&acc), bits(&x));
    }

    #[test]
    fn fold_sums_left_to_right() {
        let mut acc = Vec::new();
        fold(&mut acc, &[1.0e8], 0.5, true);
        fold(&mut acc, &[1.0], 0.5, false);
        fold(&mut acc, &[-1.0e8], 0.5, false);
        // ((5e7 + 0.5) - 5e7) loses the 0.5 in f32: the order is the one written.
        assert_eq!(acc, [0.0]);
    }
}
