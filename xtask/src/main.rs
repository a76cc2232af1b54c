//! `cargo xtask`: the project's automation.
//!
//! - `cargo xtask test`: rustfmt check, clippy `-D warnings`, then every test of the
//!   workspace, the libtorch crates included (libtorch is set up first).
//! - `cargo xtask repro [ARGS…]`: the reproducibility suite (`crates/repro`).
//! - `cargo xtask bench [SUITE…]`: our benchmarks and the peers', as ratios.
//! - `cargo xtask fuzz [TARGET…] [--seconds N]`: coverage-guided fuzzing (AFL++).
//! - `cargo xtask libtorch`: set up libtorch only, and print the environment it needs.
//! - `cargo xtask mutants [CRATE…] [--recheck]`: mutation testing of the pure crates
//!   (docs/testing.md).
//! - `cargo xtask gpu-bundle [--dry-run [OUT]]`: the GPU checks' bundle (docs/gpu.md).

mod bench;
mod dependent;
mod fuzz;
mod gpu_bundle;
mod libtorch;
mod mpi;
mod mutants;
mod pytests;
mod python;
mod workspace;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

/// The project's automation.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// rustfmt check, clippy -D warnings, all tests (sets up libtorch)
    Test,
    /// Run the reproducibility suite; ARGS go to lockstep-repro (try `repro --help`)
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Repro {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Run our benchmarks and the peers' in one run, print ratios, write
    /// target/bench/report.json (suites: seeding data augment postprocess nn python
    /// pipeline distributed; default all)
    Bench {
        #[arg(value_name = "SUITE")]
        suites: Vec<String>,
    },
    /// AFL++ on each fuzz target (default all, 600 s each); figures in
    /// target/fuzz/summary.md, crash inputs in target/fuzz/crashes/.
    /// Takes [TARGET…] [--seconds N] [--execs N] [--no-build]
    Fuzz {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Mutation testing of the pure crates with cargo-mutants (slow: not part of
    /// `test`; run before a release). Summary in target/mutants/summary.md
    Mutants {
        /// Crates to mutate: seeding, data, augment, postprocess (default all)
        #[arg(value_name = "CRATE")]
        crates: Vec<String>,
        /// Test again only the mutants the last full run missed, after adding tests
        #[arg(long)]
        recheck: bool,
        /// Only the K-th of N shards of each crate's mutants (K counts from 0)
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
    },
    /// Only the Python step of `test`: pip install ./crates/python, pytest
    Pytest,
    /// Set up libtorch under target/ and print the environment for cargo
    Libtorch,
    /// Build target/gpu-bundle (CUDA binaries + run.sh) for a GPU host; `--dry-run
    /// [OUT]` runs its checks here on the CPU (docs/gpu.md)
    GpuBundle {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
}

/// A failure whose message the child process already printed: xtask exits with its
/// code and adds nothing.
#[derive(Debug)]
struct ChildReported(i32);

impl std::fmt::Display for ChildReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for ChildReported {}

/// Prints a failure once: one line with its causes, and anyhow's backtrace only when
/// `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) asks for one.
fn main() -> std::process::ExitCode {
    let Err(error) = run() else {
        return std::process::ExitCode::SUCCESS;
    };
    if let Some(ChildReported(code)) = error.downcast_ref::<ChildReported>() {
        return std::process::ExitCode::from(u8::try_from(*code).unwrap_or(1).max(1));
    }
    let asked = ["RUST_BACKTRACE", "RUST_LIB_BACKTRACE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| x != "0"));
    if asked {
        eprintln!("\nxtask: error: {error:?}");
    } else {
        eprintln!("\nxtask: error: {error:#}");
    }
    std::process::ExitCode::FAILURE
}

fn run() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap printed the message: exit with its code (2), adding nothing.
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return Err(ChildReported(e.exit_code()).into());
        }
        // --help, --version: print and stop.
        Err(e) => {
            let _ = e.print();
            return Ok(());
        }
    };
    match cli.command {
        Task::Test => test(),
        Task::Repro { args } => repro(&args),
        Task::Bench { suites } => bench::run(&suites),
        Task::Fuzz { args } => fuzz::run(&args),
        Task::Mutants {
            crates,
            recheck,
            shard,
        } => mutants::run(&mutants::Request {
            crates,
            recheck,
            shard,
        }),
        Task::Pytest => pytests::run(),
        Task::GpuBundle { args } => gpu_bundle::run(&args),
        Task::Libtorch => {
            let torch = libtorch::ensure()?;
            println!("export LIBTORCH={}", torch.root().display());
            println!(
                "export LD_LIBRARY_PATH={}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}",
                torch.root().join("lib").display()
            );
            Ok(())
        }
    }
}

/// The README's test command.
fn test() -> Result<()> {
    let started = std::time::Instant::now();
    workspace::step("rustfmt --check");
    workspace::cargo(&["fmt", "--all", "--", "--check"], &[])?;
    let torch = libtorch::ensure()?;
    let env = torch.env();
    workspace::step("clippy -D warnings (whole workspace)");
    workspace::cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &env,
    )?;
    // The `cuda` feature has no GPU here; checking it (no linking) keeps it compiling.
    workspace::step("cargo check with lockstep-nn/cuda (the GPU bundle's features)");
    workspace::cargo(
        &[
            "check",
            "-p",
            "lockstep-nn",
            "-p",
            "lockstep-repro",
            "--features",
            "lockstep-nn/cuda",
            "--lib",
            "--bins",
        ],
        &env,
    )?;
    workspace::step("tests (whole workspace)");
    workspace::cargo(&["test", "--workspace"], &env)?;
    workspace::step("a crate outside the workspace that depends on lockstep-nn starts");
    dependent::check(&env)?;
    // MPI last: turning on the `mpi` feature rebuilds lockstep-nn (its dependency
    // lockstep-distributed changes), so the MPI builds come after the plain ones.
    workspace::step("MPI: clippy with the `mpi` feature, then a world-2 run through mpiexec");
    let mpi_started = std::time::Instant::now();
    let mpi = mpi::ensure()?;
    let mpi_env = mpi.env(&env);
    workspace::cargo(
        &[
            "clippy",
            "-p",
            "lockstep-distributed",
            "-p",
            "lockstep-repro",
            "--features",
            "lockstep-repro/mpi",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &mpi_env,
    )?;
    workspace::cargo(
        &[
            "test",
            "-p",
            "lockstep-repro",
            "--features",
            "mpi",
            "--test",
            "mpi_world2",
        ],
        &mpi_env,
    )?;
    workspace::step(&format!(
        "MPI checks ({}) took {:.0} s",
        mpi.version(),
        mpi_started.elapsed().as_secs_f64()
    ));
    workspace::step("the Python module and its pytest suite (crates/python)");
    pytests::run()?;
    workspace::step(&format!(
        "all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The reproducibility suite: set up libtorch, build, run `lockstep-repro`.
fn repro(args: &[String]) -> Result<()> {
    let torch = libtorch::ensure()?;
    // MPI for the distributed section and `--world N` (mpiexec on PATH, libmpi found).
    let env = mpi::ensure()?.env(&torch.env());
    workspace::step("build the reproducibility suite (release, with MPI)");
    let args = repro_args(args, &std::env::current_dir()?, &workspace::target_dir());
    workspace::cargo(
        &[
            "build",
            "--release",
            "--package",
            "lockstep-repro",
            "--features",
            "mpi",
        ],
        &env,
    )?;
    // Run the binary itself (not `cargo run`), so that a failing suite's error is the
    // one message printed: the suite prints it, cargo and xtask add nothing.
    let exe = workspace::target_dir()
        .join("release")
        .join(format!("lockstep-repro{}", std::env::consts::EXE_SUFFIX));
    let status = std::process::Command::new(&exe)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workspace::root())
        .status()
        .map_err(|e| anyhow::anyhow!("could not start {}: {e}", exe.display()))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(ChildReported(code).into()),
        None => bail!("{} was killed ({status})", exe.display()),
    }
}

/// The suite's arguments with `--data`, `--out` and the annotation paths made absolute against the folder the
/// user ran the xtask from (cargo runs it from the workspace root), and `--out`
/// defaulting to `target/repro`.
fn repro_args(args: &[String], cwd: &std::path::Path, target: &std::path::Path) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut has_out = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        out.push(arg.clone());
        let path_option = [
            "--data",
            "--out",
            "--train-annotations",
            "--val-annotations",
        ];
        if path_option.contains(&arg.as_str()) {
            has_out |= arg == "--out";
            if let Some(path) = it.next() {
                out.push(cwd.join(path).to_string_lossy().into_owned());
            }
        }
    }
    if !has_out && !args.iter().any(|a| a == "-h" || a == "--help") {
        out.push("--out".into());
        out.push(target.join("repro").to_string_lossy().into_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_command_line_is_consistent_and_passes_arguments_through() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let parse = |list: &[&str]| {
            Cli::try_parse_from(std::iter::once("xtask").chain(list.iter().copied()))
        };
        let cli = parse(&["repro", "--quick", "--seed", "3", "--help"]).unwrap();
        assert!(
            matches!(cli.command, Task::Repro { args } if args == ["--quick", "--seed", "3", "--help"])
        );
        let cli = parse(&["fuzz", "repro", "--seconds", "5"]).unwrap();
        assert!(matches!(cli.command, Task::Fuzz { args } if args == ["repro", "--seconds", "5"]));
        let cli = parse(&["bench", "data", "pipeline"]).unwrap();
        assert!(matches!(cli.command, Task::Bench { suites } if suites == ["data", "pipeline"]));
        assert!(
            parse(&["test", "extra"]).is_err(),
            "test takes no arguments"
        );
        let cli = parse(&["mutants", "seeding", "--recheck", "--shard", "0/4"]).unwrap();
        assert!(matches!(
            cli.command,
            Task::Mutants { crates, recheck: true, shard: Some(s) } if crates == ["seeding"] && s == "0/4"
        ));
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&[]).is_err(), "a command is required");
    }

    #[test]
    fn repro_paths_are_resolved_where_the_user_is() {
        let args: Vec<String> = ["--data", "coco", "--seed", "3", "--out", "/abs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = repro_args(&args, Path::new("/home/u/work"), Path::new("/ws/target"));
        assert_eq!(
            got,
            [
                "--data",
                "/home/u/work/coco",
                "--seed",
                "3",
                "--out",
                "/abs"
            ]
        );
        let got = repro_args(
            &["--quick".into()],
            Path::new("/x"),
            Path::new("/ws/target"),
        );
        assert_eq!(got, ["--quick", "--out", "/ws/target/repro"]);
        assert_eq!(
            repro_args(&["--help".into()], Path::new("/x"), Path::new("/t")),
            ["--help"]
        );
    }
}
