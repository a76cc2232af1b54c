//! lockstep-postprocess: every NMS variant and mAP on NumPy arrays.

use lockstep_core::{BBox, LabeledBox};
use lockstep_postprocess::{
    evaluate, Algorithm, Detection, EvalConfig, GroundTruth, Nms, SoftNms, TieBreak,
};
use numpy::PyArray1;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrays;
use crate::errors;

fn tie_break(name: &str) -> PyResult<TieBreak> {
    match name {
        "canonical" => Ok(TieBreak::Canonical),
        "lower_index" => Ok(TieBreak::LowerIndex),
        other => Err(errors::arg(
            "tie_break",
            format!("expected \"canonical\" or \"lower_index\", got {other:?}"),
        )),
    }
}

fn algorithm(name: &str) -> PyResult<Algorithm> {
    match name {
        "auto" => Ok(Algorithm::Auto),
        "quadratic" => Ok(Algorithm::Quadratic),
        "grid" => Ok(Algorithm::Grid),
        other => Err(errors::arg(
            "algorithm",
            format!("expected \"auto\", \"quadratic\" or \"grid\", got {other:?}"),
        )),
    }
}

fn boxes_scores(
    boxes: &Bound<'_, PyAny>,
    scores: &Bound<'_, PyAny>,
) -> PyResult<(Vec<BBox>, Vec<f32>)> {
    Ok((
        arrays::boxes("boxes", Some(boxes))?,
        arrays::f32s("scores", scores)?,
    ))
}

/// Greedy NMS with a total tie order: the kept boxes depend only on the set of inputs
/// (`tie_break="canonical"`) or follow TensorFlow's lower-index rule
/// (`tie_break="lower_index"`). Boxes are `float32` `(N, 4)` `(x1, y1, x2, y2)`
/// (corners in any order), scores `float32` `(N,)`. Every run releases the GIL.
#[pyclass(frozen, name = "Nms", module = "lockstep")]
#[derive(Debug)]
pub struct PyNms(Nms);

#[pymethods]
impl PyNms {
    #[new]
    #[pyo3(signature = (iou_threshold, *, score_threshold = None, max_output = None, max_output_per_class = None, tie_break = "canonical", score_quantum = None, algorithm = "auto"))]
    fn new(
        iou_threshold: f64,
        score_threshold: Option<f32>,
        max_output: Option<u64>,
        max_output_per_class: Option<u64>,
        tie_break: &str,
        score_quantum: Option<f64>,
        algorithm: &str,
    ) -> PyResult<Self> {
        let mut nms = Nms::new(iou_threshold)
            .with_tie_break(self::tie_break(tie_break)?)
            .with_algorithm(self::algorithm(algorithm)?);
        if let Some(t) = score_threshold {
            nms = nms.with_score_threshold(t);
        }
        if let Some(n) = max_output {
            nms = nms.with_max_output(n);
        }
        if let Some(n) = max_output_per_class {
            nms = nms.with_max_output_per_class(n);
        }
        if let Some(q) = score_quantum {
            nms = nms.with_score_quantum(q);
        }
        nms.validate().map_err(|e| errors::postprocess("Nms", e))?;
        Ok(Self(nms))
    }

    /// The kept indices, in selection order, as an `int64` array.
    fn run<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
        scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (b, s) = boxes_scores(boxes, scores)?;
        let kept = py
            .detach(|| self.0.run(&b, &s))
            .map_err(|e| errors::postprocess("Nms.run", e))?;
        Ok(arrays::indices_out(py, &kept))
    }

    /// `(indices, valid)`: the kept indices padded with 0 to `max_output` entries.
    fn run_padded<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
        scores: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, usize)> {
        let (b, s) = boxes_scores(boxes, scores)?;
        let p = py
            .detach(|| self.0.run_padded(&b, &s))
            .map_err(|e| errors::postprocess("Nms.run_padded", e))?;
        Ok((arrays::indices_out(py, &p.indices), p.valid))
    }

    /// Class-aware NMS: boxes of different `classes` never suppress each other.
    fn run_batched<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
        scores: &Bound<'py, PyAny>,
        classes: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (b, s) = boxes_scores(boxes, scores)?;
        let c = arrays::classes("classes", classes)?;
        let kept = py
            .detach(|| self.0.run_batched(&b, &s, &c))
            .map_err(|e| errors::postprocess("Nms.run_batched", e))?;
        Ok(arrays::indices_out(py, &kept))
    }

    /// `run_batched`, padded to `max_output`: `(indices, valid)`.
    fn run_batched_padded<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
        scores: &Bound<'py, PyAny>,
        classes: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, usize)> {
        let (b, s) = boxes_scores(boxes, scores)?;
        let c = arrays::classes("classes", classes)?;
        let p = py
            .detach(|| self.0.run_batched_padded(&b, &s, &c))
            .map_err(|e| errors::postprocess("Nms.run_batched_padded", e))?;
        Ok((arrays::indices_out(py, &p.indices), p.valid))
    }

    /// Soft-NMS: `method="gaussian"` (with `sigma`, as TensorFlow v5) or `"linear"`.
    /// Returns `(indices, scores)`: the selected indices and their decayed `float32`
    /// scores at selection.
    #[pyo3(signature = (boxes, scores, *, method = "gaussian", sigma = 0.5))]
    fn run_soft<'py>(
        &self,
        py: Python<'py>,
        boxes: &Bound<'py, PyAny>,
        scores: &Bound<'py, PyAny>,
        method: &str,
        sigma: f32,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let m = match method {
            "gaussian" => SoftNms::Gaussian { sigma },
            "linear" => SoftNms::Linear,
            other => {
                return Err(errors::arg(
                    "method",
                    format!("expected \"gaussian\" or \"linear\", got {other:?}"),
                ))
            }
        };
        let (b, s) = boxes_scores(boxes, scores)?;
        let out = py
            .detach(|| self.0.run_soft(&b, &s, m))
            .map_err(|e| errors::postprocess("Nms.run_soft", e))?;
        Ok((
            arrays::indices_out(py, &out.indices),
            PyArray1::from_vec(py, out.scores).into_any(),
        ))
    }

    /// `run` on each `(boxes, scores)` pair of a list (one image each), in parallel on
    /// the Rust thread pool with the GIL released; results in input order.
    fn run_many<'py>(
        &self,
        py: Python<'py>,
        batch: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let inputs = batch
            .iter()
            .map(|(b, s)| boxes_scores(b, s))
            .collect::<PyResult<Vec<_>>>()?;
        let results: Vec<_> =
            py.detach(|| inputs.par_iter().map(|(b, s)| self.0.run(b, s)).collect());
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.map(|kept| arrays::indices_out(py, &kept))
                    .map_err(|e| errors::postprocess(&format!("Nms.run_many, image {i}"), e))
            })
            .collect()
    }
}

