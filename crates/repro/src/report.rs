//! The suite's report: `report.json` for machines, `report.md` for people.

use std::fmt::Write as _;
use std::path::Path;

use lockstep_nn::DeterminismReport;
use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::stages::CheckRow;

/// Everything the suite found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The options it ran with.
    pub options: Options,
    /// The environment fingerprint.
    pub environment: Environment,
    /// The determinism switch's settings, read back in the first training process.
    pub determinism: Option<DeterminismReport>,
    /// Every check, in order; the `stage` names the section.
    pub rows: Vec<CheckRow>,
    /// Validation mAP@0.5 of the reference run.
    pub map_50: Option<f64>,
    /// Validation mAP@0.5:0.95 of the reference run.
    pub map: Option<f64>,
    /// Training steps per second of the reference run (strict mode), measured while run
    /// B trained alongside it, as the suite runs them.
    pub steps_per_second: Option<f64>,
    /// Seconds per phase of the suite.
    pub timings: Vec<(String, f64)>,
    /// Whether every check passed.
    pub passed: bool,
}

impl Report {
    /// Writes `report.json` and `report.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = dir.join("report.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        std::fs::write(&json, text).map_err(|e| Error::io(&json, e))?;
        let md = dir.join("report.md");
        std::fs::write(&md, self.markdown()).map_err(|e| Error::io(&md, e))?;
        Ok(())
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "# lockstep reproducibility report: {verdict}\n");
        let o = &self.options;
        let _ = writeln!(
            out,
            "seed {}, {} steps, {} intra-op thread(s) per process, device {:?}{}\n",
            o.seed,
            o.steps(),
            o.threads,
            o.device,
            if o.quick { ", quick mode" } else { "" }
        );
        let _ = writeln!(out, "| section | check | result | hashes | detail |");
        let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.stage,
                row.check,
                if row.pass { "PASS" } else { "**FAIL**" },
                row.hashes.join(" "),
                row.detail.replace('|', "\\|")
            );
        }
        if let Some(m) = self.map_50 {
            let _ = writeln!(
                out,
                "\nValidation mAP@0.5 = {m:.3}, mAP@0.5:0.95 = {:.3}.",
                self.map.unwrap_or(f64::NAN)
            );
        }
        if let Some(s) = self.steps_per_second {
            let _ = writeln!(out, "Training speed of the reference run: {s:.1} steps/s.");
        }
        let e = &self.environment;
        let _ = writeln!(out, "\n## Environment\n");
        let _ = writeln!(out, "| what | value |\n| --- | --- |");
        for (k, v) in [
            ("lockstep", e.lockstep.clone()),
            ("rustc", e.rustc.clone()),
            ("tch", e.tch.clone()),
            ("build profile", e.profile.clone()),
            ("OS and architecture", e.os_arch.clone()),
            ("CPU", e.cpu_model.clone()),
            ("hardware threads", e.available_threads.to_string()),
        ] {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        if let Some(d) = &self.determinism {
            let _ = writeln!(out, "\n## Determinism switch (read back from libtorch)\n");
            let _ = writeln!(out, "| setting | value |\n| --- | --- |");
            let cuda = d
                .cuda
                .as_ref()
                .map(|c| {
                    format!(
                        "{} device(s), runtime {}, cuDNN {}",
                        c.devices, c.runtime_version, c.cudnn_version
                    )
                })
                .unwrap_or_else(|| "none".into());
            for (k, v) in [
                ("libtorch", d.libtorch_version.clone()),
                ("CUDA", cuda),
                (
                    "deterministic algorithms",
                    d.deterministic_algorithms.to_string(),
                ),
                ("warn only", d.deterministic_warn_only.to_string()),
                ("cuDNN deterministic", d.cudnn_deterministic.to_string()),
                ("cuDNN benchmark", d.cudnn_benchmark.to_string()),
                (
                    "TF32 cuBLAS / cuDNN / oneDNN",
                    format!(
                        "{} / {} / {}",
                        d.allow_tf32_cublas, d.allow_tf32_cudnn, d.allow_tf32_onednn
                    ),
                ),
                ("oneDNN deterministic", d.mkldnn_deterministic.to_string()),
                (
                    "fill uninitialized memory",
                    d.fill_uninitialized_memory.to_string(),
                ),
                ("intra-op threads", d.intra_op_threads.to_string()),
                ("CPU dispatch level", format!("{:?}", d.cpu_capability)),
                (
                    "CUBLAS_WORKSPACE_CONFIG",
                    d.cublas_workspace_config
                        .clone()
                        .unwrap_or_else(|| "unset".into()),
                ),
            ] {
                let _ = writeln!(out, "| {k} | {v} |");
            }
        }
        let _ = writeln!(out, "\n## Time\n");
        for (phase, seconds) in &self.timings {
            let _ = writeln!(out, "- {phase}: {seconds:.1} s");
        }
        out
    }
}
