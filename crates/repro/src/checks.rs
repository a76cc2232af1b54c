//! The suite's verdicts: pure functions from what the runs produced (results, traces,
//! hashes) to report rows. The suite (`suite.rs`) runs the processes; these decide.

use std::path::Path;

use lockstep_nn::trace::{compare_records, Difference, Divergence, Phase, TraceRecord};

use crate::dataset_check::DatasetSummary;
use crate::options::Options;
use crate::report::{CheckRow, Stage};
use crate::shapes::{ShapesConfig, ShapesDataset};
use crate::worker::WorkerResult;

/// A short BLAKE3 hex of bytes, for tables.
pub(crate) fn short_hash(bytes: &[u8]) -> String {
    prefix(&blake3::hash(bytes).to_hex(), 16)
}

/// The first `n` bytes of a hash for the table, or all of it when shorter: hashes in
/// result files are read back from disk, so their length is not trusted.
pub(crate) fn prefix(hash: &str, n: usize) -> String {
    hash.get(..n).unwrap_or(hash).to_string()
}

/// A digest of a whole trace, for the table.
pub(crate) fn trace_digest(trace: &[TraceRecord]) -> String {
    let mut bytes = Vec::with_capacity(trace.len() * 32);
    for r in trace {
        bytes.extend_from_slice(&r.fp.0);
    }
    short_hash(&bytes)
}

/// The records of `trace` from step `from` on.
pub(crate) fn steps_from(trace: &[TraceRecord], from: u64) -> Vec<TraceRecord> {
    trace.iter().filter(|r| r.step >= from).cloned().collect()
}

/// The records of `trace` before step `until`.
pub(crate) fn steps_before(trace: &[TraceRecord], until: u64) -> Vec<TraceRecord> {
    trace.iter().filter(|r| r.step < until).cloned().collect()
}

/// The built-in set generated twice: both manifests and hashes equal.
pub(crate) fn generated_twice(
    config: ShapesConfig,
    first: &ShapesDataset,
    second: &ShapesDataset,
) -> CheckRow {
    // Both hashes cover exactly the files each generation wrote, listed by name, so
    // nothing else in the folder can change the verdict.
    let pass = first.files == second.files && first.content_hash == second.content_hash;
    CheckRow::new(
        Stage::Dataset,
        "shapes set generated twice",
        pass,
        format!(
            "{} train + {} val images of {}², PNG + COCO instances.json, byte-identical ({} files)",
            config.train_images,
            config.val_images,
            config.image_size,
            first.files.len()
        ),
    )
    .with_hashes(vec![
        prefix(&first.content_hash, 16),
        prefix(&second.content_hash, 16),
    ])
}

/// The start-up check of both splits: every image decoded, sizes, boxes, categories
/// and ids checked before training. It only returns (and so passes) when nothing
/// stops training; what it skipped or clipped is counted here and listed in the
/// report.
pub(crate) fn dataset_checked(summary: &DatasetSummary) -> CheckRow {
    CheckRow::new(
        Stage::Dataset,
        "train and val checked before training",
        true,
        format!(
            "{} train + {} val images decoded and checked in {:.1} s (files, sizes, boxes \
             within {} px, categories, ids); {} image(s) skipped, {} box(es) clipped",
            summary.train.images,
            summary.val.images,
            summary.seconds,
            summary.box_tolerance,
            summary.train.skipped_images + summary.val.skipped_images,
            summary.clipped.len()
        ),
    )
}

/// A user's dataset hashes the same after the runs as before them.
pub(crate) fn user_data_unchanged(dir: &Path, before: &str, after: &str) -> CheckRow {
    CheckRow::new(
        Stage::Dataset,
        "user dataset (--data) unchanged by the suite",
        before == after,
        format!(
            "{}: every file's name and bytes, before and after the runs",
            dir.display()
        ),
    )
    .with_hashes(vec![prefix(before, 16), prefix(after, 16)])
}

fn located(divergence: Option<&Divergence>) -> String {
    divergence
        .map(Divergence::to_string)
        .unwrap_or_else(|| "NOT caught: the runs were equal".into())
}

