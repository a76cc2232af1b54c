//! `cargo xtask mutants [CRATE…]`: mutation testing of the pure crates with
//! cargo-mutants, and a per-crate summary of how many mutants the tests catch.
//!
//! - `cargo-mutants` (pinned) is installed into `target/tools/` on first use.
//! - Each crate runs on its own (`-p lockstep-<crate>`, all features, so that code
//!   behind a feature is mutated *and* built), against its own unit and integration
//!   tests (`cargo test --tests`: doctests are examples, and compiling them again for
//!   every mutant would triple the run), into `target/mutants/<crate>/mutants.out`.
//! - `--recheck` tests again only the mutants the last full run missed (after tests
//!   were added), into `target/mutants/<crate>/recheck/mutants.out`; the summary
//!   takes a rechecked mutant's newer outcome.
//! - The equivalent mutants are the table of `docs/testing.md` (crate, mutant without
//!   its line and column, reason): a missed mutant listed there is counted apart, and
//!   a listed one that was caught is reported as a stale entry.
//! - The summary goes to `target/mutants/summary.{md,json}` and the terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::workspace;

/// The cargo-mutants release used; its figures are recorded with this version.
const CARGO_MUTANTS_VERSION: &str = "27.1.0";
/// The crates without native dependencies, whose tests are fast enough to mutate.
const PURE_CRATES: &[&str] = &["seeding", "data", "augment", "postprocess"];
/// Where the equivalent mutants are listed (the section that holds the table).
const EQUIVALENTS_DOC: &str = "docs/testing.md";
const EQUIVALENTS_HEADING: &str = "## Equivalent mutants";

/// What `cargo xtask mutants` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Crates to mutate (names from [`PURE_CRATES`]); all of them when empty.
    pub crates: Vec<String>,
    /// Test only the mutants the last full run missed.
    pub recheck: bool,
    /// `K/N`: only the K-th of N shards of each crate's mutants.
    pub shard: Option<String>,
}

/// Runs cargo-mutants as asked, then writes and prints the summary.
pub fn run(request: &Request) -> Result<()> {
    let crates = selected(&request.crates)?;
    let target = workspace::target_dir();
    let out_root = target.join("mutants");
    let tool = ensure_installed(&target.join("tools"))?;
    for name in &crates {
        let crate_dir = out_root.join(name);
        let mut args: Vec<OsString> = [
            "mutants",
            "--package",
            &format!("lockstep-{name}"),
            "--all-features",
            "--cargo-test-arg=--tests",
            "--no-shuffle",
            "--jobs",
            "1",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let output = if request.recheck {
            let missed = read_lines(&crate_dir.join("mutants.out").join("missed.txt"))
                .with_context(|| format!("--recheck needs a full run of {name} first"))?;
            if missed.is_empty() {
                workspace::step(&format!("{name}: the last full run missed nothing"));
                continue;
            }
            for line in &missed {
                args.push("--re".into());
                args.push(format!("^{}$", regex_escape(line)).into());
            }
            crate_dir.join("recheck")
        } else {
            // A full run replaces the outcomes a recheck refined.
            remove_own_dir(&crate_dir.join("recheck"))?;
            crate_dir.clone()
        };
        std::fs::create_dir_all(&output)
            .with_context(|| format!("creating {}", output.display()))?;
        args.push("--output".into());
        args.push(output.clone().into_os_string());
        if let Some(shard) = &request.shard {
            args.push("--shard".into());
            args.push(shard.into());
        }
        workspace::step(&format!(
            "cargo-mutants on lockstep-{name}{}",
            if request.recheck { " (recheck)" } else { "" }
        ));
        let started = std::time::Instant::now();
        let code = run_status(&tool, &args)?;
        // 0: all caught; 2: some missed; 3: some timed out. Anything else (1: usage,
        // 4: the unmutated tree failed its tests) means the run says nothing.
        if ![0, 2, 3].contains(&code) {
            bail!(
                "cargo-mutants failed on lockstep-{name} (exit code {code}); see its output above"
            );
        }
        workspace::step(&format!(
            "{name}: cargo-mutants took {:.0} s",
            started.elapsed().as_secs_f64()
        ));
    }
    let equivalents = read_equivalents(&workspace::root().join(EQUIVALENTS_DOC))?;
    let mut rows = Vec::new();
    for name in PURE_CRATES {
        let dir = out_root.join(name);
        let Some(outcomes) = load_outcomes(&dir)? else {
            continue;
        };
        rows.push(summarise(name, &outcomes, &equivalents));
    }
    if rows.is_empty() {
        bail!("no outcomes under {}", out_root.display());
    }
    let summary = Summary {
        cargo_mutants_version: CARGO_MUTANTS_VERSION.into(),
        crates: rows,
    };
    let markdown = summary.markdown();
    std::fs::write(out_root.join("summary.md"), &markdown)
        .with_context(|| format!("writing {}", out_root.join("summary.md").display()))?;
    std::fs::write(
        out_root.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )
    .with_context(|| format!("writing {}", out_root.join("summary.json").display()))?;
    println!("{markdown}");
    Ok(())
}

/// The crates asked for, checked against [`PURE_CRATES`] (all when none is named).
fn selected(names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(PURE_CRATES.iter().map(|s| s.to_string()).collect());
    }
    let mut out = Vec::new();
    for name in names {
        let short = name.strip_prefix("lockstep-").unwrap_or(name);
        if !PURE_CRATES.contains(&short) {
            bail!(
                "`{name}` is not one of the mutated crates ({}); the others link libtorch, MPI or Python",
                PURE_CRATES.join(", ")
            );
        }
        if !out.iter().any(|o| o == short) {
            out.push(short.to_string());
        }
    }
    Ok(out)
}

