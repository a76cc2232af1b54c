//! The suite: dataset, stage checks, two training processes, a killed-and-resumed
//! process, negative controls, quality, and the report.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lockstep_nn::trace::{compare_records, read_trace, Divergence, Phase, TraceRecord};
use lockstep_nn::Mode;
use lockstep_seeding::SeedTree;

use crate::draw::{self, Drawn};
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::owned;
use crate::plot::{self, Curve};
use crate::report::Report;
use crate::shapes::{self, ShapesConfig};
use crate::stages::{self, short_hash, CheckRow};
use crate::worker::{self, DataPaths, Injection, WorkerResult, WorkerSpec};

/// Runs the whole suite with the worker binary `exe`, prints the console table, and
/// writes the report into `options.out`.
pub fn run(options: &Options, exe: &Path) -> Result<Report> {
    options.validate()?;
    let started = Instant::now();
    let out = options.out.clone();
    // Only folders that carry the suite's marker are ever replaced: a user's folder
    // given as --out is refused before anything is written (see `owned`).
    owned::claim(&out)?;
    let root = SeedTree::from_u64(options.seed);
    let mut suite = Suite {
        options: options.clone(),
        exe: exe.to_path_buf(),
        runs: out.join("runs"),
        rows: Vec::new(),
        timings: Vec::new(),
        user_data_hash: None,
    };
    // Every folder is checked before any is replaced, so a refusal removes nothing.
    for dir in suite.owned_folders(&out) {
        if let owned::State::Foreign(reason) = owned::state(&dir)? {
            return Err(Error::NotOurs { path: dir, reason });
        }
    }
    owned::fresh(&suite.runs)?;

    section("dataset");
    let t = Instant::now();
    let data = suite.dataset(&root, &out)?;
    suite
        .timings
        .push(("dataset".into(), t.elapsed().as_secs_f64()));

    section("stage checks");
    let t = Instant::now();
    for row in stages::run_all(&root.child("stages")) {
        suite.push(row);
    }
    suite
        .timings
        .push(("stage checks".into(), t.elapsed().as_secs_f64()));

    let steps = options.steps();
    section(&format!("end to end: two processes, {steps} steps each"));
    let t = Instant::now();
    let spec = |name: &str| suite.spec(name, &data);
    let (a, b) = (spec("run-a"), spec("run-b"));
    let mut results = suite.run_workers(&[a.clone(), b.clone()])?;
    let rb = results
        .pop()
        .ok_or_else(|| Error::Config("no result for run-b".into()))?;
    let ra = results
        .pop()
        .ok_or_else(|| Error::Config("no result for run-a".into()))?;
    suite
        .timings
        .push(("two training processes".into(), t.elapsed().as_secs_f64()));
    let trace_a = read_trace(&worker::trace_path(&a.run_dir, false))?;
    let trace_b = read_trace(&worker::trace_path(&b.run_dir, false))?;
    suite.end_to_end(&ra, &rb, &trace_a, &trace_b);

    section("resume: a third process killed mid-run, resumed in a fourth");
    let t = Instant::now();
    let kill_at = 1 + root.child("repro").child("kill-step").u64_at(0) % (steps - 2);
    let resumed = suite.resume(&data, kill_at, &ra, &trace_a)?;
    suite
        .timings
        .push(("kill and resume".into(), t.elapsed().as_secs_f64()));

    section("controls: the suite must catch these");
    let t = Instant::now();
    let perturbed_step =
        1 + root.child("repro").child("perturbed-step").u64_at(0) % (steps.min(12) - 1);
    let control_curves = suite.controls(&data, perturbed_step, &trace_a)?;
    suite
        .timings
        .push(("controls".into(), t.elapsed().as_secs_f64()));

    section("quality");
    suite.quality(&ra);
    suite.user_data_unchanged()?;

    let mut curves = vec![
        Curve {
            name: "run A".into(),
            losses: widen(&ra.losses),
        },
        Curve {
            name: "run B (another process)".into(),
            losses: widen(&rb.losses),
        },
    ];
    curves.push(Curve {
        name: format!("run C (killed at step {kill_at}, resumed)"),
        losses: widen(&resumed.losses),
    });
    plot::loss_curves(
        &out.join("loss.svg"),
        "Training loss: same seed, separate processes",
        &curves,
        None,
    )?;
    let mut controls = vec![Curve {
        name: "run A".into(),
        losses: widen(&ra.losses[..ra.losses.len().min(24)]),
    }];
    controls.extend(control_curves);
    plot::loss_curves(
        &out.join("controls.svg"),
        &format!("Controls: data order perturbed at step {perturbed_step}"),
        &controls,
        Some((
            perturbed_step as usize,
            format!("data order perturbed: step {perturbed_step}"),
        )),
    )?;
    draw_detections(&data, &ra, &out.join("detections.png"))?;

    suite
        .timings
        .push(("total".into(), started.elapsed().as_secs_f64()));
    let passed = suite.rows.iter().all(|r| r.pass);
    let report = Report {
        options: options.clone(),
        environment: Environment::current(),
        determinism: Some(ra.determinism.clone()),
        rows: suite.rows,
        map_50: ra.map_50,
        map: ra.map,
        steps_per_second: (ra.train_seconds > 0.0).then(|| ra.steps_done as f64 / ra.train_seconds),
        timings: suite.timings,
        passed,
    };
    report.write(&out)?;
    Ok(report)
}

