//! Data-parallel runs: how a worker joins its ranks (MPI, feature `mpi`), how the
//! suite launches them (`mpiexec -n W`), and the suite's distributed section:
//! `W = 1, 2, 4` give equal per-step traces and weights, `W = 2` twice is equal, a
//! killed rank stops the job within a bound and leaves its checkpoint intact, a resume
//! at `W = 1` equals the uninterrupted run, and the fast all-reduce mode (whose order
//! depends on the world) is caught by the locator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use lockstep_distributed::Collective;
use lockstep_nn::trace::{compare_records, read_trace, Phase};
use lockstep_nn::GradientReduction;

use crate::checks::{steps_before, trace_digest};
use crate::error::{Error, Result};
use crate::layout::DataPaths;
use crate::report::{CheckRow, Stage};
use crate::worker::{WorkerResult, WorkerSpec};

/// Micro-batches per step in the distributed section (every world there divides it).
pub const MICRO_BATCHES: u64 = 4;
/// Training steps of each run of the distributed section (kept small: the section
/// proves equalities, not convergence).
pub const STEPS: u64 = 6;
/// The step after which the killed run's checkpoint is written.
const CHECKPOINT_AT: u64 = 2;
/// How long a rank waits in any collective before stopping the job.
pub const COLLECTIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the suite waits for a job with a killed rank to stop (the collective
/// timeout plus the launcher's clean-up).
const STOP_BOUND: Duration = Duration::from_secs(90);

/// Whether this binary carries the MPI backend.
pub const MPI_BUILT_IN: bool = cfg!(feature = "mpi");

/// The `mpiexec` to launch with: `$MPIEXEC`, else the first `mpiexec` on `PATH`.
pub fn mpiexec() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MPIEXEC").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("mpiexec"))
        .find(|p| p.is_file())
}

/// Why MPI cannot be used here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !MPI_BUILT_IN {
        return Some(
            "this binary was built without the `mpi` feature (`cargo xtask repro` builds \
             it with MPI)"
                .into(),
        );
    }
    if mpiexec().is_none() {
        return Some("no `mpiexec` on PATH and MPIEXEC is unset".into());
    }
    None
}

/// The MPI library's version line, or why there is none.
pub fn mpi_version() -> String {
    #[cfg(feature = "mpi")]
    {
        lockstep_distributed::mpi::library_version()
    }
    #[cfg(not(feature = "mpi"))]
    {
        "none (built without the `mpi` feature)".into()
    }
}

/// The command that starts `spec` as `world` ranks: `mpiexec -n W exe worker SPEC`, or
/// the worker alone for one rank.
pub(crate) fn command(exe: &Path, spec_path: &Path, world: u32) -> Result<Command> {
    if world <= 1 {
        let mut c = Command::new(exe);
        c.arg("worker").arg(spec_path);
        return Ok(c);
    }
    if let Some(reason) = unavailable() {
        return Err(Error::MpiUnavailable { world, reason });
    }
    let launcher = mpiexec().ok_or_else(|| Error::MpiUnavailable {
        world,
        reason: "no mpiexec".into(),
    })?;
    let mut c = Command::new(launcher);
    c.arg("-n")
        .arg(world.to_string())
        .arg(exe)
        .arg("worker")
        .arg(spec_path);
    Ok(c)
}

/// A worker's place in its job: MPI's rank when launched as more than one.
pub(crate) struct Joined {
    #[cfg(feature = "mpi")]
    mpi: std::sync::Arc<lockstep_distributed::mpi::Mpi>,
    rank: u32,
}

impl Joined {
    /// This rank.
    pub(crate) fn rank(&self) -> u32 {
        self.rank
    }

    /// A handle for the trainer.
    pub(crate) fn collective(&self) -> Box<dyn Collective> {
        #[cfg(feature = "mpi")]
        {
            Box::new(Shared(std::sync::Arc::clone(&self.mpi)))
        }
        #[cfg(not(feature = "mpi"))]
        {
            Box::new(lockstep_distributed::Solo)
        }
    }

    /// Reports `error` and stops every rank (a failed rank must not leave its peers
    /// waiting in a collective).
    pub(crate) fn fail(&self, name: &str, error: &Error) {
        eprintln!("{name}: rank {}: {error}", self.rank);
        #[cfg(feature = "mpi")]
        self.mpi.abort(1);
    }
}

