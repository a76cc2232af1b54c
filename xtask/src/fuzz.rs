//! `cargo xtask fuzz [TARGET…] [--seconds N] [--execs N]`: coverage-guided fuzzing of
//! the `lockstep-fuzz` targets with AFL++, on stable Rust, from crates.io only.
//!
//! - `cargo-afl` (pinned) is installed into `target/tools/` on first use, and AFL++
//!   (bundled in it as source) is built into `target/tools/share/afl.rs/`.
//! - `fuzz/afl` (outside the workspace) is built with `cargo afl build --release` into
//!   `target/fuzz/build`, with libtorch's environment (the checkpoint targets link it);
//!   `--no-build` reuses the last build.
//! - Each target runs under `afl-fuzz` for N seconds (default 600) or N executions,
//!   one after another, from `fuzz/corpus/<target>/`, writing `target/fuzz/out/<target>/`.
//! - The figures of `fuzzer_stats` go to `target/fuzz/summary.{md,json}` (merged with
//!   earlier runs of other targets); crash and hang inputs are copied to
//!   `target/fuzz/{crashes,hangs}/<target>/`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::{libtorch, workspace};

/// The cargo-afl release used (it bundles the AFL++ sources it builds).
const CARGO_AFL_VERSION: &str = "0.18.2";
/// Every target of `fuzz/src/lib.rs`, in its order.
const TARGETS: &[&str] = &[
    "coco_annotations",
    "seed_tree_json",
    "sampler_state",
    "buffered_shuffle_state",
    "interleave_state",
    "compose_json",
    "op_json",
    "checkpoint_manifest",
    "safetensors",
    "nms",
    "metrics",
    "repro_cli",
];

/// The command line of `cargo xtask fuzz`.
#[derive(Debug, PartialEq)]
struct Args {
    targets: Vec<String>,
    seconds: u64,
    execs: Option<u64>,
    /// Reuse the last build of the harness (`--no-build`).
    no_build: bool,
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut out = Args {
        targets: Vec::new(),
        seconds: 600,
        execs: None,
        no_build: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64> {
            let text = it.next().with_context(|| format!("{name} needs a value"))?;
            text.parse()
                .with_context(|| format!("{name} takes a whole number, not `{text}`"))
        };
        match arg.as_str() {
            "--seconds" => out.seconds = number("--seconds")?.max(1),
            "--execs" => out.execs = Some(number("--execs")?.max(1)),
            "--no-build" => out.no_build = true,
            name if TARGETS.contains(&name) => out.targets.push(name.to_string()),
            other => bail!(
                "unknown fuzz target or option `{other}`; targets: {}",
                TARGETS.join(" ")
            ),
        }
    }
    if out.targets.is_empty() {
        out.targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok(out)
}

/// One target's figures, from AFL++'s `fuzzer_stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Row {
    target: String,
    execs_done: u64,
    execs_per_sec: f64,
    wall_seconds: f64,
    corpus_count: u64,
    edges_found: u64,
    total_edges: u64,
    bitmap_cvg: String,
    saved_crashes: u64,
    saved_hangs: u64,
    date: String,
    afl_version: String,
    command: String,
}

/// `key : value` lines of a `fuzzer_stats` file.
fn parse_stats(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The UTC date of a Unix time, `YYYY-MM-DD` (the civil-from-days algorithm).
fn utc_date(unix: u64) -> String {
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn row(target: &str, stats: &BTreeMap<String, String>, wall: f64, command: &str) -> Row {
    let int = |k: &str| stats.get(k).and_then(|v| v.parse().ok()).unwrap_or(0u64);
    let text = |k: &str| stats.get(k).cloned().unwrap_or_default();
    Row {
        target: target.to_string(),
        execs_done: int("execs_done"),
        execs_per_sec: stats
            .get("execs_per_sec")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        wall_seconds: wall,
        corpus_count: int("corpus_count"),
        edges_found: int("edges_found"),
        total_edges: int("total_edges"),
        bitmap_cvg: text("bitmap_cvg"),
        saved_crashes: int("saved_crashes"),
        saved_hangs: int("saved_hangs"),
        date: utc_date(int("start_time")),
        afl_version: text("afl_version"),
        command: command.to_string(),
    }
}

/// The rows of an earlier summary, by target; none when there is none or it is unreadable.
fn read_rows(summary_json: &Path) -> BTreeMap<String, Row> {
    std::fs::read_to_string(summary_json)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<Row>>(&t).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.target.clone(), r))
        .collect()
}

fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| target | executions | execs/s | wall s | corpus | edges (bitmap) | crashes | hangs | date | AFL++ |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| `{}` | {} | {:.0} | {:.0} | {} | {}/{} ({}) | {} | {} | {} | {} |\n",
            r.target,
            r.execs_done,
            r.execs_per_sec,
            r.wall_seconds,
            r.corpus_count,
            r.edges_found,
            r.total_edges,
            r.bitmap_cvg,
            r.saved_crashes,
            r.saved_hangs,
            r.date,
            r.afl_version
        ));
    }
    out
}

/// Copies AFL's `id:…` files from `from` to `to`, with `:` and `,` made portable.
fn copy_findings(from: &Path, to: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(0);
    };
    let mut n = 0;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("id:") {
            continue;
        }
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        let portable: String = name
            .chars()
            .map(|c| if c == ':' || c == ',' { '_' } else { c })
            .collect();
        std::fs::copy(entry.path(), to.join(portable))
            .with_context(|| format!("copying {}", entry.path().display()))?;
        n += 1;
    }
    Ok(n)
}

/// cargo-afl in `target/tools`, installed on first use; AFL++ built on first use.
fn ensure_afl(tools: &Path, env: &[(String, OsString)]) -> Result<PathBuf> {
    let cargo_afl = tools.join("bin").join("cargo-afl");
    if !cargo_afl.exists() {
        workspace::install_tool("cargo-afl", CARGO_AFL_VERSION, tools)?;
    }
    let afl_share = tools.join("share").join("afl.rs");
    let built = std::fs::read_dir(&afl_share)
        .map(|d| d.count() > 0)
        .unwrap_or(false);
    if !built {
        workspace::step("build AFL++ (cargo afl config --build)");
        workspace::run(
            cargo_afl.as_os_str(),
            &["afl", "config", "--build"].map(std::ffi::OsStr::new),
            env,
        )?;
    }
    Ok(cargo_afl)
}

