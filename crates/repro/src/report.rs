//! The suite's report: `report.json` for machines, `report.md` for people.

use std::fmt::Write as _;
use std::path::Path;

use lockstep_nn::DeterminismReport;
use serde::{Deserialize, Serialize};

use crate::dataset_check::{self, DatasetSummary, SplitSummary};
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
    /// Images per second the reference run's input pipeline delivered (load, decode,
    /// augment, collate: the time spent waiting for batches only).
    #[serde(default)]
    pub input_images_per_second: Option<f64>,
    /// Seconds per phase of the suite.
    pub timings: Vec<(String, f64)>,
    /// Whether every check passed.
    pub passed: bool,
    /// Validation AP of the reference run per class, by name.
    #[serde(default)]
    pub per_class: Vec<ClassApRow>,
    /// What the data is: the start-up check's summary of both splits.
    #[serde(default)]
    pub dataset: Option<DatasetSummary>,
}

/// One class's validation AP in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassApRow {
    /// The category's name.
    pub name: String,
    /// Its COCO category id.
    pub category_id: u64,
    /// Validation boxes of it (crowd regions not counted).
    pub ground_truth: u64,
    /// Its crowd regions.
    pub crowd: u64,
    /// AP at IoU 0.5.
    pub ap_50: f64,
    /// AP over IoU 0.5:0.95.
    pub ap: f64,
}

/// The rows of `per_class` with names from `classes` (the training split's numbering).
///
/// ```
/// use lockstep_repro::report::per_class_rows;
/// let json = br#"{"images": [], "categories": [{"id": 3, "name": "cat"}]}"#;
/// let annotations =
///     lockstep_data::CocoAnnotations::from_json_slice(json, "x.json".as_ref(), Default::default())?;
/// let classes = lockstep_data::ClassMap::new(annotations.categories())?;
/// assert!(per_class_rows(&[], &classes).is_empty());
/// # Ok::<(), lockstep_data::Error>(())
/// ```
pub fn per_class_rows(
    per_class: &[lockstep_postprocess::ClassAp],
    classes: &lockstep_data::ClassMap,
) -> Vec<ClassApRow> {
    per_class
        .iter()
        .map(|c| {
            let category = classes.category(c.class);
            ClassApRow {
                name: category
                    .map(|k| k.name.clone())
                    .unwrap_or_else(|| c.class.to_string()),
                category_id: category.map(|k| k.id).unwrap_or(u64::from(c.class.0)),
                ground_truth: c.num_ground_truth,
                crowd: c.num_crowd,
                ap_50: c.ap_50,
                ap: c.ap,
            }
        })
        .collect()
}

/// The mAP@0.5 under which the report suggests more steps or a larger input.
const LOW_MAP: f64 = 0.5;

