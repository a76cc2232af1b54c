//! `cargo xtask`: the project's automation.
//!
//! - `cargo xtask test`: rustfmt check, clippy `-D warnings`, then every test of the
//!   workspace, the libtorch crates included (libtorch is set up first).
//! - `cargo xtask repro [ARGS…]`: the reproducibility suite (`crates/repro`).
//! - `cargo xtask bench [SUITE…]`: our benchmarks and the peers', as ratios.
//! - `cargo xtask libtorch`: set up libtorch only, and print the environment it needs.

mod bench;
mod libtorch;
mod python;
mod workspace;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test             rustfmt check, clippy -D warnings, all tests (sets up libtorch)
  repro [ARGS…]    run the reproducibility suite; ARGS go to lockstep-repro (try --help)
  bench [SUITE…]   run our benchmarks and the peers' in one run, print ratios,
                   write target/bench/report.json (suites: seeding data augment postprocess nn)
  libtorch         set up libtorch under target/ and print the environment for cargo
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        bail!("no command given");
    };
    match command.as_str() {
        "test" => test(rest),
        "repro" => repro(rest),
        "bench" => bench::run(rest),
        "libtorch" => {
            let torch = libtorch::ensure()?;
            println!("export LIBTORCH={}", torch.root().display());
            println!(
                "export LD_LIBRARY_PATH={}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}",
                torch.root().join("lib").display()
            );
            Ok(())
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown command `{other}`")
        }
    }
}

/// The README's test command.
fn test(args: &[String]) -> Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask test` takes no arguments, got `{extra}`");
    }
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
    workspace::step("tests (whole workspace)");
    workspace::cargo(&["test", "--workspace"], &env)?;
    workspace::step(&format!(
        "all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The reproducibility suite: set up libtorch, build, run `lockstep-repro`.
fn repro(args: &[String]) -> Result<()> {
    let torch = libtorch::ensure()?;
    let env = torch.env();
    workspace::step("build the reproducibility suite (release)");
    let mut cargo_args = vec!["run", "--release", "--package", "lockstep-repro", "--"];
    cargo_args.extend(args.iter().map(String::as_str));
    workspace::cargo(&cargo_args, &env)
}