/// The README-style entry point.
pub fn run(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    let root = workspace::root();
    let target_dir = workspace::target_dir();
    let tools = target_dir.join("tools");
    let fuzz_dir = target_dir.join("fuzz");
    let build_dir = fuzz_dir.join("build");

    let torch = libtorch::ensure()?;
    let mut env = torch.env();
    env.push(("XDG_DATA_HOME".into(), tools.join("share").into_os_string()));
    // cargo-afl runs cargo through `$CARGO`, which is set when cargo runs us.
    env.push((
        "CARGO".into(),
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
    ));
    let cargo_afl = ensure_afl(&tools, &env)?;

    let harness = build_dir.join("release").join("lockstep-fuzz-afl");
    if args.no_build && harness.exists() {
        workspace::step("reuse the last build of the AFL++ harness (--no-build)");
    } else {
        workspace::step("build the AFL++ harness (fuzz/afl, release, instrumented)");
        let mut build_env = env.clone();
        build_env.push((
            "CARGO_TARGET_DIR".into(),
            build_dir.clone().into_os_string(),
        ));
        let manifest = root.join("fuzz").join("afl").join("Cargo.toml");
        workspace::run(
            cargo_afl.as_os_str(),
            &[
                "afl".as_ref(),
                "build".as_ref(),
                "--release".as_ref(),
                "--manifest-path".as_ref(),
                manifest.as_os_str(),
            ],
            &build_env,
        )?;
    }

    let summary_json = fuzz_dir.join("summary.json");
    let mut rows = read_rows(&summary_json);
    let mut fuzz_env = env.clone();
    for (k, v) in [
        ("AFL_SKIP_CPUFREQ", "1"),
        ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"),
        ("AFL_NO_UI", "1"),
        // Other jobs share the cores: do not insist on a free one.
        ("AFL_NO_AFFINITY", "1"),
    ] {
        fuzz_env.push((k.into(), v.into()));
    }
    let mut findings = 0;
    for target in &args.targets {
        let corpus = root.join("fuzz").join("corpus").join(target);
        let out = fuzz_dir.join("out").join(target);
        // A previous run of this command made it; afl-fuzz wants a fresh folder.
        if out.exists() {
            std::fs::remove_dir_all(&out)
                .with_context(|| format!("removing the previous run {}", out.display()))?;
        }
        std::fs::create_dir_all(fuzz_dir.join("out")).context("creating target/fuzz/out")?;
        let seconds = args.seconds.to_string();
        let mut afl_args: Vec<OsString> = vec![
            "afl".into(),
            "fuzz".into(),
            "-i".into(),
            corpus.into_os_string(),
            "-o".into(),
            out.clone().into_os_string(),
            "-V".into(),
            seconds.into(),
            // Other jobs share the cores: a fixed, generous limit keeps their load from
            // turning slow executions into false hangs (AFL++ would pick ~20 ms).
            "-t".into(),
            "1000".into(),
        ];
        if let Some(execs) = args.execs {
            afl_args.extend(["-E".into(), execs.to_string().into()]);
        }
        afl_args.extend(["--".into(), harness.clone().into_os_string(), target.into()]);
        let command = format!(
            "cargo xtask fuzz {target} --seconds {}{}",
            args.seconds,
            args.execs
                .map(|e| format!(" --execs {e}"))
                .unwrap_or_default()
        );
        workspace::step(&format!("fuzz {target} ({command})"));
        let started = Instant::now();
        let refs: Vec<&std::ffi::OsStr> = afl_args.iter().map(OsString::as_os_str).collect();
        workspace::run(cargo_afl.as_os_str(), &refs, &fuzz_env)?;
        let wall = started.elapsed().as_secs_f64();
        let stats_path = out.join("default").join("fuzzer_stats");
        let stats = std::fs::read_to_string(&stats_path)
            .with_context(|| format!("reading {}", stats_path.display()))?;
        let r = row(target, &parse_stats(&stats), wall, &command);
        let crashes = copy_findings(
            &out.join("default").join("crashes"),
            &fuzz_dir.join("crashes").join(target),
        )?;
        let hangs = copy_findings(
            &out.join("default").join("hangs"),
            &fuzz_dir.join("hangs").join(target),
        )?;
        findings += crashes + hangs;
        eprintln!(
            "    {target}: {} executions ({:.0}/s), corpus {}, bitmap {}, {crashes} crashes, {hangs} hangs",
            r.execs_done, r.execs_per_sec, r.corpus_count, r.bitmap_cvg
        );
        // Read again: another `cargo xtask fuzz` may have added its rows meanwhile.
        rows.extend(read_rows(&summary_json));
        rows.insert(target.clone(), r);
        let ordered: Vec<Row> = TARGETS
            .iter()
            .filter_map(|t| rows.get(*t).cloned())
            .collect();
        std::fs::write(&summary_json, serde_json::to_string_pretty(&ordered)?)
            .with_context(|| format!("writing {}", summary_json.display()))?;
        std::fs::write(fuzz_dir.join("summary.md"), markdown(&ordered))
            .context("writing target/fuzz/summary.md")?;
    }
    workspace::step(&format!(
        "summary: {}",
        fuzz_dir.join("summary.md").display()
    ));
    if findings > 0 {
        bail!(
            "{findings} crash or hang inputs: see {} and {}",
            fuzz_dir.join("crashes").display(),
            fuzz_dir.join("hangs").display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let args: Vec<String> = [
            "nms",
            "--seconds",
            "5",
            "metrics",
            "--execs",
            "100",
            "--no-build",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            parse_args(&args).unwrap(),
            Args {
                targets: vec!["nms".into(), "metrics".into()],
                seconds: 5,
                execs: Some(100),
                no_build: true,
            }
        );
        assert_eq!(parse_args(&[]).unwrap().targets.len(), TARGETS.len());
        assert!(parse_args(&["nope".into()]).is_err());
        assert!(parse_args(&["--seconds".into(), "x".into()]).is_err());
    }

    #[test]
    fn the_target_list_is_lockstep_fuzz_s() {
        let lib = std::fs::read_to_string(workspace::root().join("fuzz/src/lib.rs")).unwrap();
        let listed = lib.matches("    (\"").count();
        assert_eq!(
            listed,
            TARGETS.len(),
            "fuzz/src/lib.rs lists {listed} targets"
        );
        for t in TARGETS {
            assert!(
                lib.contains(&format!("(\"{t}\", {t})")),
                "{t} is not in TARGETS"
            );
        }
    }

    #[test]
    fn stats_and_dates() {
        let stats = parse_stats(
            "start_time        : 1764633600\nexecs_done        : 1234\nbitmap_cvg        : 1.50%\n",
        );
        let r = row("nms", &stats, 2.0, "cmd");
        assert_eq!(r.execs_done, 1234);
        assert_eq!(r.bitmap_cvg, "1.50%");
        assert_eq!(r.date, "2025-12-02");
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
    }
}
