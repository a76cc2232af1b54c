//! `cargo xtask bench`: our benchmarks and the peers', measured in one run, joined by
//! case and reported as ratios (peer time / our time: above 1 means we are faster).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::libtorch;
use crate::python::Venv;
use crate::workspace;

/// A suite: our bench target and the peer script, with what the peer needs.
struct SuiteSpec {
    name: &'static str,
    needs_libtorch: bool,
    peer_requirements: &'static [&'static str],
    peer_modules: &'static [&'static str],
}

const NUMPY: &[&str] = &["numpy"];
const TORCH_PEERS: &[&str] = &["torch==2.11.0", "torchvision==0.26.0", "numpy", "pillow"];
const TORCH_MODULES: &[&str] = &["torch", "torchvision", "numpy", "PIL"];

const SUITES: &[SuiteSpec] = &[
    SuiteSpec {
        name: "seeding",
        needs_libtorch: false,
        peer_requirements: NUMPY,
        peer_modules: NUMPY,
    },
    SuiteSpec {
        name: "data",
        needs_libtorch: false,
        peer_requirements: NUMPY,
        peer_modules: NUMPY,
    },
    SuiteSpec {
        name: "augment",
        needs_libtorch: false,
        peer_requirements: TORCH_PEERS,
        peer_modules: TORCH_MODULES,
    },
    SuiteSpec {
        name: "postprocess",
        needs_libtorch: false,
        peer_requirements: TORCH_PEERS,
        peer_modules: TORCH_MODULES,
    },
    SuiteSpec {
        name: "nn",
        needs_libtorch: true,
        peer_requirements: TORCH_PEERS,
        peer_modules: TORCH_MODULES,
    },
    // The Python module: the binding against the Rust calls (crates/python/benches)
    // and against torch's sampler and torchvision (bench/peers/python.py).
    SuiteSpec {
        name: "python",
        needs_libtorch: false,
        peer_requirements: TORCH_PEERS,
        peer_modules: TORCH_MODULES,
    },
    // End to end, COCO folder on disk to batches of 32 (crates/lockstep/benches),
    // against torch's DataLoader on the same files (bench/peers/pipeline.py).
    SuiteSpec {
        name: "pipeline",
        needs_libtorch: false,
        peer_requirements: TORCH_PEERS,
        peer_modules: TORCH_MODULES,
    },
    // Ours against ours (no peer script): the costs of data-parallel training.
    SuiteSpec {
        name: "distributed",
        needs_libtorch: true,
        peer_requirements: &[],
        peer_modules: &[],
    },
];

/// The package holding a suite's bench target: `lockstep-<suite>`, except where the
/// bench lives in another crate's `benches/`.
fn package_of(suite: &str) -> String {
    match suite {
        // Needs the trainer, so it lives with lockstep-nn (lockstep-distributed links
        // no libtorch).
        "distributed" => "lockstep-nn".to_string(),
        // Spans data and augment, so it lives with the facade crate.
        "pipeline" => "lockstep".to_string(),
        _ => format!("lockstep-{suite}"),
    }
}

/// One line of a benchmark's output (the schema of `lockstep-benchkit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    suite: String,
    case: String,
    #[serde(rename = "impl")]
    implementation: String,
    items: u64,
    ns_per_item: f64,
    samples: u32,
    #[serde(default)]
    min_speedup: BTreeMap<String, f64>,
    #[serde(default)]
    max_ns_per_item: Option<f64>,
}

/// One row of the report: our record against one peer (or alone).
#[derive(Debug, Serialize)]
struct Row {
    suite: String,
    case: String,
    ours_ns_per_item: f64,
    peer: Option<String>,
    peer_ns_per_item: Option<f64>,
    /// Peer time over ours.
    speedup: Option<f64>,
    target: Option<String>,
    met: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    records: Vec<Record>,
    rows: Vec<Row>,
}

