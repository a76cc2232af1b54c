//! Worker processes: spawn, poll, kill. Every worker the suite starts is held in
//! [`Workers`], which kills any still running when it is dropped, so an error between
//! start and wait leaves no process behind.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::worker::{WorkerResult, WorkerSpec};

/// How often running workers are polled.
const POLL: Duration = Duration::from_millis(200);
/// How often a worker is polled for its checkpoint before the kill.
const POLL_KILL: Duration = Duration::from_millis(20);
/// Without a terminal, the progress line is printed at most this often.
const PRINT_EVERY: Duration = Duration::from_secs(10);
/// Lines of a failed worker's log quoted in its error.
const LOG_TAIL: usize = 12;

/// Running worker processes and their specs.
pub(crate) struct Workers {
    exe: PathBuf,
    running: Vec<(WorkerSpec, Child)>,
}

impl Workers {
    /// No workers yet; they will be started from the binary `exe`.
    pub(crate) fn new(exe: &Path) -> Self {
        Self {
            exe: exe.to_path_buf(),
            running: Vec::new(),
        }
    }

    /// Writes `spec` into its run folder and starts `exe worker SPEC`, its output going
    /// to the attempt's log.
    pub(crate) fn spawn(&mut self, spec: &WorkerSpec) -> Result<()> {
        let files = spec.files();
        std::fs::create_dir_all(files.dir()).map_err(|e| Error::io(files.dir(), e))?;
        let spec_path = files.spec();
        let text = serde_json::to_string_pretty(spec).map_err(|e| Error::json(&spec_path, e))?;
        std::fs::write(&spec_path, text).map_err(|e| Error::io(&spec_path, e))?;
        let log_path = files.log();
        let log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let log_err = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
        // `mpiexec -n W` for a spec of more than one rank.
        let child = crate::distributed::command(&self.exe, &spec_path, spec.world)?
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| Error::io(&self.exe, e))?;
        self.running.push((spec.clone(), child));
        Ok(())
    }

    /// Waits for every worker, showing their progress, and returns their results in
    /// the order they were spawned.
    pub(crate) fn wait_all(mut self) -> Result<Vec<WorkerResult>> {
        let mut done: Vec<Option<ExitStatus>> = vec![None; self.running.len()];
        let mut progress = Progress::new();
        while done.iter().any(Option::is_none) {
            for ((spec, child), status) in self.running.iter_mut().zip(&mut done) {
                if status.is_none() {
                    *status = child.try_wait().map_err(|e| Error::io(&spec.run_dir, e))?;
                }
            }
            progress.show(self.running.iter().map(|(spec, _)| spec));
            std::thread::sleep(POLL);
        }
        progress.finish();
        self.running
            .iter()
            .zip(done)
            .map(|((spec, _), status)| {
                if !status.is_some_and(|s| s.success()) {
                    return Err(failure(spec));
                }
                read_result(spec)
            })
            .collect()
    }

    /// Waits until the first worker has completed a checkpoint, then kills it without
    /// warning. Returns whether it died of that SIGKILL: `false` when it finished by
    /// itself first, or failed after its checkpoint.
    pub(crate) fn kill_after_checkpoint(&mut self) -> Result<bool> {
        let Some((spec, child)) = self.running.first_mut() else {
            return Ok(false);
        };
        let latest = spec.files().latest_checkpoint();
        if spec.world > 1 {
            // A job of ranks: kill one rank; the others must stop by themselves.
            let kill =
                crate::distributed::kill_rank_after(child, &spec.run_dir, &latest, spec.world - 1)?;
            return Ok(kill.killed && kill.status.is_some_and(|s| !s.success()));
        }
        loop {
            if latest.exists() {
                // The checkpoint is complete (LATEST is renamed into place last); the
                // run is somewhere after it now.
                child.kill().map_err(|e| Error::io(&spec.run_dir, e))?;
                let status = child.wait().map_err(|e| Error::io(&spec.run_dir, e))?;
                // Only death by this SIGKILL counts: a worker that failed by itself
                // after its checkpoint is not a kill.
                return Ok(killed_by_sigkill(&status));
            }
            if let Some(status) = child.try_wait().map_err(|e| Error::io(&spec.run_dir, e))? {
                if !status.success() {
                    return Err(failure(spec));
                }
                return Ok(false);
            }
            std::thread::sleep(POLL_KILL);
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs `specs` as concurrent processes of `exe` and returns their results in order.
pub(crate) fn run_all(exe: &Path, specs: &[WorkerSpec]) -> Result<Vec<WorkerResult>> {
    let mut workers = Workers::new(exe);
    for spec in specs {
        workers.spawn(spec)?;
    }
    workers.wait_all()
}

/// The progress line: each worker's last finished step, from its progress file.
struct Progress {
    tty: bool,
    last_line: String,
    last_print: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last_line: String::new(),
            last_print: Instant::now(),
        }
    }

    fn show<'a>(&mut self, specs: impl Iterator<Item = &'a WorkerSpec>) {
        let line = specs
            .map(|s| {
                // Best effort: progress is for the console only.
                let step = std::fs::read_to_string(s.files().progress()).unwrap_or_default();
                let until = s.stop_after.unwrap_or(s.steps).min(s.steps);
                let step = if step.is_empty() { "0" } else { step.trim() };
                format!("{} {step}/{until}", s.name)
            })
            .collect::<Vec<_>>()
            .join("   ");
        if line != self.last_line && (self.tty || self.last_print.elapsed() > PRINT_EVERY) {
            if self.tty {
                eprint!("\r  {line}   ");
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("  {line}");
            }
            self.last_line = line;
            self.last_print = Instant::now();
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Whether a worker died of SIGKILL (signal 9 on every Unix).
fn killed_by_sigkill(status: &ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// A worker's result file, read back and parsed.
fn read_result(spec: &WorkerSpec) -> Result<WorkerResult> {
    let path = spec.files().result();
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::json(&path, e))
}

/// The error for a worker that exited with an error, quoting the end of its log.
fn failure(spec: &WorkerSpec) -> Error {
    let log = spec.files().log();
    // Best effort: the log only explains the failure, which is reported either way.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(LOG_TAIL).collect();
    Error::WorkerFailed {
        name: spec.name.clone(),
        log,
        tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    }
}
