//! The suite: dataset, stage checks, two training processes, a killed-and-resumed
//! process, negative controls, quality, and the report. The processes are started by
//! `process`, their files named by [`crate::layout`], their verdicts decided by
//! `checks`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use lockstep_nn::trace::{compare_records, read_trace, Divergence, TraceRecord};
use lockstep_nn::DeterminismMode;
use lockstep_seeding::SeedTree;

use crate::checks::{self, steps_before};
use crate::dataset_check::{self, DataPolicy};
use crate::draw;
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::layout::{DataPaths, Layout};
use crate::options::Options;
use crate::owned;
use crate::plot::{self, Curve};
use crate::process::{self, Workers};
use crate::report::{self, CheckRow, Report};
use crate::shapes::{self, ShapesConfig};
use crate::stages;
use crate::worker::{Injection, WorkerResult, WorkerSpec};

/// Runs the whole suite with the worker binary `exe`, prints the console table, and
/// writes the report into `options.out`.
///
/// ```no_run
/// use lockstep_repro::options::Options;
/// let options = Options::parse(&["--quick".to_string()])?;
/// let exe = std::env::current_exe()?; // a binary that runs `worker SPEC` as lockstep-repro does
/// let report = lockstep_repro::suite::run(&options, &exe)?;
/// println!("{}", if report.passed { "PASS" } else { "FAIL" });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(options: &Options, exe: &Path) -> Result<Report> {
    options.validate()?;
    let started = Instant::now();
    let layout = Layout::new(&options.out);
    // Only folders that carry the suite's marker are ever replaced: a user's folder
    // given as --out is refused before anything is written (see `owned`).
    owned::claim(layout.out())?;
    let root = SeedTree::from_u64(options.seed);
    let mut suite = Suite {
        options: options.clone(),
        exe: exe.to_path_buf(),
        layout: layout.clone(),
        rows: Vec::new(),
        timings: Vec::new(),
        user_data_hash: None,
        data_policy: DataPolicy::default(),
    };
    // Every folder is checked before any is replaced, so a refusal removes nothing.
    for dir in layout.owned_folders(options.data.is_none()) {
        if let owned::State::Foreign(reason) = owned::state(&dir)? {
            return Err(Error::NotOurs { path: dir, reason });
        }
    }
    owned::fresh(&layout.runs())?;

    section("dataset");
    let t = Instant::now();
    let data = suite.dataset(&root)?;
    // Both splits checked completely, every image decoded, before anything trains.
    let checked = dataset_check::section(&data, options, &layout)?;
    suite.push(checks::dataset_checked(&checked.summary));
    suite.data_policy = checked.policy.clone();
    suite.time("dataset", t);

    section("stage checks");
    let t = Instant::now();
    for row in stages::run_all(&root.child("stages")) {
        suite.push(row);
    }
    suite.time("stage checks", t);

    let steps = options.steps();
    section(&format!("end to end: two processes, {steps} steps each"));
    let t = Instant::now();
    let (a, b) = (suite.spec("run-a", &data), suite.spec("run-b", &data));
    let [ra, rb] = suite.run_workers([a.clone(), b.clone()])?;
    suite.time("two training processes", t);
    let trace_a = read_trace(&a.files().trace())?;
    let trace_b = read_trace(&b.files().trace())?;
    suite.push_all(checks::end_to_end(&ra, &rb, &trace_a, &trace_b));

    section("resume: a third process killed mid-run, resumed in a fourth");
    let t = Instant::now();
    let kill_at = 1 + root.child("repro").child("kill-step").u64_at(0) % (steps - 2);
    let resumed = suite.resume(&data, kill_at, &ra, &trace_a)?;
    suite.time("kill and resume", t);

    section("controls: the suite must catch these");
    let t = Instant::now();
    let perturbed_step =
        1 + root.child("repro").child("perturbed-step").u64_at(0) % (steps.min(12) - 1);
    let control_curves = suite.controls(&data, perturbed_step, &trace_a)?;
    suite.time("controls", t);

    section(&format!(
        "distributed: W = 1, 2, 4 ranks, {} micro-batches, 1 thread each",
        crate::distributed::MICRO_BATCHES
    ));
    let t = Instant::now();
    let rows = crate::distributed::section(&crate::distributed::Section {
        exe,
        spec: &|name| suite.spec(name, &data),
        data: &data,
    })?;
    suite.push_all(rows);
    suite.time("distributed", t);

    section("quality");
    suite.push(checks::quality(options, &ra));
    suite.user_data_unchanged()?;

    let curves = vec![
        Curve::of("run A", &ra.losses),
        Curve::of("run B (another process)", &rb.losses),
        Curve::of(
            &format!("run C (killed at step {kill_at}, resumed)"),
            &resumed.losses,
        ),
    ];
    plot::loss_curves(
        &layout.loss_svg(),
        "Training loss: same seed, separate processes",
        &curves,
        None,
    )?;
    let mut controls = vec![Curve::of("run A", &ra.losses[..ra.losses.len().min(24)])];
    controls.extend(control_curves);
    plot::loss_curves(
        &layout.controls_svg(),
        &format!("Controls: data order perturbed at step {perturbed_step}"),
        &controls,
        Some((
            perturbed_step as usize,
            format!("data order perturbed: step {perturbed_step}"),
        )),
    )?;
    draw::detections(
        &data,
        &checked,
        &ra,
        options.input_size,
        &layout.detections_png(),
    )?;

    suite.time("total", started);
    let passed = suite.rows.iter().all(|r| r.pass);
    let report = Report {
        options: options.clone(),
        environment: Environment::current(),
        determinism: Some(ra.determinism.clone()),
        rows: suite.rows,
        map_50: ra.map_50,
        map: ra.map,
        steps_per_second: (ra.train_seconds > 0.0).then(|| ra.steps_done as f64 / ra.train_seconds),
        input_images_per_second: (ra.input_seconds > 0.0)
            .then(|| ra.input_images as f64 / ra.input_seconds),
        per_class: report::per_class_rows(&ra.per_class, &checked.classes),
        dataset: Some(checked.summary),
        timings: suite.timings,
        passed,
    };
    report.write(layout.out())?;
    Ok(report)
}