/// Greedy NMS with the canonical tie order; kept indices as `int64`.
#[pyfunction]
fn nms<'py>(
    py: Python<'py>,
    boxes: &Bound<'py, PyAny>,
    scores: &Bound<'py, PyAny>,
    iou_threshold: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let (b, s) = boxes_scores(boxes, scores)?;
    let kept = py
        .detach(|| lockstep_postprocess::nms(&b, &s, iou_threshold))
        .map_err(|e| errors::postprocess("nms", e))?;
    Ok(arrays::indices_out(py, &kept))
}

/// Class-aware greedy NMS with the canonical tie order; kept indices as `int64`.
#[pyfunction]
fn batched_nms<'py>(
    py: Python<'py>,
    boxes: &Bound<'py, PyAny>,
    scores: &Bound<'py, PyAny>,
    classes: &Bound<'py, PyAny>,
    iou_threshold: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let (b, s) = boxes_scores(boxes, scores)?;
    let c = arrays::classes("classes", classes)?;
    let kept = py
        .detach(|| lockstep_postprocess::batched_nms(&b, &s, &c, iou_threshold))
        .map_err(|e| errors::postprocess("batched_nms", e))?;
    Ok(arrays::indices_out(py, &kept))
}

/// COCO-style AP and mAP. Detections: `det_image_ids`, `det_boxes` (`float32`
/// `(N, 4)`), `det_classes`, `det_scores`; ground truth: `gt_image_ids`, `gt_boxes`,
/// `gt_classes`. Returns the report as a dict (`map`, `map_50`, `map_75`,
/// `per_class`, …). Releases the GIL.
#[pyfunction]
#[pyo3(signature = (det_image_ids, det_boxes, det_classes, det_scores, gt_image_ids, gt_boxes, gt_classes, *, iou_thresholds = None, max_detections = Some(100)))]
#[allow(clippy::too_many_arguments)]
fn evaluate_map<'py>(
    py: Python<'py>,
    det_image_ids: &Bound<'py, PyAny>,
    det_boxes: &Bound<'py, PyAny>,
    det_classes: &Bound<'py, PyAny>,
    det_scores: &Bound<'py, PyAny>,
    gt_image_ids: &Bound<'py, PyAny>,
    gt_boxes: &Bound<'py, PyAny>,
    gt_classes: &Bound<'py, PyAny>,
    iou_thresholds: Option<Vec<f64>>,
    max_detections: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let same = |name: &str, n: usize, m: usize| {
        if n == m {
            Ok(())
        } else {
            Err(errors::arg(
                name,
                format!("has {m} entries but there are {n} boxes"),
            ))
        }
    };
    let db = arrays::boxes("det_boxes", Some(det_boxes))?;
    let di = arrays::u64s("det_image_ids", det_image_ids)?;
    let dc = arrays::classes("det_classes", det_classes)?;
    let ds = arrays::f32s("det_scores", det_scores)?;
    same("det_image_ids", db.len(), di.len())?;
    same("det_classes", db.len(), dc.len())?;
    same("det_scores", db.len(), ds.len())?;
    let gb = arrays::boxes("gt_boxes", Some(gt_boxes))?;
    let gi = arrays::u64s("gt_image_ids", gt_image_ids)?;
    let gc = arrays::classes("gt_classes", gt_classes)?;
    same("gt_image_ids", gb.len(), gi.len())?;
    same("gt_classes", gb.len(), gc.len())?;
    let dets: Vec<Detection> = (0..db.len())
        .map(|i| Detection::new(di[i], LabeledBox::new(db[i], dc[i]), ds[i]))
        .collect();
    let gts: Vec<GroundTruth> = (0..gb.len())
        .map(|i| GroundTruth::new(gi[i], LabeledBox::new(gb[i], gc[i])))
        .collect();
    let mut config = EvalConfig::default().with_max_detections(max_detections);
    if let Some(t) = iou_thresholds {
        config = config.with_iou_thresholds(t);
    }
    let report = py
        .detach(|| evaluate(&dets, &gts, &config))
        .map_err(|e| errors::postprocess("evaluate", e))?;
    let text = serde_json::to_string(&report)
        .map_err(|e| errors::PostprocessError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Registers this module's classes and functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNms>()?;
    m.add_function(wrap_pyfunction!(nms, m)?)?;
    m.add_function(wrap_pyfunction!(batched_nms, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_map, m)?)?;
    Ok(())
}