/// Runs A and B, two processes of the same spec: every fingerprint, the final state,
/// the detections and the mAP must be equal.
pub(crate) fn end_to_end(
    ra: &WorkerResult,
    rb: &WorkerResult,
    trace_a: &[TraceRecord],
    trace_b: &[TraceRecord],
) -> Vec<CheckRow> {
    let divergence = compare_records(trace_a, trace_b);
    let last = trace_a.last().map(|r| r.step).unwrap_or(0);
    let fingerprints = CheckRow::new(
        Stage::EndToEnd,
        "fingerprints at every step",
        divergence.is_none() && !trace_a.is_empty(),
        match &divergence {
            None => format!(
                "{} tensors over steps 0..={last}: batch, forward, loss, gradients, update",
                trace_a.len()
            ),
            Some(d) => d.to_string(),
        },
    )
    .with_hashes(vec![trace_digest(trace_a), trace_digest(trace_b)]);
    let state = |r: &WorkerResult| {
        format!(
            "{}/{}",
            prefix(&r.model_fingerprint, 8),
            prefix(&r.optimizer_fingerprint, 8)
        )
    };
    let weights = CheckRow::new(
        Stage::EndToEnd,
        "final weights and optimizer state",
        ra.model_fingerprint == rb.model_fingerprint
            && ra.optimizer_fingerprint == rb.optimizer_fingerprint,
        "model / optimizer fingerprints",
    )
    .with_hashes(vec![state(ra), state(rb)]);
    let dets = |r: &WorkerResult| {
        r.detections_hash
            .as_deref()
            .map(|h| prefix(h, 16))
            .unwrap_or_default()
    };
    let detections = CheckRow::new(
        Stage::EndToEnd,
        "validation detections",
        ra.detections_hash.is_some() && ra.detections_hash == rb.detections_hash,
        "every box, score and class after NMS, as bits",
    )
    .with_hashes(vec![dets(ra), dets(rb)]);
    let bits = |r: &WorkerResult| {
        r.map_50
            .map(|m| format!("{:016x}", m.to_bits()))
            .unwrap_or_default()
    };
    let map = CheckRow::new(
        Stage::EndToEnd,
        "validation mAP",
        ra.map_50.is_some()
            && ra.map_50.map(f64::to_bits) == rb.map_50.map(f64::to_bits)
            && ra.map.map(f64::to_bits) == rb.map.map(f64::to_bits),
        format!(
            "mAP@0.5 = {:.4} in both, as f64 bits",
            ra.map_50.unwrap_or(f64::NAN)
        ),
    )
    .with_hashes(vec![bits(ra), bits(rb)]);
    vec![fingerprints, weights, detections, map]
}

/// Run C was killed by the suite's SIGKILL after its checkpoint at `kill_at`.
pub(crate) fn killed(kill_at: u64, killed: bool, last_progress: &str) -> CheckRow {
    CheckRow::new(
        Stage::Resume,
        format!("run C killed after its step-{kill_at} checkpoint"),
        killed,
        format!(
            "SIGKILL while training (last progress mark: step {}); the step is drawn from the seed",
            last_progress.trim()
        ),
    )
}

/// Run C resumed from its checkpoint at `kill_at` equals run A from there on.
pub(crate) fn resumed(
    kill_at: u64,
    ra: &WorkerResult,
    rc: &WorkerResult,
    trace_a: &[TraceRecord],
    trace_c: &[TraceRecord],
) -> Vec<CheckRow> {
    let tail_a = steps_from(trace_a, kill_at);
    let divergence = compare_records(&tail_a, trace_c);
    let fingerprints = CheckRow::new(
        Stage::Resume,
        format!("fingerprints of steps {kill_at}.. after resume"),
        divergence.is_none() && !trace_c.is_empty() && rc.start_step == kill_at,
        match &divergence {
            None => format!(
                "resumed at step {}, {} tensors equal to run A's",
                rc.start_step,
                trace_c.len()
            ),
            Some(d) => d.to_string(),
        },
    )
    .with_hashes(vec![trace_digest(&tail_a), trace_digest(trace_c)]);
    let end = CheckRow::new(
        Stage::Resume,
        "final weights, optimizer, detections",
        rc.model_fingerprint == ra.model_fingerprint
            && rc.optimizer_fingerprint == ra.optimizer_fingerprint
            && rc.detections_hash == ra.detections_hash
            && rc
                .losses
                .iter()
                .map(|l| l.to_bits())
                .eq(ra.losses.iter().map(|l| l.to_bits())),
        "and the loss of every step, as bits",
    )
    .with_hashes(vec![
        prefix(&ra.model_fingerprint, 16),
        prefix(&rc.model_fingerprint, 16),
    ]);
    vec![fingerprints, end]
}

/// Whether a divergence is in a tensor's values (not its shape, dtype or place).
fn in_values(d: &Divergence) -> bool {
    d.what == Difference::Values
}

