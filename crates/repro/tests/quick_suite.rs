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
    // The generated set is compared with its pin; seed 3 has none, and the row says so.
    let pinned = rows
        .iter()
        .find(|r| {
            r["check"]
                .as_str()
                .is_some_and(|c| c.contains("pinned hash"))
        })
        .expect("the pinned-hash row");
    assert!(
        pinned["check"]
            .as_str()
            .unwrap()
            .contains("none for this seed"),
        "{pinned}"
    );
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
            .all(|d| d.starts_with("first divergence at step")),
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

/// Writes `text` to `dir/rel`, creating folders.
fn put(dir: &std::path::Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_out_folder_holding_a_users_files_is_refused_and_kept() {
    // Defect 2: `--out DIR` used to delete DIR/runs, DIR/data/train and DIR/data/val.
    let out = std::env::temp_dir().join(format!("lockstep-repro-keep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let keep = ["runs/keep.txt", "data/train/keep.txt", "data/val/keep.txt"];
    for rel in keep {
        put(&out, rel, rel);
    }
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep-repro"))
        .args(["--quick", "--out"])
        .arg(&out)
        .output()
        .expect("the suite binary starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&out.display().to_string()) && stderr.contains("--out"),
        "{stderr}"
    );
    for rel in keep {
        assert_eq!(std::fs::read_to_string(out.join(rel)).unwrap(), rel);
    }
    assert!(!out.join(lockstep_repro::owned::MARKER).exists());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_users_folder_inside_the_suites_out_folder_is_refused_before_anything_is_removed() {
    let out = std::env::temp_dir().join(format!("lockstep-repro-mixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // The suite's own folders from an earlier run, and a user's `data/` folder.
    lockstep_repro::owned::claim(&out).unwrap();
    lockstep_repro::owned::claim(&out.join("runs")).unwrap();
    put(&out, "runs/run-a/old.txt", "from an earlier run");
    put(&out, "data/train/keep.txt", "mine");
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep-repro"))
        .args(["--quick", "--out"])
        .arg(&out)
        .output()
        .expect("the suite binary starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&out.join("data").display().to_string()),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("data/train/keep.txt")).unwrap(),
        "mine"
    );
    assert!(out.join("runs/run-a/old.txt").exists());
    std::fs::remove_dir_all(&out).unwrap();
}

/// Rewrites the category ids of a COCO file: 1, 2, 3 become 10, 20, 30.
fn renumber_categories(path: &std::path::Path) {
    let mut coco: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for category in coco["categories"].as_array_mut().unwrap() {
        category["id"] = (category["id"].as_u64().unwrap() * 10).into();
    }
    for annotation in coco["annotations"].as_array_mut().unwrap() {
        annotation["category_id"] = (annotation["category_id"].as_u64().unwrap() * 10).into();
    }
    std::fs::write(path, serde_json::to_string(&coco).unwrap()).unwrap();
}

#[test]
fn a_users_dataset_of_another_size_and_category_ids_runs_through_the_suite() {
    use lockstep_repro::shapes::{generate, ShapesConfig};
    let base = std::env::temp_dir().join(format!("lockstep-repro-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let data = base.join("coco");
    let config = ShapesConfig::new(40, 8, 64);
    generate(
        &lockstep_seeding::SeedTree::from_u64(1).child("user"),
        config,
        &data,
    )
    .unwrap();
    renumber_categories(&data.join("train").join("instances.json"));
    renumber_categories(&data.join("val").join("instances.json"));
    let out = base.join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_lockstep-repro"))
        .args(["--quick", "--steps", "8", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("the suite binary starts");
    assert!(status.success(), "see {}", out.join("report.md").display());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let unchanged = rows
        .iter()
        .find(|r| {
            r["check"]
                .as_str()
                .is_some_and(|c| c.contains("unchanged by the suite"))
        })
        .expect("the user-dataset row");
    assert_eq!(unchanged["pass"], serde_json::Value::Bool(true));
    let quality = rows.iter().find(|r| r["stage"] == "quality").unwrap();
    assert_eq!(
        quality["check"],
        "validation mAP reported (bar not applied)"
    );
    std::fs::remove_dir_all(&base).unwrap();
}
