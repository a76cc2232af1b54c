//! The suite's command-line options.

use std::path::PathBuf;

use lockstep_nn::DeviceConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod cli;

/// The fewest steps: the suite kills a run between step 1 and the last but one.
pub(crate) const MIN_STEPS: u64 = 4;
/// The most steps a run may take (far beyond any useful suite).
pub(crate) const MAX_STEPS: u64 = 10_000_000;
/// The most libtorch threads per process.
pub(crate) const MAX_THREADS: u32 = 1024;

/// Options of `lockstep-repro`: parsed from a command line by [`Options::parse`], or
/// built in code from `Options::default()` and checked by [`Options::validate`].
///
/// ```
/// use lockstep_repro::options::Options;
/// let options = Options::parse(&["--quick".into(), "--seed".into(), "7".into()])?;
/// assert_eq!((options.seed, options.steps()), (7, 40));
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
///
/// In code:
///
/// ```
/// use lockstep_repro::options::Options;
/// let options = Options::default().with_quick(true).with_out("/tmp/repro".into());
/// options.validate()?;
/// assert!(options.clone().with_threads(0).validate().is_err());
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Options {
    /// `--device cpu|cuda` (`cuda` is CUDA device 0).
    pub device: DeviceConfig,
    /// `--seed N`: the root seed.
    pub seed: u64,
    /// `--steps N`: training steps per run (a default per mode when absent).
    pub steps: Option<u64>,
    /// `--threads N`: libtorch intra-op threads per training process.
    pub threads: u32,
    /// `--data DIR`: a COCO dataset (`DIR/train/{images,instances.json}`,
    /// `DIR/val/{images,instances.json}`) instead of the built-in one.
    pub data: Option<PathBuf>,
    /// `--out DIR`: where reports, plots and runs go.
    pub out: PathBuf,
    /// `--quick`: a short run of the same path, for tests and CI.
    pub quick: bool,
    /// `--train-annotations PATH`: the training split's annotation file (default
    /// `DIR/train/instances.json`); only with `--data`.
    #[serde(default)]
    pub train_annotations: Option<PathBuf>,
    /// `--val-annotations PATH`: the validation split's annotation file (default
    /// `DIR/val/instances.json`); only with `--data`.
    #[serde(default)]
    pub val_annotations: Option<PathBuf>,
    /// `--on-bad-sample fail|skip`: what the start-up dataset check does with an image
    /// that has a problem.
    #[serde(default)]
    pub on_bad_sample: crate::dataset_check::OnBadSample,
    /// `--clip-boxes`: clip boxes beyond the tolerance to their image (and list them).
    #[serde(default)]
    pub clip_boxes: bool,
    /// `--input-size N`: the square side every image is resized to for the model
    /// (default 96, a multiple of 8).
    #[serde(default = "default_input_size")]
    pub input_size: u32,
    /// `--world N`: train runs A, B and C (kill and resume) as `N` MPI ranks, with `N`
    /// micro-batches per step (default 1: one process, undivided steps).
    #[serde(default = "default_world")]
    pub world: u32,
}

fn default_world() -> u32 {
    1
}

/// The most ranks `--world` takes (the suite runs on one machine).
pub(crate) const MAX_WORLD: u32 = 64;

fn default_input_size() -> u32 {
    crate::worker::IMAGE_SIZE
}

impl Default for Options {
    /// What an empty command line gives.
    fn default() -> Self {
        Self {
            device: DeviceConfig::Cpu,
            seed: 0,
            steps: None,
            threads: 1,
            data: None,
            out: PathBuf::from("target/repro"),
            quick: false,
            train_annotations: None,
            val_annotations: None,
            on_bad_sample: crate::dataset_check::OnBadSample::Fail,
            clip_boxes: false,
            input_size: crate::worker::IMAGE_SIZE,
            world: 1,
        }
    }
}

/// What a command line asks for.
///
/// ```
/// use lockstep_repro::options::Command;
/// let args = ["worker".to_string(), "spec.json".to_string()];
/// assert!(matches!(Command::parse(&args)?, Command::Worker { .. }));
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
///
/// Not `#[non_exhaustive]`: the binary matches it exhaustively, so that a new command
/// cannot go unhandled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-h` or `--help` anywhere: print [`usage`].
    Help,
    /// `-V` or `--version`: print [`version`].
    Version,
    /// `worker SPEC.json`: one training run, as the suite starts it.
    Worker {
        /// The worker's spec file.
        spec: PathBuf,
    },
    /// The suite, with these options.
    Suite(Options),
}

