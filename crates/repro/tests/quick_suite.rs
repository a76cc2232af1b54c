//! CI exercises the real suite: the binary with `--quick`, as `cargo xtask repro --quick`
//! runs it, in separate worker processes, with the kill and the controls.

use std::process::Command;

#[test]
fn the_quick_suite_passes_and_writes_its_report() {
    let out = std::env::temp_dir().join(format!("lockstep-repro-quick-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new(env!("CARGO_BIN_EXE_lockstep-repro"))
        .args(["--quick", "--seed", "3", "--out"])
        .arg(&out)
        .status()
        .expect("the suite binary starts");
    assert!(
        status.success(),
        "the quick suite failed; see {}",
        out.join("report.md").display()
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["passed"], serde_json::Value::Bool(true));
    let rows = report["rows"].as_array().unwrap();
    let sections: Vec<&str> = rows.iter().filter_map(|r| r["stage"].as_str()).collect();
    for needed in [
        "dataset",
        "seeding",
        "data",
        "augment",
        "postprocess",
        "end to end",
        "resume",
        "control",
        "quality",
    ] {
        assert!(
            sections.contains(&needed),
            "no `{needed}` rows in {sections:?}"
        );
    }
    // The controls name where they were caught.
    let controls: Vec<&str> = rows
        .iter()
        .filter(|r| r["stage"] == "control")
        .filter_map(|r| r["detail"].as_str())
        .collect();
    assert_eq!(controls.len(), 3);
    assert!(
        controls
            .iter()
            .all(|d| d.starts_with("first divergence: step")),
        "{controls:?}"
    );
    for file in ["report.md", "loss.svg", "controls.svg", "detections.png"] {
        assert!(
            out.join(file)
                .metadata()
                .map(|m| m.len() > 0)
                .unwrap_or(false),
            "{file} missing"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_options_exit_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep-repro"))
        .args(["--steps", "x"])
        .output()
        .expect("the suite binary starts");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--steps"));
}
