//! The suite's command-line options.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The fewest steps: the suite kills a run between step 1 and the last but one.
pub(crate) const MIN_STEPS: u64 = 4;
/// The most steps a run may take (far beyond any useful suite).
pub(crate) const MAX_STEPS: u64 = 10_000_000;
/// The most libtorch threads per process.
pub(crate) const MAX_THREADS: usize = 1024;

/// Where training runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU.
    Cpu,
    /// The first CUDA device.
    Cuda,
}

/// Options of `lockstep-repro`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// `--device cpu|cuda`.
    pub device: Device,
    /// `--seed N`: the root seed.
    pub seed: u64,
    /// `--steps N`: training steps per run (a default per mode when absent).
    pub steps: Option<u64>,
    /// `--threads N`: libtorch intra-op threads per training process.
    pub threads: usize,
    /// `--data DIR`: a COCO dataset (`DIR/train/{images,instances.json}`,
    /// `DIR/val/{images,instances.json}`) instead of the built-in one.
    pub data: Option<PathBuf>,
    /// `--out DIR`: where reports, plots and runs go.
    pub out: PathBuf,
    /// `--quick`: a short run of the same path, for tests and CI.
    pub quick: bool,
}

/// The usage text.
pub const USAGE: &str = "\
usage: lockstep-repro [OPTIONS]

Proves the pipeline bitwise reproducible on this machine, or shows where it is not.

options:
  --device cpu|cuda   where training runs (default cpu)
  --seed N            root seed (default 0)
  --steps N           training steps per run (default 300, 40 with --quick)
  --threads N         libtorch intra-op threads per training process (default 1)
  --data DIR          a COCO dataset with train/ and val/ folders, each holding images/
                      and instances.json (default: the built-in shapes set)
  --out DIR           output folder (default target/repro): new, empty, or made by an
                      earlier run (it holds a .lockstep-repro file); others are refused
  --quick             a short run of the same path, for CI
  -h, --help          this text
";

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-h` or `--help` anywhere: print [`USAGE`].
    Help,
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
                None => Err(Error::Config(
                    "worker needs its spec file: lockstep-repro worker SPEC.json".into(),
                )),
            };
        }
        Options::parse(args).map(Self::Suite)
    }
}

impl Options {
    /// Parses the suite's options (the arguments after the program name; see
    /// [`Command::parse`] for `--help` and `worker`). Pure, and never panics.
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options {
            device: Device::Cpu,
            seed: 0,
            steps: None,
            threads: 1,
            data: None,
            out: PathBuf::from("target/repro"),
            quick: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| Error::Config(format!("{name} needs a value")))
            };
            match arg.as_str() {
                "--device" => {
                    options.device = match value("--device")?.as_str() {
                        "cpu" => Device::Cpu,
                        "cuda" => Device::Cuda,
                        other => {
                            return Err(Error::Config(format!(
                                "--device is cpu or cuda, not `{other}`"
                            )))
                        }
                    }
                }
                "--seed" => options.seed = parse_number("--seed", &value("--seed")?)?,
                "--steps" => {
                    let steps = parse_number("--steps", &value("--steps")?)?;
                    options.steps = Some(steps);
                }
                "--threads" => {
                    let threads = parse_number("--threads", &value("--threads")?)?;
                    // Too large for usize is out of range too: `validate` names it.
                    options.threads = usize::try_from(threads).unwrap_or(usize::MAX);
                }
                "--data" => options.data = Some(PathBuf::from(value("--data")?)),
                "--out" => options.out = PathBuf::from(value("--out")?),
                "--quick" => options.quick = true,
                other => {
                    return Err(Error::Config(format!(
                        "unknown option `{other}`; see --help"
                    )))
                }
            }
        }
        options.validate()?;
        Ok(options)
    }

    /// Checks what `parse` checks, for options built in code.
    pub fn validate(&self) -> Result<()> {
        if let Some(steps) = self.steps {
            if !(MIN_STEPS..=MAX_STEPS).contains(&steps) {
                return Err(Error::Config(format!(
                    "--steps must be in {MIN_STEPS}..={MAX_STEPS}, got {steps}"
                )));
            }
        }
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return Err(Error::Config(format!(
                "--threads must be in 1..={MAX_THREADS}, got {}",
                self.threads
            )));
        }
        Ok(())
    }

    /// The training steps per run.
    pub fn steps(&self) -> u64 {
        self.steps.unwrap_or(if self.quick { 40 } else { 300 })
    }
}

fn parse_number(name: &str, text: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| Error::Config(format!("{name} takes a non-negative integer, got `{text}`")))
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
        assert_eq!(o.device, Device::Cuda);
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