/// The first `n` bytes of a hash for the table, or all of it when shorter: hashes in
/// result files are read back from disk, so their length is not trusted.
fn prefix(hash: &str, n: usize) -> String {
    hash.get(..n).unwrap_or(hash).to_string()
}

fn widen(losses: &[f32]) -> Vec<f64> {
    losses.iter().map(|&l| f64::from(l)).collect()
}

fn section(title: &str) {
    eprintln!("\n── {title}");
}

struct Suite {
    options: Options,
    /// A user's dataset (`--data`) and its content hash before the runs.
    user_data_hash: Option<(PathBuf, String)>,
    exe: PathBuf,
    runs: PathBuf,
    rows: Vec<CheckRow>,
    timings: Vec<(String, f64)>,
}

impl Suite {
    /// Prints a row as it is decided, and keeps it.
    fn push(&mut self, row: CheckRow) {
        eprintln!(
            "  {:<4}  {:<12} {:<44} {}",
            if row.pass { "PASS" } else { "FAIL" },
            row.stage,
            row.check,
            row.hashes.join(" ")
        );
        if !row.pass || !row.detail.is_empty() {
            eprintln!("        {}", row.detail);
        }
        self.rows.push(row);
    }

    /// The built-in dataset, generated twice and compared, or the user's.
    fn dataset(&mut self, root: &SeedTree, out: &Path) -> Result<DataPaths> {
        if let Some(dir) = self.options.data.clone() {
            // Compared with a second hash after the runs (`user_data_unchanged`).
            self.user_data_hash = Some((dir.clone(), shapes::hash_tree(&dir)?));
            return Ok(DataPaths::under(&dir));
        }
        let config = if self.options.quick {
            ShapesConfig::QUICK
        } else {
            ShapesConfig::FULL
        };
        let node = root.child("shapes");
        let dir = out.join("data");
        owned::fresh(&dir)?;
        let first = shapes::generate(&node, config, &dir)?;
        let check_dir = out.join("data-again");
        owned::fresh(&check_dir)?;
        let second = shapes::generate(&node, config, &check_dir)?;
        owned::remove(&check_dir)?;
        // Both hashes cover exactly the files each generation wrote, listed by name, so
        // nothing else in the folder can change the verdict.
        let pass = first.files == second.files && first.content_hash == second.content_hash;
        self.push(CheckRow {
            stage: "dataset".into(),
            check: "shapes set generated twice".into(),
            hashes: vec![
                prefix(&first.content_hash, 16),
                prefix(&second.content_hash, 16),
            ],
            pass,
            detail: format!(
                "{} train + {} val images of {}², PNG + COCO instances.json, byte-identical ({} files)",
                config.train_images,
                config.val_images,
                config.image_size,
                first.files.len()
            ),
        });
        self.push(shapes::pinned_check(
            self.options.seed,
            config,
            &first.content_hash,
        ));
        Ok(first.paths())
    }

    /// The folders under `out` that this run replaces.
    fn owned_folders(&self, out: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![self.runs.clone()];
        if self.options.data.is_none() {
            dirs.extend([out.join("data"), out.join("data-again")]);
        }
        dirs
    }

    fn spec(&self, name: &str, data: &DataPaths) -> WorkerSpec {
        WorkerSpec {
            name: name.into(),
            run_dir: self.runs.join(name),
            data: data.clone(),
            seed: self.options.seed,
            steps: self.options.steps(),
            stop_after: None,
            threads: self.options.threads,
            device: self.options.device,
            mode: Mode::Strict,
            checkpoint_at: None,
            resume: false,
            inject: None,
            evaluate: true,
        }
    }

