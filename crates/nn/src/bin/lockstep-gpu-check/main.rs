//! `lockstep-gpu-check`: the checks of docs/gpu.md, one subcommand each, sequenced by
//! `gpu/run.sh` (bundled by `cargo xtask gpu-bundle`). Every subcommand writes one JSON
//! result; `summarize` joins them into `results.json` and `results.md`.
//!
//! ```text
//! lockstep-gpu-check env|switch|late-switch|refuse|nondet-ops --device cpu|cuda --out PART.json
//! lockstep-gpu-check train --model tiny|cnn --mode strict|default --device D --steps N --out RUN.json [--trace T]
//! lockstep-gpu-check compare --id ID --title T --expect equal|differ|report RUN_A RUN_B --out PART.json
//! lockstep-gpu-check bench --model tiny|large --device D --steps N --rounds R --out PART.json
//! lockstep-gpu-check summarize --parts DIR --expected ID,ID… --out OUTDIR [--dry-run 1]
//! ```

mod args;
mod ops;
mod result;
mod switch;
mod train;
mod workload;

use std::path::Path;

/// A check that could not run, in words (the process exits with status 2).
#[derive(Debug)]
pub struct Failure(pub String);

impl From<lockstep_nn::Error> for Failure {
    fn from(e: lockstep_nn::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<lockstep_nn::tch::TchError> for Failure {
    fn from(e: lockstep_nn::tch::TchError) -> Self {
        lockstep_nn::Error::from(e).into()
    }
}

impl From<lockstep_postprocess::Error> for Failure {
    fn from(e: lockstep_postprocess::Error) -> Self {
        Self(e.to_string())
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // lockstep-nn never sets the environment; a binary does, first thing, before any
    // thread or CUDA context exists. `late-switch` tests the refusal without it, and
    // default mode runs as a user would, so both leave it as the shell gave it.
    let default_mode = argv
        .windows(2)
        .any(|w| w[0] == "--mode" && w[1] == "default");
    if argv.first().map(String::as_str) != Some("late-switch")
        && !default_mode
        && std::env::var_os(lockstep_nn::determinism::CUBLAS_WORKSPACE_CONFIG).is_none()
    {
        std::env::set_var(
            lockstep_nn::determinism::CUBLAS_WORKSPACE_CONFIG,
            lockstep_nn::determinism::CUBLAS_WORKSPACE_VALUE,
        );
    }
    if let Err(Failure(message)) = dispatch(&argv) {
        eprintln!("lockstep-gpu-check: {message}");
        std::process::exit(2);
    }
}

fn dispatch(argv: &[String]) -> Result<(), Failure> {
    let Some((command, rest)) = argv.split_first() else {
        return Err(Failure(
            "no subcommand; see the top of main.rs or docs/gpu.md".into(),
        ));
    };
    let a = args::Args::parse(rest)?;
    match command.as_str() {
        "env" => switch::env(&a),
        "switch" => switch::switch(&a),
        "late-switch" => switch::late_switch(&a),
        "refuse" => switch::refuse(&a),
        "nondet-ops" => ops::nondet_ops(&a),
        "train" => train::train(&a),
        "compare" => train::compare(&a),
        "bench" => ops::bench(&a),
        "summarize" => {
            let expected: Vec<String> = a
                .opt("expected")
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let dry = a.opt("dry-run").is_some_and(|v| v == "1");
            result::summarize(Path::new(a.req("parts")?), &a.out()?, &expected, dry)
        }
        other => Err(Failure(format!("unknown subcommand `{other}`"))),
    }
}
