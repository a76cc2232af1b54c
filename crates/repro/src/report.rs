//! The suite's report: `report.json` for machines, `report.md` for people.

use std::fmt::Write as _;
use std::path::Path;

use lockstep_nn::DeterminismReport;
use serde::{Deserialize, Serialize};

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::options::Options;

/// The section of the report a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Stage {
    /// The dataset: generated twice, pinned, or the user's left unchanged.
    #[serde(rename = "dataset")]
    Dataset,
    /// The seed tree's vectors.
    #[serde(rename = "seeding")]
    Seeding,
    /// Data order, resume and shards.
    #[serde(rename = "data")]
    Data,
    /// Augmentation on several threads, and replay.
    #[serde(rename = "augment")]
    Augment,
    /// NMS.
    #[serde(rename = "postprocess")]
    Postprocess,
    /// Two training processes compared.
    #[serde(rename = "end to end")]
    EndToEnd,
    /// A killed run resumed.
    #[serde(rename = "resume")]
    Resume,
    /// A negative control: it passes when the suite catches the injected change.
    #[serde(rename = "control")]
    Control,
    /// Validation mAP.
    #[serde(rename = "quality")]
    Quality,
}

impl Stage {
    /// The name in the report (as in `report.json`).
    ///
    /// ```
    /// use lockstep_repro::report::Stage;
    /// assert_eq!(Stage::EndToEnd.name(), "end to end");
    /// assert_eq!(serde_json::to_string(&Stage::EndToEnd)?, "\"end to end\"");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Self::Dataset => "dataset",
            Self::Seeding => "seeding",
            Self::Data => "data",
            Self::Augment => "augment",
            Self::Postprocess => "postprocess",
            Self::EndToEnd => "end to end",
            Self::Resume => "resume",
            Self::Control => "control",
            Self::Quality => "quality",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One row of the report: a check, the hashes it compared, and its verdict.
///
/// ```
/// use lockstep_repro::report::{CheckRow, Stage};
/// let row = CheckRow::equal(Stage::Data, "order", vec!["ab".into(), "ab".into()], "n = 2");
/// assert!(row.pass);
/// let row = CheckRow::new(Stage::Quality, "mAP reported", false, "no mAP");
/// assert!(!row.pass && row.hashes.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckRow {
    /// The section.
    pub stage: Stage,
    /// What was checked.
    pub check: String,
    /// The hashes compared (equal when the check passes, unless it is a control).
    pub hashes: Vec<String>,
    /// Whether the promise held.
    pub pass: bool,
    /// What was compared, or what went wrong.
    pub detail: String,
}

impl CheckRow {
    /// A row with its verdict and no hashes.
    pub fn new(
        stage: Stage,
        check: impl Into<String>,
        pass: bool,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            stage,
            check: check.into(),
            hashes: Vec::new(),
            pass,
            detail: detail.into(),
        }
    }

    /// The row with the hashes it compared.
    pub fn with_hashes(mut self, hashes: Vec<String>) -> Self {
        self.hashes = hashes;
        self
    }

    /// A row that passes when all `hashes` are equal.
    pub fn equal(
        stage: Stage,
        check: impl Into<String>,
        hashes: Vec<String>,
        detail: impl Into<String>,
    ) -> Self {
        let pass = hashes.windows(2).all(|w| w[0] == w[1]);
        Self::new(stage, check, pass, detail).with_hashes(hashes)
    }

    /// A failed row for a check that could not run.
    pub fn failed(stage: Stage, check: impl Into<String>, error: &dyn std::fmt::Display) -> Self {
        Self::new(stage, check, false, format!("error: {error}"))
    }

    /// [`CheckRow::equal`] on the hashes a check computed, or [`CheckRow::failed`] when
    /// it could not compute them.
    pub fn from_hashes(
        stage: Stage,
        check: impl Into<String>,
        detail: impl Into<String>,
        hashes: Result<Vec<String>>,
    ) -> Self {
        match hashes {
            Ok(hashes) => Self::equal(stage, check, hashes, detail),
            Err(e) => Self::failed(stage, check, &e),
        }
    }
}

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
    ///
    /// ```no_run
    /// # fn demo(report: &lockstep_repro::report::Report) -> lockstep_repro::Result<()> {
    /// report.write("target/repro".as_ref())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn write(&self, dir: &Path) -> Result<()> {
        let layout = Layout::new(dir);
        let json = layout.report_json();
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::json(&json, e))?;
        std::fs::write(&json, text).map_err(|e| Error::io(&json, e))?;
        let md = layout.report_md();
        std::fs::write(&md, self.markdown()).map_err(|e| Error::io(&md, e))?;
        Ok(())
    }

    /// The report as Markdown.
    ///
    /// ```no_run
    /// let text = std::fs::read_to_string("target/repro/report.json")?;
    /// let report: lockstep_repro::report::Report = serde_json::from_str(&text)?;
    /// assert!(report.markdown().starts_with("# lockstep reproducibility report"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