/// The dataset section of `report.md`.
fn dataset_markdown(out: &mut String, d: &DatasetSummary, input_size: u32) {
    let _ = writeln!(
        out,
        "## Dataset
"
    );
    let _ = writeln!(
        out,
        "| | train | val |
| --- | --- | --- |"
    );
    let both = |f: &dyn Fn(&SplitSummary) -> String| (f(&d.train), f(&d.val));
    let rows: Vec<(&str, (String, String))> = vec![
        (
            "annotations",
            both(&|s| s.annotations.display().to_string()),
        ),
        ("images", both(&|s| s.images.to_string())),
        (
            "images without boxes",
            both(&|s| s.empty_images.to_string()),
        ),
        (
            "boxes (crowd regions)",
            both(&|s| format!("{} ({})", s.boxes, s.crowd_boxes)),
        ),
        (
            "boxes per class",
            both(&|s| {
                s.per_class
                    .iter()
                    .map(|c| format!("{} (id {}): {}", c.name, c.category_id, c.boxes))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ),
        (
            "image modes",
            both(&|s| {
                s.modes
                    .iter()
                    .map(|(m, n)| format!("{}: {n}", m.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ),
        ("image sizes", both(&dataset_check::size_range)),
        (
            "boxes clipped within the tolerance",
            both(&|s| s.nudged_boxes.to_string()),
        ),
        ("images skipped", both(&|s| s.skipped_images.to_string())),
    ];
    for (what, (train, val)) in rows {
        let _ = writeln!(
            out,
            "| {what} | {} | {} |",
            train.replace('|', "\\|"),
            val.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        out,
        "
Every image is decoded to 8-bit RGB (grey replicated to three channels, alpha \
         dropped, palettes expanded, 16-bit scaled) and resized to {input_size}x{input_size} \
         for the model, with its aspect ratio not kept: a wider or taller image is squeezed \
         (`--input-size` sets the side). Boxes may reach {} px beyond their image (clipped); \
         beyond that a box is a problem (`--clip-boxes` clips it, listed below). The check \
         decoded every image in {:.1} s.",
        d.box_tolerance, d.seconds
    );
    if !d.skipped.is_empty() {
        let _ = writeln!(
            out,
            "
Left out (`--on-bad-sample skip`), {} problem(s):
",
            d.skipped.len()
        );
        for p in &d.skipped {
            let _ = writeln!(out, "- {p}");
        }
    }
    if !d.clipped.is_empty() {
        let _ = writeln!(
            out,
            "
Clipped to their image (`--clip-boxes`):
"
        );
        for c in &d.clipped {
            let _ = writeln!(
                out,
                "- {}: {} (image {}, annotation {}): {:?} -> {:?}",
                c.split,
                c.file.display(),
                c.image_id,
                c.annotation_id,
                c.before,
                c.after
            );
        }
    }
    let _ = writeln!(out);
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
        if let Some(d) = &self.dataset {
            dataset_markdown(&mut out, d, o.input_size);
        }
        let _ = writeln!(out, "## Checks\n");
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
        self.quality_markdown(&mut out);
        if let Some(s) = self.steps_per_second {
            let _ = writeln!(out, "Training speed of the reference run: {s:.1} steps/s.");
        }
        if let Some(s) = self.input_images_per_second {
            let _ = writeln!(
                out,
                "Input pipeline of the reference run (load, decode, augment, collate): \
                 {s:.0} images/s."
            );
        }
        let _ = writeln!(out, "\n## Pictures\n");
        let _ = writeln!(
            out,
            "- [detections.png](detections.png): the first validation images with their \
             ground truth (thin white boxes) and run A's detections scoring at least {:.2} \
             (boxes in a colour per class, labelled with class name and score).",
            crate::draw::DRAWN_SCORE
        );
        let _ = writeln!(
            out,
            "- [loss.svg](loss.svg): the training loss of run A, run B (another process) and \
             run C (killed and resumed), overlaid: one line when the runs are reproducible."
        );
        let _ = writeln!(
            out,
            "- [controls.svg](controls.svg): the negative controls' losses against run A; \
             the marked step is where the data order was perturbed."
        );
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
            ("MPI", e.mpi.clone()),
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

impl Report {
    /// The quality section: mAP, AP per class by name, and what the figure means.
    fn quality_markdown(&self, out: &mut String) {
        let Some(m) = self.map_50 else {
            return;
        };
        let _ = writeln!(out, "\n## Quality\n");
        let _ = writeln!(
            out,
            "Validation mAP@0.5 = {m:.3}, mAP@0.5:0.95 = {:.3} (COCO's recipe, crowd \
             regions ignored as pycocotools ignores them).\n",
            self.map.unwrap_or(f64::NAN)
        );
        if !self.per_class.is_empty() {
            let _ = writeln!(
                out,
                "| class | category id | val boxes | crowd | AP@0.5 | AP@0.5:0.95 |\n\
                 | --- | --- | --- | --- | --- | --- |"
            );
            for c in &self.per_class {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.3} | {:.3} |",
                    c.name.replace('|', "\\|"),
                    c.category_id,
                    c.ground_truth,
                    c.crowd,
                    c.ap_50,
                    c.ap
                );
            }
            let _ = writeln!(out);
        }
        let o = &self.options;
        let _ = writeln!(
            out,
            "What the figure means: the model (a small fixed CNN, `TinyDetector`), its input \
             size ({side}x{side}) and the training schedule ({} steps) are fixed by the suite, \
             which checks that training is reproducible, not that it is accurate. The 0.5 bar \
             applies only to the full run on the built-in set.",
            o.steps(),
            side = o.input_size
        );
        if m < LOW_MAP {
            let _ = writeln!(
                out,
                "\nThe figure is low. For a better one on your data, train longer \
                 (`--steps {}`) or on larger inputs (`--input-size {}`, small objects vanish \
                 at {}x{}); both keep every reproducibility check meaningful.",
                o.steps().saturating_mul(4),
                (o.input_size * 2).min(crate::options::MAX_INPUT_SIZE),
                o.input_size,
                o.input_size
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset_check::{CheckConfig, ClassCount, ImageMode};
    use lockstep_core::ImageSize;

    fn split(images: u64) -> SplitSummary {
        SplitSummary {
            annotations: "train/instances.json".into(),
            images,
            boxes: 5,
            crowd_boxes: 1,
            per_class: vec![ClassCount {
                category_id: 17,
                name: "seven".into(),
                boxes: 5,
            }],
            empty_images: 2,
            modes: vec![(ImageMode::Rgb, 3), (ImageMode::Palette, images - 3)],
            min_size: Some(ImageSize::new(64, 70)),
            max_size: Some(ImageSize::new(160, 150)),
            nudged_boxes: 0,
            skipped_images: 0,
        }
    }

    fn report(map_50: f64) -> Report {
        Report {
            options: Options::default(),
            environment: Environment::current(),
            determinism: None,
            rows: Vec::new(),
            map_50: Some(map_50),
            map: Some(map_50 / 2.0),
            steps_per_second: None,
            input_images_per_second: None,
            timings: Vec::new(),
            passed: true,
            per_class: vec![ClassApRow {
                name: "seven".into(),
                category_id: 17,
                ground_truth: 4,
                crowd: 1,
                ap_50: map_50,
                ap: map_50 / 2.0,
            }],
            dataset: Some(DatasetSummary {
                train: split(10),
                val: split(4),
                class_names: vec!["seven".into()],
                config: CheckConfig::default(),
                box_tolerance: 1.0,
                skipped: Vec::new(),
                clipped: Vec::new(),
                seconds: 0.5,
            }),
        }
    }

    #[test]
    fn the_markdown_opens_with_the_dataset_and_links_the_pictures() {
        let md = report(0.9).markdown();
        let dataset = md.find("## Dataset").expect("a dataset section");
        assert!(dataset < md.find("## Checks").expect("a checks section"));
        for needle in [
            "| images | 10 | 4 |",
            "seven (id 17): 5",
            "palette (expanded to RGB): 7",
            "64..160 wide, 70..150 high",
            "resized to 96x96",
            "aspect ratio not kept",
            "| seven | 17 | 4 | 1 | 0.900 | 0.450 |",
            "[detections.png](detections.png)",
            "[loss.svg](loss.svg)",
            "[controls.svg](controls.svg)",
            "reproducible, not that it is accurate",
            "at least 0.30",
        ] {
            assert!(md.contains(needle), "no `{needle}` in\n{md}");
        }
        assert!(!md.contains("The figure is low"));
        let low = report(0.1).markdown();
        assert!(
            low.contains("--steps 1200") && low.contains("--input-size 192"),
            "{low}"
        );
    }

    #[test]
    fn the_input_pipelines_rate_is_reported_when_measured() {
        let mut r = report(0.9);
        assert!(!r.markdown().contains("images/s"));
        r.input_images_per_second = Some(1234.4);
        assert!(r.markdown().contains("1234 images/s"), "{}", r.markdown());
    }
}