fn section(title: &str) {
    eprintln!("\n── {title}");
}

struct Suite {
    options: Options,
    /// A user's dataset (`--data`) and its content hash before the runs.
    user_data_hash: Option<(PathBuf, String)>,
    exe: PathBuf,
    layout: Layout,
    rows: Vec<CheckRow>,
    timings: Vec<(String, f64)>,
    /// The images the start-up dataset check left out, for every worker.
    data_policy: DataPolicy,
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

    fn push_all(&mut self, rows: Vec<CheckRow>) {
        for row in rows {
            self.push(row);
        }
    }

    /// Records the seconds since `since` for `phase`.
    fn time(&mut self, phase: &str, since: Instant) {
        self.timings
            .push((phase.into(), since.elapsed().as_secs_f64()));
    }

    /// Runs `specs` as concurrent worker processes and returns their results in order.
    fn run_workers<const N: usize>(&self, specs: [WorkerSpec; N]) -> Result<[WorkerResult; N]> {
        let results = process::run_all(&self.exe, &specs)?;
        results
            .try_into()
            .map_err(|_: Vec<WorkerResult>| Error::MissingResult {
                name: specs
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The built-in dataset, generated twice and compared, or the user's.
    fn dataset(&mut self, root: &SeedTree) -> Result<DataPaths> {
        if let Some(dir) = self.options.data.clone() {
            // Compared with a second hash after the runs (`user_data_unchanged`).
            self.user_data_hash = Some((dir.clone(), shapes::hash_tree(&dir)?));
            return Ok(self.options.data_paths(&dir));
        }
        let config = if self.options.quick {
            ShapesConfig::QUICK
        } else {
            ShapesConfig::FULL
        };
        let node = root.child("shapes");
        let dir = self.layout.data();
        owned::fresh(&dir)?;
        let first = shapes::generate(&node, config, &dir)?;
        let check_dir = self.layout.data_again();
        owned::fresh(&check_dir)?;
        let second = shapes::generate(&node, config, &check_dir)?;
        owned::remove(&check_dir)?;
        self.push(checks::generated_twice(config, &first, &second));
        self.push(shapes::pinned_check(
            self.options.seed,
            config,
            &first.content_hash,
        ));
        Ok(first.paths())
    }

    fn spec(&self, name: &str, data: &DataPaths) -> WorkerSpec {
        WorkerSpec {
            name: name.into(),
            run_dir: self.layout.run(name),
            data: data.clone(),
            seed: self.options.seed,
            steps: self.options.steps(),
            stop_after: None,
            threads: self.options.threads,
            device: self.options.device,
            mode: DeterminismMode::Strict,
            checkpoint_at: None,
            resume: false,
            inject: None,
            evaluate: true,
            data_policy: self.data_policy.clone(),
            input_size: self.options.input_size,
            world: self.options.world,
            micro_batches: u64::from(self.options.world),
            reduction: lockstep_nn::GradientReduction::Ordered,
        }
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
        let mut run_c = Workers::new(&self.exe);
        run_c.spawn(&spec)?;
        let killed = run_c.kill_after_checkpoint()?;
        drop(run_c);
        // Best effort: the mark only annotates the row.
        let progressed = std::fs::read_to_string(spec.files().progress()).unwrap_or_default();
        self.push(checks::killed(kill_at, killed, &progressed));
        let mut again = spec;
        again.resume = true;
        let [rc] = self.run_workers([again.clone()])?;
        let trace_c = read_trace(&again.files().trace())?;
        self.push_all(checks::resumed(kill_at, ra, &rc, trace_a, &trace_c));
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
        let [r_seed, r_order] = self.run_workers([seed.clone(), order.clone()])?;
        let [r_clock] = self.run_workers([clock.clone()])?;
        let head = steps_before(trace_a, prefix);
        let located = |spec: &WorkerSpec| -> Result<Option<Divergence>> {
            let trace = read_trace(&spec.files().trace())?;
            Ok(compare_records(&head, &trace))
        };
        self.push(checks::another_seed(located(&seed)?.as_ref()));
        self.push(checks::data_order(
            perturbed_step,
            located(&order)?.as_ref(),
        ));
        self.push(checks::clock_init(located(&clock)?.as_ref()));
        Ok(vec![
            Curve::of("another seed", &r_seed.losses),
            Curve::of("data order perturbed", &r_order.losses),
            Curve::of("clock-seeded init", &r_clock.losses),
        ])
    }

    /// A user's dataset hashes the same after the runs as before them.
    fn user_data_unchanged(&mut self) -> Result<()> {
        let Some((dir, before)) = self.user_data_hash.clone() else {
            return Ok(());
        };
        let after = shapes::hash_tree(&dir)?;
        self.push(checks::user_data_unchanged(&dir, &before, &after));
        Ok(())
    }
}