impl Command {
    /// Parses the arguments after the program name. Pure: it reads no file and no
    /// environment, and it returns an error (never panics) for any list of strings.
    ///
    /// ```
    /// use lockstep_repro::options::Command;
    /// assert_eq!(Command::parse(&["-h".into()])?, Command::Help);
    /// assert!(Command::parse(&["worker".into()]).is_err());
    /// # Ok::<(), lockstep_repro::Error>(())
    /// ```
    pub fn parse(args: &[String]) -> Result<Self> {
        if args.iter().any(|a| a == "-h" || a == "--help") {
            return Ok(Self::Help);
        }
        if args.first().map(String::as_str) == Some("worker") {
            // Later arguments are ignored, as they always were.
            return match args.get(1) {
                Some(spec) => Ok(Self::Worker {
                    spec: PathBuf::from(spec),
                }),
                None => Err(Error::MissingValue {
                    option: "worker",
                    hint: " (its spec file): lockstep-repro worker SPEC.json",
                }),
            };
        }
        match cli::parse(args)? {
            cli::Parsed::Options(options) => Ok(Self::Suite(options)),
            cli::Parsed::Version => Ok(Self::Version),
        }
    }
}

/// The help text (`--help`), generated by clap from the options' descriptions.
pub fn usage() -> String {
    cli::usage()
}

/// The `--version` line: `lockstep-repro <version>`.
pub fn version() -> String {
    cli::version()
}

impl Options {
    /// Sets [`Self::device`].
    pub fn with_device(mut self, device: DeviceConfig) -> Self {
        self.device = device;
        self
    }
    /// Sets [`Self::seed`].
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets [`Self::steps`].
    pub fn with_steps(mut self, steps: Option<u64>) -> Self {
        self.steps = steps;
        self
    }
    /// Sets [`Self::threads`].
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = threads;
        self
    }
    /// Sets [`Self::data`].
    pub fn with_data(mut self, data: Option<PathBuf>) -> Self {
        self.data = data;
        self
    }
    /// Sets [`Self::out`].
    pub fn with_out(mut self, out: PathBuf) -> Self {
        self.out = out;
        self
    }
    /// Sets [`Self::quick`].
    pub fn with_quick(mut self, quick: bool) -> Self {
        self.quick = quick;
        self
    }
    /// Sets [`Self::train_annotations`].
    pub fn with_train_annotations(mut self, path: Option<PathBuf>) -> Self {
        self.train_annotations = path;
        self
    }
    /// Sets [`Self::val_annotations`].
    pub fn with_val_annotations(mut self, path: Option<PathBuf>) -> Self {
        self.val_annotations = path;
        self
    }
    /// Sets [`Self::on_bad_sample`].
    pub fn with_on_bad_sample(mut self, on_bad_sample: crate::dataset_check::OnBadSample) -> Self {
        self.on_bad_sample = on_bad_sample;
        self
    }
    /// Sets [`Self::clip_boxes`].
    pub fn with_clip_boxes(mut self, clip_boxes: bool) -> Self {
        self.clip_boxes = clip_boxes;
        self
    }
    /// Sets [`Self::input_size`].
    pub fn with_input_size(mut self, input_size: u32) -> Self {
        self.input_size = input_size;
        self
    }
    /// Sets [`Self::world`].
    pub fn with_world(mut self, world: u32) -> Self {
        self.world = world;
        self
    }

    /// The dataset's files: `--data`'s layout with `--train-annotations` and
    /// `--val-annotations` applied, or the built-in set's under `builtin`.
    pub fn data_paths(&self, builtin: &std::path::Path) -> crate::layout::DataPaths {
        let mut paths = crate::layout::DataPaths::under(self.data.as_deref().unwrap_or(builtin));
        if let Some(p) = &self.train_annotations {
            paths.train_instances = p.clone();
        }
        if let Some(p) = &self.val_annotations {
            paths.val_instances = p.clone();
        }
        paths
    }

    /// The start-up dataset check's configuration.
    pub fn check_config(&self) -> crate::dataset_check::CheckConfig {
        crate::dataset_check::CheckConfig::default()
            .with_on_bad_sample(self.on_bad_sample)
            .with_clip_boxes(self.clip_boxes)
    }

    /// Parses the suite's options (the arguments after the program name; see
    /// [`Command::parse`] for `--help` and `worker`). Pure, and never panics.
    ///
    /// ```
    /// use lockstep_repro::options::Options;
    /// let options = Options::parse(&["--steps".into(), "50".into()])?;
    /// assert_eq!(options.steps(), 50);
    /// let err = Options::parse(&["--steps".into(), "2".into()]).unwrap_err();
    /// assert!(err.to_string().contains("--steps"));
    /// # Ok::<(), lockstep_repro::Error>(())
    /// ```
    pub fn parse(args: &[String]) -> Result<Self> {
        match cli::parse(args)? {
            cli::Parsed::Options(options) => Ok(options),
            cli::Parsed::Version => Err(Error::UnknownOption {
                option: "--version".into(),
            }),
        }
    }

    /// Checks what `parse` checks, for options built in code.
    ///
    /// ```
    /// use lockstep_repro::options::Options;
    /// assert!(Options::default().validate().is_ok());
    /// assert!(Options::default().with_steps(Some(3)).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if let Some(steps) = self.steps {
            check_steps("--steps", steps)?;
        }
        check_threads("--threads", self.threads)?;
        check_input_size("--input-size", self.input_size)?;
        if !(1..=MAX_WORLD).contains(&self.world) {
            return Err(Error::out_of_range(
                "--world",
                u64::from(self.world),
                1,
                u64::from(MAX_WORLD),
            ));
        }
        if self.data.is_none() {
            for (option, given) in [
                ("--train-annotations", &self.train_annotations),
                ("--val-annotations", &self.val_annotations),
            ] {
                if let Some(path) = given {
                    return Err(Error::InvalidValue {
                        option,
                        value: path.display().to_string(),
                        expected: "a path, with --data (the built-in set has its own)",
                    });
                }
            }
        }
        Ok(())
    }

    /// The training steps per run: `--steps`, or 300 (40 with `--quick`).
    ///
    /// ```
    /// use lockstep_repro::options::Options;
    /// assert_eq!(Options::default().steps(), 300);
    /// assert_eq!(Options::default().with_quick(true).steps(), 40);
    /// ```
    pub fn steps(&self) -> u64 {
        self.steps.unwrap_or(if self.quick { 40 } else { 300 })
    }
}