/// cargo-mutants in `target/tools`, installed (again) unless it is the pinned release.
fn ensure_installed(tools: &Path) -> Result<PathBuf> {
    let exe = tools
        .join("bin")
        .join(format!("cargo-mutants{}", std::env::consts::EXE_SUFFIX));
    // It runs as a cargo subcommand: `cargo-mutants mutants --version`.
    let installed = std::process::Command::new(&exe)
        .args(["mutants", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if installed.as_deref() != Some(&format!("cargo-mutants {CARGO_MUTANTS_VERSION}")) {
        workspace::install_tool("cargo-mutants", CARGO_MUTANTS_VERSION, tools)?;
    }
    Ok(exe)
}

/// Runs the tool from the workspace root and returns its exit code.
fn run_status(tool: &Path, args: &[OsString]) -> Result<i32> {
    let shown: Vec<_> = args.iter().take(12).map(|a| a.to_string_lossy()).collect();
    eprintln!(
        "    $ {} {}{}",
        tool.display(),
        shown.join(" "),
        if args.len() > 12 { " …" } else { "" }
    );
    let status = std::process::Command::new(tool)
        .args(args)
        .current_dir(workspace::root())
        .status()
        .with_context(|| format!("could not start {}", tool.display()))?;
    status
        .code()
        .with_context(|| format!("{} was killed ({status})", tool.display()))
}

/// Removes a folder this command made (only ever `target/mutants/<crate>/recheck`).
fn remove_own_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Escapes the regex metacharacters of a mutant's name (cargo-mutants' `--re`).
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How one mutant ended, as cargo-mutants' `outcomes.json` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// A test failed.
    CaughtMutant,
    /// Every test passed.
    MissedMutant,
    /// The tests ran past the timeout (an infinite loop, usually): counted as caught.
    Timeout,
    /// The mutant does not build.
    Unviable,
    /// The unmutated baseline.
    Success,
    /// Any summary this version does not know.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct OutcomesFile {
    outcomes: Vec<OutcomeEntry>,
}

#[derive(Debug, Deserialize)]
struct OutcomeEntry {
    scenario: Scenario,
    summary: Outcome,
}

#[derive(Debug, Deserialize)]
enum Scenario {
    Baseline,
    Mutant(MutantId),
}

#[derive(Debug, Deserialize)]
struct MutantId {
    name: String,
}

