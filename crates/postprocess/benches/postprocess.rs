//! `cargo bench -p lockstep-postprocess --bench postprocess`: hard NMS on clustered
//! detections, against `torchvision.ops.nms` (bench/peers/postprocess.py).
//!
//! Both sides build the SAME boxes from `lockstep_benchkit::nms_workload` (its recipe is
//! documented there and rebuilt by the peer).
//!
//! IoU threshold 0.5, no score threshold, no output limit.

use lockstep_benchkit::Suite;
use lockstep_postprocess::{nms, BBox};

/// The shared workload as core boxes.
fn workload(n: u64) -> (Vec<BBox>, Vec<f32>) {
    let (boxes, scores) = lockstep_benchkit::nms_workload(n);
    (boxes.into_iter().map(BBox::from).collect(), scores)
}

fn main() {
    let suite = Suite::new("postprocess");
    for (label, n, target) in [
        ("1k", 1_000u64, None),
        ("10k", 10_000, Some(2.0)),
        ("50k", 50_000, Some(10.0)),
    ] {
        let (boxes, scores) = workload(n);
        let kept = nms(&boxes, &scores, 0.5).map(|k| k.len()).unwrap_or(0);
        eprintln!("nms clustered {label}: {n} boxes, {kept} kept");
        let mut record = suite.measure(&format!("nms clustered {label}"), n, |_| {
            nms(&boxes, &scores, 0.5)
        });
        if let Some(x) = target {
            record = record.min_speedup("torchvision", x);
        }
        suite.emit(&record);
    }
}
