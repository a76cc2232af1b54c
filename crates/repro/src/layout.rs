//! Every file of a suite run, named once.
//!
//! ```text
//! <out>/                     Layout (owned: holds the suite's marker)
//!   report.json report.md loss.svg controls.svg detections.png dataset-problems.txt
//!   data/ data-again/        the built-in set and its second generation (owned)
//!     {train,val}/{images/,instances.json}   DataPaths
//!   runs/                    (owned)
//!     <run>/                 RunFiles, one per worker attempt
//!       spec.json log.txt trace.jsonl result.json
//!       spec-resumed.json log-resumed.txt trace-resumed.jsonl result-resumed.json
//!       progress checkpoints/LATEST
//! ```
//!
//! Folders marked owned carry [`crate::owned::MARKER`]; only those are ever replaced.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The files of one `--out` folder.
///
/// ```
/// use lockstep_repro::layout::Layout;
/// let layout = Layout::new("/tmp/repro");
/// assert!(layout.run("run-a").ends_with("runs/run-a"));
/// assert!(layout.report_md().ends_with("report.md"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    out: PathBuf,
}

impl Layout {
    /// The layout of the folder `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self { out: out.into() }
    }

    /// The `--out` folder itself.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// The folder of every worker's run folder.
    pub fn runs(&self) -> PathBuf {
        self.out.join("runs")
    }

    /// The folder of the run called `name`.
    pub fn run(&self, name: &str) -> PathBuf {
        self.runs().join(name)
    }

    /// Where the built-in dataset is generated.
    pub fn data(&self) -> PathBuf {
        self.out.join("data")
    }

    /// Where the built-in dataset is generated a second time, to compare (removed
    /// after the comparison).
    pub fn data_again(&self) -> PathBuf {
        self.out.join("data-again")
    }

    /// The folders under `out` that a run replaces: `runs/`, and `data/` and
    /// `data-again/` when the suite generates the built-in set.
    pub fn owned_folders(&self, built_in_data: bool) -> Vec<PathBuf> {
        let mut dirs = vec![self.runs()];
        if built_in_data {
            dirs.extend([self.data(), self.data_again()]);
        }
        dirs
    }

    /// The report for machines.
    pub fn report_json(&self) -> PathBuf {
        self.out.join("report.json")
    }

    /// The report for people.
    pub fn report_md(&self) -> PathBuf {
        self.out.join("report.md")
    }

    /// The runs' loss curves.
    pub fn loss_svg(&self) -> PathBuf {
        self.out.join("loss.svg")
    }

    /// The controls' loss curves.
    pub fn controls_svg(&self) -> PathBuf {
        self.out.join("controls.svg")
    }

    /// The validation images with ground truth and detections.
    pub fn detections_png(&self) -> PathBuf {
        self.out.join("detections.png")
    }

    /// Every problem the start-up dataset check found, one a line (written only when
    /// it found some).
    pub fn dataset_problems(&self) -> PathBuf {
        self.out.join("dataset-problems.txt")
    }
}

/// Where a COCO dataset's two splits are.
///
/// ```
/// use lockstep_repro::layout::DataPaths;
/// let paths = DataPaths::under("my-coco".as_ref());
/// assert!(paths.val_instances.ends_with("val/instances.json"));
/// ```
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

/// Which process of a run: the first, or the one that resumed it from its checkpoint.
/// Each has its own spec, log, trace and result file in the run's folder.
///
/// ```
/// use lockstep_repro::layout::Attempt;
/// assert_eq!(Attempt::resuming(true), Attempt::Resumed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// The run's first process.
    First,
    /// The process that resumed from the run's checkpoint.
    Resumed,
}

impl Attempt {
    /// `Resumed` when `resume` is set (a worker spec's `resume` field).
    pub fn resuming(resume: bool) -> Self {
        if resume {
            Self::Resumed
        } else {
            Self::First
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::First => "",
            Self::Resumed => "-resumed",
        }
    }
}

/// The files of one attempt in a run's folder.
///
/// ```
/// use lockstep_repro::layout::{Attempt, RunFiles};
/// let files = RunFiles::new("runs/run-c", Attempt::Resumed);
/// assert!(files.trace().ends_with("trace-resumed.jsonl"));
/// assert!(files.latest_checkpoint().ends_with("checkpoints/LATEST"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFiles {
    dir: PathBuf,
    attempt: Attempt,
}

impl RunFiles {
    /// The files of `attempt` in the run folder `dir`.
    pub fn new(dir: impl Into<PathBuf>, attempt: Attempt) -> Self {
        Self {
            dir: dir.into(),
            attempt,
        }
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Which attempt these files belong to.
    pub fn attempt(&self) -> Attempt {
        self.attempt
    }

    fn named(&self, stem: &str, extension: &str) -> PathBuf {
        self.dir
            .join(format!("{stem}{}.{extension}", self.attempt.suffix()))
    }

    /// The worker's spec, as the suite wrote it.
    pub fn spec(&self) -> PathBuf {
        self.named("spec", "json")
    }

    /// The worker's standard output and error.
    pub fn log(&self) -> PathBuf {
        self.named("log", "txt")
    }

    /// The fingerprint trace.
    pub fn trace(&self) -> PathBuf {
        self.named("trace", "jsonl")
    }

    /// The worker's result.
    pub fn result(&self) -> PathBuf {
        self.named("result", "json")
    }

    /// The last finished step, rewritten as training goes (shared by both attempts).
    pub fn progress(&self) -> PathBuf {
        self.dir.join("progress")
    }

    /// The checkpoint folder (shared by both attempts: the second resumes from it).
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// The checkpoint folder's pointer to its latest checkpoint, renamed into place
    /// last: once it exists, a checkpoint is complete.
    pub fn latest_checkpoint(&self) -> PathBuf {
        self.checkpoints().join(lockstep_nn::checkpoint::LATEST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_attempts_of_a_run_share_only_progress_and_checkpoints() {
        let first = RunFiles::new("r", Attempt::First);
        let resumed = RunFiles::new("r", Attempt::Resumed);
        for (a, b) in [
            (first.spec(), resumed.spec()),
            (first.log(), resumed.log()),
            (first.trace(), resumed.trace()),
            (first.result(), resumed.result()),
        ] {
            assert_ne!(a, b);
        }
        assert_eq!(first.progress(), resumed.progress());
        assert_eq!(first.checkpoints(), resumed.checkpoints());
        // The names earlier runs wrote, kept.
        assert_eq!(first.trace(), Path::new("r/trace.jsonl"));
        assert_eq!(resumed.result(), Path::new("r/result-resumed.json"));
        assert_eq!(resumed.log(), Path::new("r/log-resumed.txt"));
        assert_eq!(first.spec(), Path::new("r/spec.json"));
    }
}