/// `steps` (of `what`) in `MIN_STEPS..=MAX_STEPS`.
pub(crate) fn check_steps(what: &str, steps: u64) -> Result<()> {
    if !(MIN_STEPS..=MAX_STEPS).contains(&steps) {
        return Err(Error::out_of_range(what, steps, MIN_STEPS, MAX_STEPS));
    }
    Ok(())
}

/// The largest `--input-size` (a larger input would not train in a suite's time).
pub(crate) const MAX_INPUT_SIZE: u32 = 1024;

/// `size` (of `what`): a multiple of 8 (the detector's stride) in `8..=MAX_INPUT_SIZE`.
pub(crate) fn check_input_size(what: &str, size: u32) -> Result<()> {
    if !(8..=MAX_INPUT_SIZE).contains(&size) || size % 8 != 0 {
        return Err(Error::out_of_range(
            format!("{what} (a multiple of 8)"),
            u64::from(size),
            8,
            u64::from(MAX_INPUT_SIZE),
        ));
    }
    Ok(())
}

/// `threads` (of `what`) in `1..=MAX_THREADS`.
pub(crate) fn check_threads(what: &str, threads: u32) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Error::out_of_range(
            what,
            u64::from(threads),
            1,
            u64::from(MAX_THREADS),
        ));
    }
    Ok(())
}

fn parse_number(option: &'static str, text: &str) -> Result<u64> {
    text.parse().map_err(|_| Error::InvalidValue {
        option,
        value: text.into(),
        expected: "a non-negative integer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_every_option() {
        let o = Options::parse(&args(&[
            "--device",
            "cuda",
            "--seed",
            "9",
            "--steps",
            "50",
            "--threads",
            "2",
            "--data",
            "d",
            "--out",
            "o",
            "--quick",
        ]))
        .unwrap();
        assert_eq!(o.device, DeviceConfig::Cuda(0));
        assert_eq!((o.seed, o.steps(), o.threads, o.quick), (9, 50, 2, true));
        assert_eq!(o.data.as_deref(), Some(std::path::Path::new("d")));
        assert_eq!(o.out, PathBuf::from("o"));
    }

    #[test]
    fn defaults_depend_on_quick() {
        assert_eq!(Options::parse(&[]).unwrap().steps(), 300);
        assert_eq!(Options::parse(&args(&["--quick"])).unwrap().steps(), 40);
    }

    #[test]
    fn commands_are_told_apart() {
        assert_eq!(
            Command::parse(&args(&["--seed", "x", "--help"])).unwrap(),
            Command::Help
        );
        assert_eq!(
            Command::parse(&args(&["worker", "s.json", "extra"])).unwrap(),
            Command::Worker {
                spec: PathBuf::from("s.json")
            }
        );
        assert!(Command::parse(&args(&["worker"])).is_err());
        assert_eq!(
            Command::parse(&args(&["--quick"])).unwrap(),
            Command::Suite(Options::parse(&args(&["--quick"])).unwrap())
        );
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// Any list of strings parses to a command or an error; what parses is valid.
        #[test]
        fn parsing_never_panics(list in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(vec![
                    "--device", "cpu", "cuda", "--seed", "--steps", "--threads", "--data",
                    "--out", "--quick", "-h", "--help", "worker", "0", "4", "1024", "1025",
                    "18446744073709551615", "18446744073709551616", "-1", "",
                ]).prop_map(String::from),
                ".*",
            ],
            0..8,
        )) {
            if let Ok(Command::Suite(options)) = Command::parse(&list) {
                proptest::prop_assert!(options.validate().is_ok());
            }
        }
    }

    #[test]
    fn bad_options_are_named() {
        for (list, needle) in [
            (&["--device", "tpu"][..], "--device"),
            (&["--seed", "x"][..], "--seed"),
            (&["--steps", "2"][..], "--steps"),
            (&["--threads", "0"][..], "--threads"),
            (&["--frobnicate"][..], "--frobnicate"),
            (&["--out"][..], "--out"),
        ] {
            let err = Options::parse(&args(list)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