/// The outcomes of a crate's full run, with any recheck's newer outcomes on top.
fn load_outcomes(crate_dir: &Path) -> Result<Option<BTreeMap<String, Outcome>>> {
    let full = crate_dir.join("mutants.out").join("outcomes.json");
    if !full.exists() {
        return Ok(None);
    }
    let mut outcomes = parse_outcomes(&full)?;
    let recheck = crate_dir
        .join("recheck")
        .join("mutants.out")
        .join("outcomes.json");
    if recheck.exists() {
        for (name, outcome) in parse_outcomes(&recheck)? {
            // Only a mutant of the full run can be refined (one whose line moved is a
            // different name, and stays as the full run left it).
            if let Some(slot) = outcomes.get_mut(&name) {
                *slot = outcome;
            }
        }
    }
    Ok(Some(outcomes))
}

fn parse_outcomes(path: &Path) -> Result<BTreeMap<String, Outcome>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: OutcomesFile =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(file
        .outcomes
        .into_iter()
        .filter_map(|e| match e.scenario {
            Scenario::Mutant(m) => Some((m.name, e.summary)),
            Scenario::Baseline => None,
        })
        .collect())
}

/// A mutant's name without its `:line:col`, so that the equivalents list survives
/// edits elsewhere in the file: `crates/x/src/a.rs: replace + with - in f`.
fn without_position(name: &str) -> String {
    let Some((location, what)) = name.split_once(": ") else {
        return name.to_string();
    };
    let file = location.split(':').next().unwrap_or(location);
    format!("{file}: {what}")
}

/// One listed equivalent mutant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Equivalent {
    /// The crate's short name (`seeding`).
    pub krate: String,
    /// The mutant, with or without its `:line:col`.
    pub mutant: String,
    /// Why no output can change.
    pub reason: String,
}

/// The rows of the table under [`EQUIVALENTS_HEADING`]: `| crate | mutant | reason |`,
/// the mutant in backquotes.
fn read_equivalents(doc: &Path) -> Result<Vec<Equivalent>> {
    let text = match std::fs::read_to_string(doc) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", doc.display())),
    };
    parse_equivalents(&text).with_context(|| format!("in {}", doc.display()))
}

/// The cells of a Markdown table row, split on the pipes that are not escaped (`\|`
/// is a pipe inside a cell, as in `replace | with ^`).
fn table_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '|' {
            cells.push(String::new());
            continue;
        }
        let c = if c == '\\' && chars.peek() == Some(&'|') {
            chars.next();
            '|'
        } else {
            c
        };
        if let Some(cell) = cells.last_mut() {
            cell.push(c);
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

fn parse_equivalents(text: &str) -> Result<Vec<Equivalent>> {
    let mut out = Vec::new();
    let mut inside = false;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with("## ") {
            inside = line.trim() == EQUIVALENTS_HEADING;
            continue;
        }
        let line = line.trim();
        if !inside || !line.starts_with('|') {
            continue;
        }
        let cells = table_cells(line);
        if cells.len() != 3 {
            bail!("line {}: an equivalents row has three cells", number + 1);
        }
        if cells[0] == "crate" || cells[0].chars().all(|c| c == '-' || c == ':') {
            continue;
        }
        if !PURE_CRATES.contains(&cells[0].as_str()) {
            bail!("line {}: unknown crate `{}`", number + 1, cells[0]);
        }
        let mutant = cells[1].trim_matches('`');
        if mutant.is_empty() || cells[2].is_empty() {
            bail!(
                "line {}: an equivalent needs a mutant and a reason",
                number + 1
            );
        }
        out.push(Equivalent {
            krate: cells[0].to_string(),
            mutant: mutant.to_string(),
            reason: cells[2].to_string(),
        });
    }
    Ok(out)
}

/// One crate's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrateRow {
    /// The crate's short name.
    pub krate: String,
    /// Every mutant generated.
    pub total: usize,
    /// Caught by a failing test.
    pub caught: usize,
    /// Caught by the timeout.
    pub timeout: usize,
    /// Missed, and not listed as equivalent.
    pub missed: Vec<String>,
    /// Missed, and listed as equivalent.
    pub equivalent: usize,
    /// Does not build.
    pub unviable: usize,
    /// Listed as equivalent, yet caught (the list is out of date).
    pub stale_equivalents: Vec<String>,
}

