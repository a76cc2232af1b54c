//! Check results: one JSON part per check, written atomically, then joined into
//! `results.json` and `results.md` by `summarize`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Failure;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The property held.
    Pass,
    /// The property did not hold, or the check could not run.
    Fail,
    /// A measurement with no pass/fail bar (figures, divergence reports).
    Info,
    /// Not applicable here (e.g. a CUDA-only property in a CPU dry run).
    Skipped,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Stable id, ordered as the issue numbers its checks (`1-switch`, `2-strict-tiny`…).
    pub id: String,
    /// What is checked, in words.
    pub title: String,
    /// The outcome.
    pub status: Status,
    /// One line for the table.
    pub summary: String,
    /// Everything measured.
    pub details: serde_json::Value,
}

/// Writes `value` as pretty JSON through a temporary file and a rename, so a killed
/// check leaves no half-written result.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure(format!("cannot serialise {}: {e}", path.display())))?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))
}

/// Reads a JSON file written by [`write_json`], checking that it parses as `T`.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

/// Joins the parts in `parts` into `results.json` and `results.md` in `out`. Every id
/// of `expected` without a part becomes a failure naming the exit status `run.sh`
/// recorded (`<id>.rc`), so a crashed or timed-out check cannot pass by omission.
pub fn summarize(
    parts: &Path,
    out: &Path,
    expected: &[String],
    dry_run: bool,
) -> Result<(), Failure> {
    let mut found: BTreeMap<String, Part> = BTreeMap::new();
    let entries = std::fs::read_dir(parts)
        .map_err(|e| Failure(format!("cannot list {}: {e}", parts.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let part = match read_json::<Part>(&path) {
            Ok(p) if !p.id.is_empty() => p,
            Ok(_) => bad_part(&path, "empty id".into()),
            Err(e) => bad_part(&path, e.0),
        };
        found.insert(part.id.clone(), part);
    }
    for id in expected {
        if !found.contains_key(id) {
            let rc = std::fs::read_to_string(parts.join(format!("{id}.rc")))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "not recorded".into());
            let why = match rc.as_str() {
                "124" | "137" => format!("timed out (exit {rc})"),
                _ => format!("exit status {rc}"),
            };
            found.insert(
                id.clone(),
                Part {
                    id: id.clone(),
                    title: id.clone(),
                    status: Status::Fail,
                    summary: format!("no result: the command failed, {why}; see run.log"),
                    details: serde_json::Value::Null,
                },
            );
        }
    }
    let parts: Vec<Part> = found.into_values().collect();
    let count = |s: Status| parts.iter().filter(|p| p.status == s).count();
    let results = serde_json::json!({
        "format": 1,
        "generated_by": "lockstep-gpu-check summarize",
        "dry_run": dry_run,
        "passed": count(Status::Pass),
        "failed": count(Status::Fail),
        "info": count(Status::Info),
        "skipped": count(Status::Skipped),
        "checks": parts,
    });
    write_json(&out.join("results.json"), &results)?;
    let md = markdown(&parts, dry_run);
    std::fs::write(out.join("results.md"), md)
        .map_err(|e| Failure(format!("cannot write results.md: {e}")))
}

fn bad_part(path: &Path, why: String) -> Part {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Part {
        id: id.clone(),
        title: id,
        status: Status::Fail,
        summary: format!("unreadable result: {why}"),
        details: serde_json::Value::Null,
    }
}

/// The Markdown report: a table, then each check's details (cut at 4 KB; the whole
/// record is in `results.json`).
pub fn markdown(parts: &[Part], dry_run: bool) -> String {
    let mut s = String::from("# lockstep GPU checks\n\n");
    if dry_run {
        s.push_str(
            "**Dry run on the CPU**: no CUDA call was made. These are not GPU figures; \
             CUDA-only properties show as `skipped`.\n\n",
        );
    }
    s.push_str("| check | status | result |\n| --- | --- | --- |\n");
    for p in parts {
        let status = serde_json::to_value(p.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        s.push_str(&format!(
            "| `{}` {} | {} | {} |\n",
            p.id,
            cell(&p.title),
            status,
            cell(&p.summary)
        ));
    }
    s.push_str("\n## Details\n");
    for p in parts {
        let mut json = serde_json::to_string_pretty(&p.details).unwrap_or_default();
        if json.len() > 4096 {
            let mut cut = 4096;
            while !json.is_char_boundary(cut) {
                cut -= 1;
            }
            json.truncate(cut);
            json.push_str("\n… (cut; see results.json)");
        }
        s.push_str(&format!("\n### `{}`\n\n```json\n{json}\n```\n", p.id));
    }
    s
}

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gpu-check-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn part(id: &str, status: Status) -> Part {
        Part {
            id: id.into(),
            title: "a | b".into(),
            status,
            summary: "line\nbreak".into(),
            details: serde_json::json!({"x": 1}),
        }
    }

    #[test]
    fn missing_and_corrupt_parts_become_failures_and_counts_add_up() {
        let dir = scratch("summary");
        let (parts, out) = (dir.join("parts"), dir.join("out"));
        std::fs::create_dir_all(&parts).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        write_json(&parts.join("1-a.json"), &part("1-a", Status::Pass)).unwrap();
        write_json(&parts.join("2-b.json"), &part("2-b", Status::Info)).unwrap();
        std::fs::write(parts.join("3-c.json"), "{\"id\": \"3-c\", tru").unwrap();
        std::fs::write(parts.join("4-d.rc"), "124\n").unwrap();
        let expected: Vec<String> = ["1-a", "4-d", "5-e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        summarize(&parts, &out, &expected, true).unwrap();
        let v: serde_json::Value = read_json(&out.join("results.json")).unwrap();
        assert_eq!(v["passed"], 1);
        assert_eq!(v["info"], 1);
        assert_eq!(v["failed"], 3, "{v}");
        assert_eq!(v["dry_run"], true);
        let checks = v["checks"].as_array().unwrap();
        let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["1-a", "2-b", "3-c", "4-d", "5-e"]);
        assert!(checks[3]["summary"].as_str().unwrap().contains("timed out"));
        assert!(checks[4]["summary"]
            .as_str()
            .unwrap()
            .contains("not recorded"));
        let md = std::fs::read_to_string(out.join("results.md")).unwrap();
        assert!(md.contains("Dry run on the CPU"));
        assert!(md.contains("| `1-a` a \\| b | pass | line break |"), "{md}");
        assert!(!dir.join("parts/1-a.json.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_details_are_cut_in_the_markdown_only() {
        let mut p = part("1-a", Status::Pass);
        p.details = serde_json::json!({"s": "é".repeat(5000)});
        let md = markdown(&[p], false);
        assert!(md.contains("cut; see results.json"));
        assert!(!md.contains("Dry run"));
        assert!(md.len() < 6000);
    }
}