/// Joins the job's ranks when `spec.world > 1`, writing `rank-<r>.pid` into the run
/// folder (the suite kills a rank by it).
pub(crate) fn join(spec: &WorkerSpec) -> Result<Option<Joined>> {
    if spec.world <= 1 {
        return Ok(None);
    }
    #[cfg(feature = "mpi")]
    {
        let mpi = lockstep_distributed::mpi::Mpi::with_timeout(COLLECTIVE_TIMEOUT)?;
        if mpi.world() != spec.world {
            return Err(Error::MpiUnavailable {
                world: spec.world,
                reason: format!("launched as {} ranks", mpi.world()),
            });
        }
        let rank = mpi.rank();
        let pid = pid_file(&spec.run_dir, rank);
        std::fs::create_dir_all(&spec.run_dir).map_err(|e| Error::io(&spec.run_dir, e))?;
        std::fs::write(&pid, std::process::id().to_string()).map_err(|e| Error::io(&pid, e))?;
        Ok(Some(Joined {
            mpi: std::sync::Arc::new(mpi),
            rank,
        }))
    }
    #[cfg(not(feature = "mpi"))]
    {
        Err(Error::MpiUnavailable {
            world: spec.world,
            reason: unavailable().unwrap_or_default(),
        })
    }
}

/// The MPI handle shared between the trainer and the worker (which aborts with it).
#[cfg(feature = "mpi")]
#[derive(Debug)]
struct Shared(std::sync::Arc<lockstep_distributed::mpi::Mpi>);

