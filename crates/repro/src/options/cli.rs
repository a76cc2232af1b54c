//! The suite's command line, declared with clap's derive. Every value is taken as a
//! string and converted by the checks of [`Options`], so the option names, the checks
//! and their typed errors are those of the library; clap gives `--help`, `--version`
//! and the parsing itself.

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};
use lockstep_nn::DeviceConfig;

use super::{parse_number, Options, MAX_INPUT_SIZE, MAX_THREADS, MAX_WORLD};
use crate::dataset_check::OnBadSample;
use crate::error::{Error, Result};

/// What a suite command line gives (`--help` is handled before, as it always was).
pub(super) enum Parsed {
    Options(Options),
    Version,
}

/// Proves the pipeline bitwise reproducible on this machine, or shows where it is not.
///
/// A value is the next argument whatever it starts with (`--out -x` names the folder
/// `-x`); `--option=value` works too; a repeated option takes its last value.
#[derive(Debug, Parser)]
#[command(
    name = "lockstep-repro",
    version,
    args_override_self = true,
    max_term_width = 100
)]
struct Cli {
    /// Where training runs: cpu or cuda (CUDA device 0) [default: cpu]
    #[arg(long, value_name = "cpu|cuda", allow_hyphen_values = true)]
    device: Option<String>,
    /// Root seed [default: 0]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    seed: Option<String>,
    /// Training steps per run [default: 300, 40 with --quick]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    steps: Option<String>,
    /// libtorch intra-op threads per training process [default: 1]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    threads: Option<String>,
    /// A COCO dataset with train/ and val/ folders, each holding images/ and
    /// instances.json [default: the built-in shapes set]
    #[arg(long, value_name = "DIR", allow_hyphen_values = true)]
    data: Option<String>,
    /// Output folder: new, empty, or made by an earlier run (it holds a
    /// .lockstep-repro file); others are refused [default: target/repro]
    #[arg(long, value_name = "DIR", allow_hyphen_values = true)]
    out: Option<String>,
    /// A short run of the same path, for CI
    #[arg(long)]
    quick: bool,
    /// The training annotations (default DIR/train/instances.json; real exports name
    /// it instances_train2017.json); needs --data
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    train_annotations: Option<String>,
    /// The validation annotations (default DIR/val/instances.json); needs --data
    #[arg(long, value_name = "PATH", allow_hyphen_values = true)]
    val_annotations: Option<String>,
    /// An image with a problem (missing, undecodable, wrong size, a box outside it, an
    /// unknown category) fails the suite before training (fail, the default), or is
    /// left out and listed in the report (skip)
    #[arg(long, value_name = "fail|skip", allow_hyphen_values = true)]
    on_bad_sample: Option<String>,
    /// Clip boxes that reach beyond their image (by more than the 1 px tolerance) to
    /// it, and list them in the report
    #[arg(long)]
    clip_boxes: bool,
    /// The square side images are resized to for the model (a multiple of 8); aspect
    /// ratios are not kept [default: 96]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    input_size: Option<String>,
    /// Train runs A, B and C as N MPI ranks of N micro-batches a step (needs a binary
    /// built with MPI, as `cargo xtask repro` builds it) [default: 1]
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    world: Option<String>,
}

pub(super) fn usage() -> String {
    Cli::command().render_long_help().to_string()
}

pub(super) fn version() -> String {
    Cli::command().render_version().to_string()
}

/// Parses the arguments after the program name.
pub(super) fn parse(args: &[String]) -> Result<Parsed> {
    let argv = std::iter::once("lockstep-repro").chain(args.iter().map(String::as_str));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) if e.kind() == ErrorKind::DisplayVersion => return Ok(Parsed::Version),
        // `Command::parse` answers `--help` before; here it is not an option.
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            return Err(Error::UnknownOption {
                option: "--help".into(),
            })
        }
        Err(e) => return Err(typed(&e)),
    };
    let options = cli.into_options()?;
    options.validate()?;
    Ok(Parsed::Options(options))
}