    /// Starts a worker process for `spec`, its output going to `run_dir/log.txt`.
    fn start(&self, spec: &WorkerSpec) -> Result<Child> {
        std::fs::create_dir_all(&spec.run_dir).map_err(|e| Error::io(&spec.run_dir, e))?;
        let spec_path = spec.run_dir.join(if spec.resume {
            "spec-resumed.json"
        } else {
            "spec.json"
        });
        let text = serde_json::to_string_pretty(spec).map_err(|e| Error::Config(e.to_string()))?;
        std::fs::write(&spec_path, text).map_err(|e| Error::io(&spec_path, e))?;
        let log_path = spec.run_dir.join(if spec.resume {
            "log-resumed.txt"
        } else {
            "log.txt"
        });
        let log = std::fs::File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let log_err = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
        Command::new(&self.exe)
            .arg("worker")
            .arg(&spec_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| Error::io(&self.exe, e))
    }

    /// Runs `specs` as concurrent processes, showing their progress, and returns their
    /// results in order.
    fn run_workers(&self, specs: &[WorkerSpec]) -> Result<Vec<WorkerResult>> {
        let mut workers = Workers(Vec::new());
        for spec in specs {
            workers.0.push(self.start(spec)?);
        }
        let children = &mut workers.0;
        let mut done = vec![None; specs.len()];
        let mut last_line = String::new();
        let tty = std::io::stderr().is_terminal();
        let mut last_print = Instant::now();
        while done.iter().any(Option::is_none) {
            for (k, child) in children.iter_mut().enumerate() {
                if done[k].is_none() {
                    if let Some(status) = child
                        .try_wait()
                        .map_err(|e| Error::io(&specs[k].run_dir, e))?
                    {
                        done[k] = Some(status);
                    }
                }
            }
            let line = specs
                .iter()
                .map(|s| {
                    let step = std::fs::read_to_string(worker::progress_path(&s.run_dir))
                        .unwrap_or_default();
                    let until = s.stop_after.unwrap_or(s.steps).min(s.steps);
                    format!(
                        "{} {}/{}",
                        s.name,
                        if step.is_empty() { "0" } else { step.trim() },
                        until
                    )
                })
                .collect::<Vec<_>>()
                .join("   ");
            if line != last_line && (tty || last_print.elapsed() > Duration::from_secs(10)) {
                if tty {
                    eprint!("\r  {line}   ");
                    let _ = std::io::stderr().flush();
                } else {
                    eprintln!("  {line}");
                }
                last_line = line;
                last_print = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if tty {
            eprintln!();
        }
        specs
            .iter()
            .zip(done)
            .map(|(spec, status)| {
                let ok = status.is_some_and(|s| s.success());
                if !ok {
                    return Err(worker_failure(spec));
                }
                read_result(spec)
            })
            .collect()
    }

    fn end_to_end(
        &mut self,
        ra: &WorkerResult,
        rb: &WorkerResult,
        trace_a: &[TraceRecord],
        trace_b: &[TraceRecord],
    ) {
        let divergence = compare_records(trace_a, trace_b);
        let steps: Vec<u64> = trace_a.iter().map(|r| r.step).collect();
        let last = steps.last().copied().unwrap_or(0);
        self.push(CheckRow {
            stage: "end to end".into(),
            check: "fingerprints at every step".into(),
            hashes: vec![trace_digest(trace_a), trace_digest(trace_b)],
            pass: divergence.is_none() && !trace_a.is_empty(),
            detail: match &divergence {
                None => format!(
                    "{} tensors over steps 0..={last}: batch, forward, loss, gradients, update",
                    trace_a.len()
                ),
                Some(d) => describe(d),
            },
        });
        self.push(CheckRow {
            stage: "end to end".into(),
            check: "final weights and optimizer state".into(),
            hashes: vec![
                format!(
                    "{}/{}",
                    prefix(&ra.model_fingerprint, 8),
                    prefix(&ra.optimizer_fingerprint, 8)
                ),
                format!(
                    "{}/{}",
                    prefix(&rb.model_fingerprint, 8),
                    prefix(&rb.optimizer_fingerprint, 8)
                ),
            ],
            pass: ra.model_fingerprint == rb.model_fingerprint
                && ra.optimizer_fingerprint == rb.optimizer_fingerprint,
            detail: "model / optimizer fingerprints".into(),
        });
        let dets = |r: &WorkerResult| {
            r.detections_hash
                .as_deref()
                .map(|h| prefix(h, 16))
                .unwrap_or_default()
        };
        self.push(CheckRow {
            stage: "end to end".into(),
            check: "validation detections".into(),
            hashes: vec![dets(ra), dets(rb)],
            pass: ra.detections_hash.is_some() && ra.detections_hash == rb.detections_hash,
            detail: "every box, score and class after NMS, as bits".into(),
        });
        let bits = |r: &WorkerResult| {
            r.map_50
                .map(|m| format!("{:016x}", m.to_bits()))
                .unwrap_or_default()
        };
        self.push(CheckRow {
            stage: "end to end".into(),
            check: "validation mAP".into(),
            hashes: vec![bits(ra), bits(rb)],
            pass: ra.map_50.is_some()
                && ra.map_50.map(f64::to_bits) == rb.map_50.map(f64::to_bits)
                && ra.map.map(f64::to_bits) == rb.map.map(f64::to_bits),
            detail: format!(
                "mAP@0.5 = {:.4} in both, as f64 bits",
                ra.map_50.unwrap_or(f64::NAN)
            ),
        });
    }

    /// Run C: checkpoint at `kill_at`, killed with SIGKILL soon after, resumed in a new
    /// process, compared with run A.
    fn resume(
        &mut self,
        data: &DataPaths,
        kill_at: u64,
        ra: &WorkerResult,
        trace_a: &[TraceRecord],
    ) -> Result<WorkerResult> {
        let mut spec = self.spec("run-c", data);
        spec.checkpoint_at = Some(kill_at);
        spec.evaluate = true;
        let mut run_c = Workers(vec![self.start(&spec)?]);
        let child = &mut run_c.0[0];
        let latest = worker::checkpoint_dir(&spec.run_dir).join("LATEST");
        let killed = loop {
            if latest.exists() {
                // The checkpoint is complete (LATEST is renamed into place last); the
                // run is somewhere after it now. Kill it without warning.
                child.kill().map_err(|e| Error::io(&spec.run_dir, e))?;
                let status = child.wait().map_err(|e| Error::io(&spec.run_dir, e))?;
                // Only death by this SIGKILL counts: a worker that failed by itself
                // after its checkpoint is not a kill.
                break killed_by_sigkill(&status);
            }
            if let Some(status) = child.try_wait().map_err(|e| Error::io(&spec.run_dir, e))? {
                if !status.success() {
                    return Err(worker_failure(&spec));
                }
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let progressed =
            std::fs::read_to_string(worker::progress_path(&spec.run_dir)).unwrap_or_default();
        self.push(CheckRow {
            stage: "resume".into(),
            check: format!("run C killed after its step-{kill_at} checkpoint"),
            hashes: Vec::new(),
            pass: killed,
            detail: format!(
                "SIGKILL while training (last progress mark: step {}); the step is drawn from the seed",
                progressed.trim()
            ),
        });
        let mut again = spec.clone();
        again.resume = true;
        let rc = self
            .run_workers(&[again.clone()])?
            .pop()
            .ok_or_else(|| Error::Config("no result for run-c".into()))?;
        let trace_c = read_trace(&worker::trace_path(&again.run_dir, true))?;
        let tail_a: Vec<TraceRecord> = trace_a
            .iter()
            .filter(|r| r.step >= kill_at)
            .cloned()
            .collect();
        let divergence = compare_records(&tail_a, &trace_c);
        self.push(CheckRow {
            stage: "resume".into(),
            check: format!("fingerprints of steps {kill_at}.. after resume"),
            hashes: vec![trace_digest(&tail_a), trace_digest(&trace_c)],
            pass: divergence.is_none() && !trace_c.is_empty() && rc.start_step == kill_at,
            detail: match &divergence {
                None => format!(
                    "resumed at step {}, {} tensors equal to run A's",
                    rc.start_step,
                    trace_c.len()
                ),
                Some(d) => describe(d),
            },
        });
        self.push(CheckRow {
            stage: "resume".into(),
            check: "final weights, optimizer, detections".into(),
            hashes: vec![
                prefix(&ra.model_fingerprint, 16),
                prefix(&rc.model_fingerprint, 16),
            ],
            pass: rc.model_fingerprint == ra.model_fingerprint
                && rc.optimizer_fingerprint == ra.optimizer_fingerprint
                && rc.detections_hash == ra.detections_hash
                && rc
                    .losses
                    .iter()
                    .map(|l| l.to_bits())
                    .eq(ra.losses.iter().map(|l| l.to_bits())),
            detail: "and the loss of every step, as bits".into(),
        });
        Ok(rc)
    }

    /// Negative controls; each passes only when the locator catches it where expected.
    fn controls(
        &mut self,
        data: &DataPaths,
        perturbed_step: u64,
        trace_a: &[TraceRecord],
    ) -> Result<Vec<Curve>> {
        let prefix = (perturbed_step + 3).min(self.options.steps());
        let mut seed = self.spec("control-seed", data);
        // Another seed, drawn from the tree (never `seed + 1`).
        let control = SeedTree::from_u64(self.options.seed)
            .child("repro")
            .child("control-seed");
        seed.seed = (0..)
            .map(|i| control.u64_at(i))
            .find(|&s| s != self.options.seed)
            .unwrap_or(!self.options.seed);
        seed.stop_after = Some(3);
        seed.evaluate = false;
        let mut order = self.spec("control-data-order", data);
        order.inject = Some(Injection::DataOrder {
            step: perturbed_step,
        });
        order.stop_after = Some(prefix);
        order.evaluate = false;
        let mut clock = self.spec("control-clock-init", data);
        clock.inject = Some(Injection::ClockInit);
        clock.stop_after = Some(3);
        clock.evaluate = false;
        let results = self.run_workers(&[seed.clone(), order.clone()])?;
        let mut results_clock = self.run_workers(&[clock.clone()])?;
        let located = |spec: &WorkerSpec| -> Result<Option<Divergence>> {
            let trace = read_trace(&worker::trace_path(&spec.run_dir, false))?;
            let head: Vec<TraceRecord> = trace_a
                .iter()
                .filter(|r| r.step < prefix)
                .cloned()
                .collect();
            Ok(compare_records(&head, &trace))
        };
        let d = located(&seed)?;
        self.push(CheckRow {
            stage: "control".into(),
            check: "another seed diverges".into(),
            hashes: Vec::new(),
            pass: d
                .as_ref()
                .is_some_and(|d| d.step == 0 && d.what == "values"),
            detail: d
                .as_ref()
                .map(describe)
                .unwrap_or_else(|| "NOT caught: the runs were equal".into()),
        });
        let d = located(&order)?;
        self.push(CheckRow {
            stage: "control".into(),
            check: format!("data order perturbed at step {perturbed_step}"),
            hashes: Vec::new(),
            pass: d.as_ref().is_some_and(|d| {
                d.step == perturbed_step && d.phase == Phase::Batch && d.tensor == "inputs"
            }),
            detail: d
                .as_ref()
                .map(describe)
                .unwrap_or_else(|| "NOT caught: the runs were equal".into()),
        });
        let d = located(&clock)?;
        self.push(CheckRow {
            stage: "control".into(),
            check: "weight init reseeded from the clock".into(),
            hashes: Vec::new(),
            pass: d
                .as_ref()
                .is_some_and(|d| d.step == 0 && d.phase == Phase::Forward && !d.module.is_empty()),
            detail: d
                .as_ref()
                .map(describe)
                .unwrap_or_else(|| "NOT caught: the runs were equal".into()),
        });
        let mut curves = Vec::new();
        for (name, r) in [
            ("another seed", results.first()),
            ("data order perturbed", results.get(1)),
            ("clock-seeded init", results_clock.pop().as_ref()),
        ] {
            if let Some(r) = r {
                curves.push(Curve {
                    name: name.into(),
                    losses: widen(&r.losses),
                });
            }
        }
        Ok(curves)
    }

    /// A user's dataset hashes the same after the runs as before them.
    fn user_data_unchanged(&mut self) -> Result<()> {
        let Some((dir, before)) = self.user_data_hash.clone() else {
            return Ok(());
        };
        let after = shapes::hash_tree(&dir)?;
        self.push(CheckRow {
            stage: "dataset".into(),
            check: "user dataset (--data) unchanged by the suite".into(),
            hashes: vec![prefix(&before, 16), prefix(&after, 16)],
            pass: before == after,
            detail: format!(
                "{}: every file's name and bytes, before and after the runs",
                dir.display()
            ),
        });
        Ok(())
    }

    fn quality(&mut self, ra: &WorkerResult) {
        let m = ra.map_50.unwrap_or(f64::NAN);
        let (check, pass, detail) =
            if self.options.quick || self.options.data.is_some() {
                // The 0.5 bar belongs to the full run on the built-in set; here the mAP is
                // only reported, and the row says so.
                (
                    "validation mAP reported (bar not applied)",
                    ra.map_50.is_some_and(f64::is_finite),
                    format!(
                    "mAP@0.5 = {m:.3}; the 0.5 bar applies to the full run on the built-in set{}",
                    if self.options.quick { ", not to --quick" } else { ", not to --data" }
                ),
                )
            } else {
                (
                    "validation mAP@0.5 >= 0.5",
                    m >= 0.5,
                    format!(
                        "mAP@0.5 = {m:.3} (bar 0.5), mAP@0.5:0.95 = {:.3}",
                        ra.map.unwrap_or(f64::NAN)
                    ),
                )
            };
        self.push(CheckRow {
            stage: "quality".into(),
            check: check.into(),
            hashes: Vec::new(),
            pass,
            detail,
        });
    }
}

/// Whether a worker died of SIGKILL (signal 9 on every Unix).
fn killed_by_sigkill(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// Worker processes that are killed if the suite stops early (an error between start
/// and wait), so none is left running.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn read_result(spec: &WorkerSpec) -> Result<WorkerResult> {
    let path = worker::result_path(&spec.run_dir, spec.resume);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Worker {
        name: spec.name.clone(),
        message: format!("{}: {e}", path.display()),
    })
}

fn worker_failure(spec: &WorkerSpec) -> Error {
    let log = spec.run_dir.join(if spec.resume {
        "log-resumed.txt"
    } else {
        "log.txt"
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(12).collect();
    Error::Worker {
        name: spec.name.clone(),
        message: format!(
            "it exited with an error; the end of {}:\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    }
}

/// A digest of a whole trace, for the table.
fn trace_digest(trace: &[TraceRecord]) -> String {
    let mut bytes = Vec::with_capacity(trace.len() * 32);
    for r in trace {
        bytes.extend_from_slice(&r.fp.0);
    }
    short_hash(&bytes)
}

fn describe(d: &Divergence) -> String {
    let module = if d.module.is_empty() { "-" } else { &d.module };
    let diff = d
        .max_abs_diff
        .map(|v| format!(", max |Δ| = {v:.3e}"))
        .unwrap_or_default();
    format!(
        "first divergence: step {}, phase {:?}, module {module}, tensor {} ({}){diff}",
        d.step, d.phase, d.tensor, d.what
    )
}

/// The side up to which a validation image is drawn enlarged.
const MAX_TILE_SIDE: u32 = 768;

/// The first validation images with ground truth (white) and run A's detections.
fn draw_detections(data: &DataPaths, ra: &WorkerResult, path: &Path) -> Result<()> {
    // Ground truth is drawn in one colour, so the split's own class numbering will do.
    let val = worker::Split::open(&data.val_images, &data.val_instances, None)?;
    let mut tiles = Vec::new();
    // `drawn` is read back from the worker's result file: at most DRAWN_IMAGES are used.
    for (index, dets) in (0..val.len()).zip(ra.drawn.iter().take(worker::DRAWN_IMAGES)) {
        let (_, sample) = val.sample(index)?;
        // Detections are in the training side's pixels; scale them to the image.
        let sx = sample.image.width() as f32 / worker::IMAGE_SIZE as f32;
        let sy = sample.image.height() as f32 / worker::IMAGE_SIZE as f32;
        let truth: Vec<Drawn> = sample
            .boxes
            .iter()
            .map(|b| Drawn {
                bbox: [b.x1, b.y1, b.x2, b.y2],
                class: b.label as usize,
            })
            .collect();
        let found: Vec<Drawn> = dets
            .iter()
            .filter(|d| d.score >= 0.3)
            .map(|d| Drawn {
                bbox: [
                    d.bbox[0] * sx,
                    d.bbox[1] * sy,
                    d.bbox[2] * sx,
                    d.bbox[3] * sy,
                ],
                class: d.class as usize,
            })
            .collect();
        // Small images are shown three times larger; large ones (a user's photos) as
        // they are, so the picture stays a sane size.
        let side = sample.image.width().max(sample.image.height()).max(1);
        let scale = (MAX_TILE_SIDE / side).clamp(1, 3);
        tiles.push(draw::overlay(&sample.image, &truth, &found, scale));
    }
    let picture = draw::grid(&tiles, 4);
    picture.save(path).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