/// Another seed: caught at step 0, in values.
pub(crate) fn another_seed(divergence: Option<&Divergence>) -> CheckRow {
    CheckRow::new(
        Stage::Control,
        "another seed diverges",
        divergence.is_some_and(|d| d.step == 0 && in_values(d)),
        located(divergence),
    )
}

/// The data order perturbed at `step`: caught there, in the batch's inputs.
pub(crate) fn data_order(step: u64, divergence: Option<&Divergence>) -> CheckRow {
    CheckRow::new(
        Stage::Control,
        format!("data order perturbed at step {step}"),
        divergence
            .is_some_and(|d| d.step == step && d.phase == Phase::Batch && d.tensor == "inputs"),
        located(divergence),
    )
}

/// Weight init reseeded from the clock: caught at step 0 in a module's forward output.
pub(crate) fn clock_init(divergence: Option<&Divergence>) -> CheckRow {
    CheckRow::new(
        Stage::Control,
        "weight init reseeded from the clock",
        divergence
            .is_some_and(|d| d.step == 0 && d.phase == Phase::Forward && !d.module.is_empty()),
        located(divergence),
    )
}

/// The reference run's validation mAP: the 0.5 bar on the full built-in run, reported
/// only otherwise.
pub(crate) fn quality(options: &Options, ra: &WorkerResult) -> CheckRow {
    let m = ra.map_50.unwrap_or(f64::NAN);
    if options.quick || options.data.is_some() {
        // The 0.5 bar belongs to the full run on the built-in set; here the mAP is
        // only reported, and the row says so.
        CheckRow::new(
            Stage::Quality,
            "validation mAP reported (bar not applied)",
            ra.map_50.is_some_and(f64::is_finite),
            format!(
                "mAP@0.5 = {m:.3}; the 0.5 bar applies to the full run on the built-in set{}",
                if options.quick {
                    ", not to --quick"
                } else {
                    ", not to --data"
                }
            ),
        )
    } else {
        CheckRow::new(
            Stage::Quality,
            "validation mAP@0.5 >= 0.5",
            m >= 0.5,
            format!(
                "mAP@0.5 = {m:.3} (bar 0.5), mAP@0.5:0.95 = {:.3}",
                ra.map.unwrap_or(f64::NAN)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use lockstep_nn::Fingerprint;

    use super::*;

    fn record(step: u64, phase: Phase, module: &str, tensor: &str, fp: u8) -> TraceRecord {
        TraceRecord {
            step,
            phase,
            module: module.into(),
            tensor: tensor.into(),
            dtype: "f32".into(),
            shape: vec![2],
            fp: Fingerprint([fp; 32]),
            values: None,
        }
    }

    /// A two-step trace; `changed` gives the record whose fingerprint differs.
    fn trace(changed: Option<usize>) -> Vec<TraceRecord> {
        let mut t = vec![
            record(0, Phase::Batch, "", "inputs", 1),
            record(0, Phase::Forward, "block1", "output", 2),
            record(1, Phase::Batch, "", "inputs", 3),
            record(1, Phase::Forward, "block1", "output", 4),
        ];
        if let Some(k) = changed {
            t[k].fp = Fingerprint([99; 32]);
        }
        t
    }

    #[test]
    fn each_control_passes_only_where_its_change_was_injected() {
        let reference = trace(None);
        let at = |k| compare_records(&reference, &trace(Some(k)));
        // The data order at step 1: the batch's inputs of step 1.
        assert!(data_order(1, at(2).as_ref()).pass);
        assert!(!data_order(1, at(3).as_ref()).pass, "a forward output");
        assert!(!data_order(0, at(2).as_ref()).pass, "another step");
        // The clock-seeded init: a module's forward output at step 0.
        assert!(clock_init(at(1).as_ref()).pass);
        assert!(!clock_init(at(0).as_ref()).pass, "the batch, not a module");
        // Another seed: values at step 0.
        assert!(another_seed(at(0).as_ref()).pass);
        assert!(!another_seed(at(2).as_ref()).pass);
        // Equal runs: no control passes, and the row says it was not caught.
        for row in [another_seed(None), data_order(1, None), clock_init(None)] {
            assert!(!row.pass && row.detail.starts_with("NOT caught"), "{row:?}");
        }
        // A caught divergence is described by nn's own Display.
        let d = at(2).unwrap();
        assert_eq!(data_order(1, Some(&d)).detail, d.to_string());
    }

    #[test]
    fn a_trace_that_ends_early_is_not_a_value_divergence() {
        let reference = trace(None);
        let d = compare_records(&reference[..1], &reference);
        assert!(!another_seed(d.as_ref()).pass);
    }
}