/// clap's error as the library's: a missing value names its option, anything else
/// names the argument clap could not place.
fn typed(e: &clap::Error) -> Error {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let invalid = context(ContextKind::InvalidArg);
    if matches!(e.kind(), ErrorKind::InvalidValue | ErrorKind::NoEquals)
        && context(ContextKind::InvalidValue).is_some_and(|v| v.is_empty())
    {
        // clap names the option as `--out <DIR>`; the error wants the static name.
        let name = invalid.as_deref().and_then(|a| a.split_whitespace().next());
        if let Some(option) = OPTIONS.iter().find(|o| Some(**o) == name) {
            return Error::MissingValue { option, hint: "" };
        }
    }
    Error::UnknownOption {
        option: invalid.unwrap_or_else(|| e.kind().to_string()),
    }
}

/// The options that take a value.
const OPTIONS: [&str; 11] = [
    "--device",
    "--seed",
    "--steps",
    "--threads",
    "--data",
    "--out",
    "--train-annotations",
    "--val-annotations",
    "--on-bad-sample",
    "--input-size",
    "--world",
];

impl Cli {
    fn into_options(self) -> Result<Options> {
        let mut options = Options::default();
        if let Some(device) = self.device {
            options.device = match device.as_str() {
                "cpu" => DeviceConfig::Cpu,
                "cuda" => DeviceConfig::Cuda(0),
                _ => {
                    return Err(Error::InvalidValue {
                        option: "--device",
                        value: device,
                        expected: "cpu or cuda",
                    })
                }
            };
        }
        if let Some(seed) = self.seed {
            options.seed = parse_number("--seed", &seed)?;
        }
        if let Some(steps) = self.steps {
            options.steps = Some(parse_number("--steps", &steps)?);
        }
        if let Some(threads) = self.threads {
            let threads = parse_number("--threads", &threads)?;
            options.threads = u32::try_from(threads).map_err(|_| {
                Error::out_of_range("--threads", threads, 1, u64::from(MAX_THREADS))
            })?;
        }
        options.data = self.data.map(PathBuf::from);
        if let Some(out) = self.out {
            options.out = PathBuf::from(out);
        }
        options.quick = self.quick;
        options.train_annotations = self.train_annotations.map(PathBuf::from);
        options.val_annotations = self.val_annotations.map(PathBuf::from);
        if let Some(policy) = self.on_bad_sample {
            options.on_bad_sample = match policy.as_str() {
                "fail" => OnBadSample::Fail,
                "skip" => OnBadSample::Skip,
                _ => {
                    return Err(Error::InvalidValue {
                        option: "--on-bad-sample",
                        value: policy,
                        expected: "fail or skip",
                    })
                }
            };
        }
        options.clip_boxes = self.clip_boxes;
        if let Some(world) = self.world {
            let world = parse_number("--world", &world)?;
            options.world = u32::try_from(world)
                .map_err(|_| Error::out_of_range("--world", world, 1, u64::from(MAX_WORLD)))?;
        }
        if let Some(size) = self.input_size {
            let size = parse_number("--input-size", &size)?;
            options.input_size = u32::try_from(size).map_err(|_| {
                Error::out_of_range("--input-size", size, 8, u64::from(MAX_INPUT_SIZE))
            })?;
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_option_that_takes_a_value_is_listed() {
        let cmd = Cli::command();
        let takes_value: Vec<String> = cmd
            .get_arguments()
            .filter(|a| a.get_action().takes_values() && a.get_long().is_some())
            .map(|a| format!("--{}", a.get_long().unwrap_or_default()))
            .collect();
        assert_eq!(takes_value, OPTIONS);
    }

    #[test]
    fn help_and_version_come_from_clap() {
        let help = usage();
        for option in OPTIONS.iter().chain(&["--quick", "--clip-boxes", "--help"]) {
            assert!(help.contains(option), "{option} missing from\n{help}");
        }
        assert!(version().contains(env!("CARGO_PKG_VERSION")));
        let args = ["--version".to_string()];
        assert!(matches!(parse(&args), Ok(Parsed::Version)));
    }
}