impl CrateRow {
    /// Caught (tests or timeout) out of the viable mutants that are not equivalent.
    pub fn score(&self) -> f64 {
        let caught = self.caught + self.timeout;
        let viable = caught + self.missed.len();
        if viable == 0 {
            1.0
        } else {
            caught as f64 / viable as f64
        }
    }
}

fn summarise(
    krate: &str,
    outcomes: &BTreeMap<String, Outcome>,
    equivalents: &[Equivalent],
) -> CrateRow {
    let listed: BTreeSet<&str> = equivalents
        .iter()
        .filter(|e| e.krate == krate)
        .map(|e| e.mutant.as_str())
        .collect();
    // An entry names a mutant with its `:line:col` (that one only) or without (the
    // mutant wherever it is; use this unless one function has two alike).
    let is_listed =
        |name: &str| listed.contains(name) || listed.contains(without_position(name).as_str());
    let mut row = CrateRow {
        krate: krate.to_string(),
        total: outcomes.len(),
        caught: 0,
        timeout: 0,
        missed: Vec::new(),
        equivalent: 0,
        unviable: 0,
        stale_equivalents: Vec::new(),
    };
    for (name, outcome) in outcomes {
        let is_listed = is_listed(name);
        match outcome {
            Outcome::CaughtMutant | Outcome::Timeout if is_listed => {
                row.stale_equivalents.push(name.clone());
                if *outcome == Outcome::Timeout {
                    row.timeout += 1;
                } else {
                    row.caught += 1;
                }
            }
            Outcome::CaughtMutant => row.caught += 1,
            Outcome::Timeout => row.timeout += 1,
            Outcome::MissedMutant if is_listed => row.equivalent += 1,
            Outcome::MissedMutant => row.missed.push(name.clone()),
            Outcome::Unviable => row.unviable += 1,
            Outcome::Success | Outcome::Other => {}
        }
    }
    row
}

/// Every crate's figures, as written to `target/mutants/summary.*`.
#[derive(Debug, Serialize)]
struct Summary {
    cargo_mutants_version: String,
    crates: Vec<CrateRow>,
}

