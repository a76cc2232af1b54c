//! `lockstep-repro`: the reproducibility suite. `cargo xtask repro` builds and runs it.

use std::path::Path;
use std::process::ExitCode;

use lockstep_nn::determinism::{CUBLAS_WORKSPACE_CONFIG, CUBLAS_WORKSPACE_VALUE};
use lockstep_repro::layout::Layout;
use lockstep_repro::options::{usage, version, Command};
use lockstep_repro::{suite, worker};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match Command::parse(&args) {
        Ok(Command::Help) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            print!("{}", version());
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(e) => {
            eprintln!("lockstep-repro: {e}\n\nFor the options, try `lockstep-repro --help`.");
            return ExitCode::from(2);
        }
    };
    // cuBLAS reads this once, when CUDA starts: set it before any thread or CUDA work.
    if std::env::var_os(CUBLAS_WORKSPACE_CONFIG).is_none() {
        std::env::set_var(CUBLAS_WORKSPACE_CONFIG, CUBLAS_WORKSPACE_VALUE);
    }
    let options = match command {
        Command::Suite(options) => options,
        Command::Worker { spec } => return run_worker(&spec),
        Command::Help | Command::Version => return ExitCode::SUCCESS,
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("lockstep-repro: cannot find its own executable to start workers: {e}");
            return ExitCode::from(2);
        }
    };
    match suite::run(&options, &exe) {
        Ok(report) => {
            let failed: Vec<_> = report.rows.iter().filter(|r| !r.pass).collect();
            let total = report
                .timings
                .iter()
                .find(|(k, _)| k == "total")
                .map(|(_, s)| *s)
                .unwrap_or(0.0);
            let layout = Layout::new(&options.out);
            eprintln!("\nreport: {}", layout.report_md().display());
            eprintln!(
                "plots: {} {}, detections: {}",
                layout.loss_svg().display(),
                layout.controls_svg().display(),
                layout.detections_png().display()
            );
            eprintln!("suite time: {total:.1} s");
            println!(
                "{} passed, {} failed",
                report.rows.len() - failed.len(),
                failed.len()
            );
            if failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                for row in failed {
                    eprintln!("FAILED: {} / {}: {}", row.stage, row.check, row.detail);
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("lockstep-repro: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_worker(path: &Path) -> ExitCode {
    let spec = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<worker::WorkerSpec>(&t).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("lockstep-repro worker: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match worker::run(&spec) {
        Ok(r) => {
            eprintln!(
                "{}: {} steps, model {}",
                r.name, r.steps_done, r.model_fingerprint
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", spec.name);
            ExitCode::FAILURE
        }
    }
}