#[cfg(feature = "mpi")]
impl Collective for Shared {
    fn rank(&self) -> u32 {
        self.0.rank()
    }
    fn world(&self) -> u32 {
        self.0.world()
    }
    fn all_gather(&self, send: &[u8], recv: &mut [u8]) -> lockstep_distributed::Result<()> {
        self.0.all_gather(send, recv)
    }
    fn broadcast(&self, root: u32, buf: &mut [u8]) -> lockstep_distributed::Result<()> {
        self.0.broadcast(root, buf)
    }
    fn barrier(&self) -> lockstep_distributed::Result<()> {
        self.0.barrier()
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> lockstep_distributed::Result<()> {
        self.0.all_reduce_sum_f32(buf)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// `run_dir/rank-<r>.pid`.
pub(crate) fn pid_file(run_dir: &Path, rank: u32) -> PathBuf {
    run_dir.join(format!("rank-{rank}.pid"))
}

/// Rank `r`'s copy of a rank-0 file name: `result.json` → `result-rank1.json`
/// (ranks above 0 write their results there).
pub fn rank_file(path: &Path, rank: u32) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let ext = path.extension().map(|s| s.to_string_lossy().into_owned());
    let name = match (stem, ext) {
        (Some(s), Some(e)) => format!("{s}-rank{rank}.{e}"),
        (Some(s), None) => format!("{s}-rank{rank}"),
        _ => format!("rank{rank}"),
    };
    path.with_file_name(name)
}

/// What the distributed section needs from the suite.
pub(crate) struct Section<'a> {
    /// The worker binary.
    pub exe: &'a Path,
    /// Builds a spec named `name` on the data (the suite's defaults).
    pub spec: &'a dyn Fn(&str) -> WorkerSpec,
    /// The data.
    pub data: &'a DataPaths,
}

fn stage_spec(section: &Section<'_>, name: &str, world: u32) -> WorkerSpec {
    let mut s = (section.spec)(name);
    s.steps = STEPS;
    s.threads = 1;
    s.world = world;
    s.micro_batches = MICRO_BATCHES;
    s.evaluate = false;
    s.data = section.data.clone();
    s
}

/// Runs the section; returns its rows (a row per promise).
pub(crate) fn section(section: &Section<'_>) -> Result<Vec<CheckRow>> {
    if let Some(reason) = unavailable() {
        return Ok(vec![CheckRow::new(
            Stage::EndToEnd,
            "distributed: skipped",
            true,
            format!("not run: {reason}"),
        )]);
    }
    let mut rows = Vec::new();
    let w1 = stage_spec(section, "dist-w1", 1);
    let w2 = stage_spec(section, "dist-w2", 2);
    let w2b = stage_spec(section, "dist-w2-again", 2);
    let w4 = stage_spec(section, "dist-w4", 4);
    let mut fast = stage_spec(section, "dist-fast-w2", 2);
    fast.reduction = GradientReduction::AllReduce;
    let [r1, r2] = run_jobs(section.exe, [w1.clone(), w2.clone()])?;
    let [r4] = run_jobs(section.exe, [w4.clone()])?;
    let [r2b, _] = run_jobs(section.exe, [w2b.clone(), fast.clone()])?;
    let traces = [&w1, &w2, &w4]
        .into_iter()
        .map(|s| read_trace(&s.files().trace()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let first_difference = traces[1..]
        .iter()
        .find_map(|t| compare_records(&traces[0], t));
    let mut hashes: Vec<String> = traces.iter().map(|t| trace_digest(t)).collect();
    hashes.extend([&r1, &r2, &r4].iter().map(|r| short(&r.model_fingerprint)));
    let ranks_agree = rank_results(&w2)?
        .iter()
        .chain(&rank_results(&w4)?)
        .all(|r| r.model_fingerprint == r1.model_fingerprint);
    rows.push(
        CheckRow::new(
            Stage::EndToEnd,
            "distributed: W = 1, 2, 4 equal",
            first_difference.is_none()
                && ranks_agree
                && r1.model_fingerprint == r2.model_fingerprint
                && r1.model_fingerprint == r4.model_fingerprint,
            match &first_difference {
                None => format!(
                    "{STEPS} steps of {MICRO_BATCHES} micro-batches: per-step traces and final \
                     weights of every rank equal at 1, 2 and 4 ranks"
                ),
                Some(d) => format!("diverged: {d}"),
            },
        )
        .with_hashes(hashes),
    );
    rows.push(CheckRow::equal(
        Stage::EndToEnd,
        "distributed: W = 2 twice equal",
        vec![short(&r2.model_fingerprint), short(&r2b.model_fingerprint)],
        "two jobs of 2 ranks, final weights",
    ));
    let fast_trace = read_trace(&fast.files().trace())?;
    let located = compare_records(&traces[0], &fast_trace);
    rows.push(CheckRow::new(
        Stage::Control,
        "distributed: world-dependent sum order caught",
        matches!(&located, Some(d) if d.phase == Phase::Backward && !d.tensor.is_empty()),
        match &located {
            Some(d) => format!(
                "the fast all-reduce at W = 2 against the ordered sum at W = 1: first \
                 difference at step {}, {} {}.{}",
                d.step, d.phase, d.module, d.tensor
            ),
            None => "not caught: the traces are equal".into(),
        },
    ));
    rows.extend(kill_and_resume(section, &w1, &r1, &traces[0])?);
    Ok(rows)
}

fn short(fp: &str) -> String {
    fp.chars().take(12).collect()
}

/// Every rank's result of a finished job (rank 0's is the run's own result file).
fn rank_results(spec: &WorkerSpec) -> Result<Vec<WorkerResult>> {
    (1..spec.world)
        .map(|r| {
            let path = rank_file(&spec.files().result(), r);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            serde_json::from_str(&text).map_err(|e| Error::json(&path, e))
        })
        .collect()
}

fn run_jobs<const N: usize>(exe: &Path, specs: [WorkerSpec; N]) -> Result<[WorkerResult; N]> {
    let results = crate::process::run_all(exe, &specs)?;
    results
        .try_into()
        .map_err(|_: Vec<WorkerResult>| Error::MissingResult {
            name: specs
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Starts `spec` as its ranks with output to its log.
fn spawn(exe: &Path, spec: &WorkerSpec) -> Result<Child> {
    let files = spec.files();
    std::fs::create_dir_all(files.dir()).map_err(|e| Error::io(files.dir(), e))?;
    let spec_path = files.spec();
    let text = serde_json::to_string_pretty(spec).map_err(|e| Error::json(&spec_path, e))?;
    std::fs::write(&spec_path, text).map_err(|e| Error::io(&spec_path, e))?;
    let log_path = files.log();
    let log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
    let log_err = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
    command(exe, &spec_path, spec.world)?
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::io(exe, e))
}

/// What happened when a rank was killed.
pub(crate) struct Kill {
    /// Whether the rank was killed while the job ran (not after it finished).
    pub killed: bool,
    /// The job's exit, if it stopped within the bound.
    pub status: Option<ExitStatus>,
    /// Seconds from the kill to the job's end.
    pub seconds: f64,
}

/// Waits for `latest` (a finished checkpoint), SIGKILLs rank `rank` of the job `child`
/// runs, and waits at most [`STOP_BOUND`] for the whole job to stop (killing the
/// launcher if it does not).
pub(crate) fn kill_rank_after(
    child: &mut Child,
    run_dir: &Path,
    latest: &Path,
    rank: u32,
) -> Result<Kill> {
    loop {
        if latest.exists() {
            break;
        }
        if child
            .try_wait()
            .map_err(|e| Error::io(run_dir, e))?
            .is_some()
        {
            let status = child.wait().map_err(|e| Error::io(run_dir, e))?;
            return Ok(Kill {
                killed: false,
                status: Some(status),
                seconds: 0.0,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid_path = pid_file(run_dir, rank);
    let pid = std::fs::read_to_string(&pid_path).map_err(|e| Error::io(&pid_path, e))?;
    let pid = pid.trim().to_string();
    let sent = Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .map_err(|e| Error::io(Path::new("kill"), e))?;
    let killed_at = Instant::now();
    while killed_at.elapsed() < STOP_BOUND {
        if let Some(status) = child.try_wait().map_err(|e| Error::io(run_dir, e))? {
            return Ok(Kill {
                killed: sent.success(),
                status: Some(status),
                seconds: killed_at.elapsed().as_secs_f64(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Hung: the promise is broken; end it so the suite goes on.
    let _ = child.kill();
    let _ = child.wait();
    Ok(Kill {
        killed: sent.success(),
        status: None,
        seconds: killed_at.elapsed().as_secs_f64(),
    })
}

/// A job at `W = 2` killed (rank 1) after its checkpoint, then resumed at `W = 1`.
fn kill_and_resume(
    section: &Section<'_>,
    w1: &WorkerSpec,
    r1: &WorkerResult,
    trace_w1: &[lockstep_nn::trace::TraceRecord],
) -> Result<Vec<CheckRow>> {
    let mut spec = stage_spec(section, "dist-killed", 2);
    spec.checkpoint_at = Some(CHECKPOINT_AT);
    let mut child = spawn(section.exe, &spec)?;
    let kill = kill_rank_after(
        &mut child,
        &spec.run_dir,
        &spec.files().latest_checkpoint(),
        1,
    );
    let kill = match kill {
        Ok(k) => k,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let log = std::fs::read_to_string(spec.files().log()).unwrap_or_default();
    let stopped = kill.status.is_some_and(|s| !s.success());
    let mut rows = vec![CheckRow::new(
        Stage::Resume,
        "distributed: killed rank stops the job",
        kill.killed && stopped,
        match kill.status {
            Some(status) => format!(
                "rank 1 SIGKILLed after the checkpoint of step {CHECKPOINT_AT}; the job \
                 stopped {:.1} s later ({status}){}",
                kill.seconds,
                log.lines()
                    .rev()
                    .find(|l| l.contains("rank") || l.contains("TERMINATION"))
                    .map(|l| format!(": \"{}\"", l.trim()))
                    .unwrap_or_default()
            ),
            None => format!(
                "the job did not stop within {} s of the kill",
                STOP_BOUND.as_secs()
            ),
        },
    )];
    let checkpoint = lockstep_nn::checkpoint::read_latest(
        &spec.files().checkpoints(),
        lockstep_nn::tch::Device::Cpu,
    );
    rows.push(CheckRow::new(
        Stage::Resume,
        "distributed: checkpoint intact",
        matches!(&checkpoint, Ok(c) if c.manifest.step == CHECKPOINT_AT),
        match &checkpoint {
            Ok(c) => format!(
                "written by rank 0, verified: step {}, model {}",
                c.manifest.step,
                short(&c.manifest.model_fingerprint.to_string())
            ),
            Err(e) => format!("error: {e}"),
        },
    ));
    drop(checkpoint);
    let mut again = spec.clone();
    again.resume = true;
    again.world = 1;
    let [rc] = run_jobs(section.exe, [again.clone()])?;
    let trace_c = read_trace(&again.files().trace())?;
    let tail_w1 = crate::checks::steps_from(trace_w1, CHECKPOINT_AT);
    let diverged = compare_records(&tail_w1, &trace_c);
    rows.push(
        CheckRow::new(
            Stage::Resume,
            "distributed: resumed at W = 1 equals",
            diverged.is_none() && rc.model_fingerprint == r1.model_fingerprint,
            match &diverged {
                None => format!(
                    "trained at 2 ranks to step {CHECKPOINT_AT}, resumed at 1: steps \
                     {CHECKPOINT_AT}..{STEPS} and final weights equal the uninterrupted W = 1 run ({})",
                    w1.name
                ),
                Some(d) => format!("diverged: {d}"),
            },
        )
        .with_hashes(vec![short(&r1.model_fingerprint), short(&rc.model_fingerprint)]),
    );
    let _ = steps_before;
    Ok(rows)
}