impl Summary {
    fn markdown(&self) -> String {
        let mut out = format!(
            "# Mutation testing (cargo-mutants {})\n\n\
             | crate | mutants | unviable | caught | timeout | equivalent | missed | caught of viable, non-equivalent |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            self.cargo_mutants_version
        );
        for r in &self.crates {
            out += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.1}% |\n",
                r.krate,
                r.total,
                r.unviable,
                r.caught,
                r.timeout,
                r.equivalent,
                r.missed.len(),
                100.0 * r.score()
            );
        }
        for r in &self.crates {
            if !r.missed.is_empty() {
                out += &format!("\n## {}: missed\n\n", r.krate);
                for m in &r.missed {
                    out += &format!("- `{m}`\n");
                }
            }
            if !r.stale_equivalents.is_empty() {
                out += &format!(
                    "\n## {}: listed as equivalent in {EQUIVALENTS_DOC}, but caught\n\n",
                    r.krate
                );
                for m in &r.stale_equivalents {
                    out += &format!("- `{m}`\n");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_dropped_only_from_the_location() {
        assert_eq!(
            without_position("crates/seeding/src/derive.rs:35:30: replace - with / in label_child"),
            "crates/seeding/src/derive.rs: replace - with / in label_child"
        );
        assert_eq!(
            without_position("crates/a.rs: replace x: u8 with 0"),
            "crates/a.rs: replace x: u8 with 0"
        );
    }

    #[test]
    fn names_are_escaped_for_cargo_mutants_regexes() {
        assert_eq!(
            regex_escape("a.rs:1:2: replace <impl Fn(u8)> -> [u8; 2] with *x"),
            r"a\.rs:1:2: replace <impl Fn\(u8\)> \-> \[u8; 2\] with \*x"
        );
    }

    #[test]
    fn the_equivalents_table_is_read_from_its_section_only() {
        let doc = "# T\n\n| crate | mutant | reason |\n| a | b | c |\n\n\
                   ## Equivalent mutants\n\n| crate | mutant | reason |\n| --- | --- | --- |\n\
                   | seeding | `crates/seeding/src/derive.rs:35:30: replace - with / in label_child` | fast path only |\n\n\
                   ## Next\n| x | y | z |\n";
        let got = parse_equivalents(doc).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].krate, "seeding");
        assert_eq!(
            got[0].mutant,
            "crates/seeding/src/derive.rs:35:30: replace - with / in label_child"
        );
        let piped = "## Equivalent mutants\n| seeding | `a.rs: replace \\| with ^ in f` | bits \\| apart |\n";
        let got = parse_equivalents(piped).unwrap();
        assert_eq!(got[0].mutant, "a.rs: replace | with ^ in f");
        assert_eq!(got[0].reason, "bits | apart");
        let bad = "## Equivalent mutants\n| nn | `m` | r |\n";
        assert!(parse_equivalents(bad).is_err(), "nn is not a mutated crate");
        let bad = "## Equivalent mutants\n| seeding | `m` |  |\n";
        assert!(parse_equivalents(bad).is_err(), "a reason is required");
    }

    #[test]
    fn the_score_counts_timeouts_as_caught_and_sets_equivalents_apart() {
        let outcomes: BTreeMap<String, Outcome> = [
            ("f.rs:1:1: a", Outcome::CaughtMutant),
            ("f.rs:2:1: b", Outcome::CaughtMutant),
            ("f.rs:3:1: c", Outcome::Timeout),
            ("f.rs:4:1: d", Outcome::MissedMutant),
            ("f.rs:5:1: e", Outcome::MissedMutant),
            ("f.rs:6:1: g", Outcome::Unviable),
            ("f.rs:7:1: h", Outcome::CaughtMutant),
        ]
        .into_iter()
        .map(|(n, o)| (n.to_string(), o))
        .collect();
        let equivalents = [
            ("seeding", "f.rs: e"),
            ("seeding", "f.rs:7:1: h"),
            ("seeding", "f.rs:1:9: a"),
            ("data", "f.rs: d"),
        ]
        .map(|(k, m)| Equivalent {
            krate: k.into(),
            mutant: m.into(),
            reason: "r".into(),
        });
        let row = summarise("seeding", &outcomes, &equivalents);
        assert_eq!(row.total, 7);
        assert_eq!((row.caught, row.timeout, row.unviable), (3, 1, 1));
        assert_eq!(row.missed, ["f.rs:4:1: d"], "d is listed for another crate");
        assert_eq!(row.equivalent, 1);
        assert_eq!(row.stale_equivalents, ["f.rs:7:1: h"]);
        assert!((row.score() - 4.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn only_the_pure_crates_can_be_selected() {
        assert_eq!(selected(&[]).unwrap().len(), PURE_CRATES.len());
        assert_eq!(
            selected(&["lockstep-data".into(), "data".into(), "seeding".into()]).unwrap(),
            ["data", "seeding"]
        );
        assert!(selected(&["nn".into()]).is_err());
    }

    #[test]
    fn a_recheck_refines_only_the_full_runs_mutants() {
        let dir = std::env::temp_dir().join(format!("xtask-mutants-{}", std::process::id()));
        let write = |sub: &str, body: &str| {
            let d = dir.join(sub).join("mutants.out");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("outcomes.json"), body).unwrap();
        };
        let entry = |name: &str, summary: &str| {
            format!(r#"{{"scenario":{{"Mutant":{{"name":"{name}"}}}},"summary":"{summary}"}}"#)
        };
        write(
            "",
            &format!(
                r#"{{"outcomes":[{{"scenario":"Baseline","summary":"Success"}},{},{}]}}"#,
                entry("a.rs:1:1: x", "MissedMutant"),
                entry("a.rs:2:1: y", "MissedMutant")
            ),
        );
        write(
            "recheck",
            &format!(
                r#"{{"outcomes":[{},{}]}}"#,
                entry("a.rs:1:1: x", "CaughtMutant"),
                entry("a.rs:9:1: y", "CaughtMutant")
            ),
        );
        let got = load_outcomes(&dir).unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["a.rs:1:1: x"], Outcome::CaughtMutant);
        assert_eq!(got["a.rs:2:1: y"], Outcome::MissedMutant);
    }
}
