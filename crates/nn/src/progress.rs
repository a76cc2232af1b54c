//! Progress for long runs: an indicatif bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// How the trainer reports progress (on standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    /// A bar when standard error is a terminal, plain lines when it is not.
    #[default]
    Auto,
    /// Always the bar.
    Bar,
    /// Always plain lines, about twenty per run.
    Lines,
    /// Nothing.
    Off,
}

#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines_every: Option<u64>,
    total: u64,
}

impl Progress {
    pub(crate) fn new(mode: ProgressMode, start: u64, total: u64) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            other => other,
        };
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps {per_sec} eta {eta} {msg}")
            {
                bar.set_style(style);
            }
            bar.set_position(start);
            bar
        });
        let lines_every = (mode == ProgressMode::Lines).then(|| (total / 20).max(1));
        Self {
            bar,
            lines_every,
            total,
        }
    }

    /// Reports that step `step` (0-based) finished with `loss` at rate `lr`.
    pub(crate) fn step(&self, step: u64, loss: f32, lr: f64) {
        let done = step + 1;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("loss {loss:.4} lr {lr:.2e}"));
        }
        if let Some(every) = self.lines_every {
            if done.is_multiple_of(every) || done == self.total {
                eprintln!("step {done}/{} loss {loss:.6} lr {lr:.3e}", self.total);
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