/// Runs the named suites (all when none is named).
pub fn run(args: &[String]) -> Result<()> {
    let selected: Vec<&SuiteSpec> = if args.is_empty() {
        SUITES.iter().collect()
    } else {
        args.iter()
            .map(|name| {
                SUITES.iter().find(|s| s.name == name).with_context(|| {
                    format!(
                        "unknown suite `{name}`; suites: {}",
                        SUITES.iter().map(|s| s.name).collect::<Vec<_>>().join(" ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    let venv = Venv::ensure()?;
    let torch_env = if selected.iter().any(|s| s.needs_libtorch) {
        libtorch::ensure()?.env()
    } else {
        Vec::new()
    };
    let mut records = Vec::new();
    for suite in &selected {
        workspace::step(&format!("bench {}: ours", suite.name));
        let bench_name = suite.name;
        let package = package_of(bench_name);
        let env = if suite.needs_libtorch {
            torch_env.clone()
        } else {
            Vec::new()
        };
        let ours = workspace::cargo_stdout(
            &[
                "bench",
                "--quiet",
                "--package",
                &package,
                "--bench",
                bench_name,
            ],
            &env,
        )?;
        records.extend(parse_records(&ours, &package)?);
        // The peer script may read our records (the python suite sets its targets
        // from the Rust times of this run).
        let dir = workspace::target_dir().join("bench");
        std::fs::create_dir_all(&dir)?;
        let ours_path = dir.join(format!("{bench_name}-ours.jsonl"));
        std::fs::write(&ours_path, &ours)
            .with_context(|| format!("could not write {}", ours_path.display()))?;
        let script = workspace::root()
            .join("bench")
            .join("peers")
            .join(format!("{bench_name}.py"));
        if script.exists() {
            venv.ensure_packages(suite.peer_requirements, suite.peer_modules)?;
            if suite.name == "python" {
                crate::pytests::install_module(&venv)?;
            }
            workspace::step(&format!("bench {}: peers", suite.name));
            let mut env = env.clone();
            env.push(("LOCKSTEP_BENCH_OURS".into(), ours_path.into_os_string()));
            let peer = workspace::output(venv.python().as_os_str(), &[script.as_os_str()], &env)?;
            records.extend(parse_records(&peer, &script.display().to_string())?);
        }
    }
    let rows = join(&records);
    print_table(&rows);
    let missed = rows.iter().filter(|r| r.met == Some(false)).count();
    let checked = rows.iter().filter(|r| r.met.is_some()).count();
    println!(
        "\n{} of {checked} targets met, {missed} missed (ratios from this run only)",
        checked - missed
    );
    let report = Report {
        machine: machine_summary(),
        records,
        rows,
    };
    let dir = workspace::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    workspace::step(&format!("wrote {}", path.display()));
    Ok(())
}

fn parse_records(text: &str, source: &str) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        out.push(
            serde_json::from_str(line)
                .with_context(|| format!("{source} printed a bad record: {line}"))?,
        );
    }
    if out.is_empty() {
        bail!("{source} printed no benchmark records");
    }
    Ok(out)
}

/// Pairs each of our records with every peer record of the same suite and case.
fn join(records: &[Record]) -> Vec<Row> {
    let mut rows = Vec::new();
    for ours in records.iter().filter(|r| r.implementation == "lockstep") {
        let peers: Vec<&Record> = records
            .iter()
            .filter(|r| {
                r.implementation != "lockstep" && r.suite == ours.suite && r.case == ours.case
            })
            .collect();
        if let Some(ceiling) = ours.max_ns_per_item {
            rows.push(Row {
                suite: ours.suite.clone(),
                case: ours.case.clone(),
                ours_ns_per_item: ours.ns_per_item,
                peer: None,
                peer_ns_per_item: None,
                speedup: None,
                target: Some(format!("<= {ceiling} ns/item")),
                met: Some(ours.ns_per_item <= ceiling),
            });
        }
        for peer in &peers {
            let speedup = peer.ns_per_item / ours.ns_per_item;
            let wanted = ours.min_speedup.get(&peer.implementation).copied();
            rows.push(Row {
                suite: ours.suite.clone(),
                case: ours.case.clone(),
                ours_ns_per_item: ours.ns_per_item,
                peer: Some(peer.implementation.clone()),
                peer_ns_per_item: Some(peer.ns_per_item),
                speedup: Some(speedup),
                target: wanted.map(|w| format!(">= {w:.2}x")),
                met: wanted.map(|w| speedup >= w),
            });
        }
        if peers.is_empty() && ours.max_ns_per_item.is_none() {
            rows.push(Row {
                suite: ours.suite.clone(),
                case: ours.case.clone(),
                ours_ns_per_item: ours.ns_per_item,
                peer: None,
                peer_ns_per_item: None,
                speedup: None,
                target: None,
                met: None,
            });
        }
    }
    rows
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<12} {:<34} {:>12} {:<12} {:>12} {:>9} {:<16} status",
        "suite", "case", "ours ns/it", "peer", "peer ns/it", "speedup", "target"
    );
    for row in rows {
        println!(
            "{:<12} {:<34} {:>12.2} {:<12} {:>12} {:>9} {:<16} {}",
            row.suite,
            row.case,
            row.ours_ns_per_item,
            row.peer.as_deref().unwrap_or("-"),
            row.peer_ns_per_item
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "-".into()),
            row.speedup
                .map(|v| format!("{v:.2}x"))
                .unwrap_or_else(|| "-".into()),
            row.target.as_deref().unwrap_or("-"),
            match row.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            }
        );
    }
}

/// CPU model and core count, for the report.
fn machine_summary() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(implementation: &str, case: &str, ns: f64) -> Record {
        Record {
            suite: "s".into(),
            case: case.into(),
            implementation: implementation.into(),
            items: 1,
            ns_per_item: ns,
            samples: 5,
            min_speedup: BTreeMap::new(),
            max_ns_per_item: None,
        }
    }

    #[test]
    fn joins_each_case_with_its_peers_and_checks_targets() {
        let mut ours = record("lockstep", "a", 10.0);
        ours.min_speedup.insert("numpy".into(), 1.5);
        ours.max_ns_per_item = Some(8.0);
        let rows = join(&[
            ours,
            record("numpy", "a", 20.0),
            record("numpy", "b", 1.0),
            record("lockstep", "c", 3.0),
        ]);
        assert_eq!(rows.len(), 3, "ceiling row, peer row, lone row");
        assert_eq!(rows[0].met, Some(false), "10 ns is over the 8 ns ceiling");
        assert_eq!(rows[1].speedup, Some(2.0));
        assert_eq!(rows[1].met, Some(true), "2x meets 1.5x");
        assert_eq!(rows[2].case, "c");
        assert_eq!(rows[2].met, None);
    }

    #[test]
    fn suites_map_to_their_packages() {
        assert_eq!(package_of("seeding"), "lockstep-seeding");
        assert_eq!(package_of("distributed"), "lockstep-nn");
        assert_eq!(package_of("pipeline"), "lockstep");
        assert_eq!(package_of("python"), "lockstep-python");
    }

    #[test]
    fn bad_or_missing_records_are_errors() {
        assert!(parse_records("no records here\n", "x").is_err());
        assert!(parse_records("{\"suite\": 1}\n", "x").is_err());
        let good = serde_json::to_string(&record("lockstep", "a", 1.0)).unwrap();
        assert_eq!(
            parse_records(&format!("progress\n{good}\n"), "x")
                .unwrap()
                .len(),
            1
        );
    }
}
