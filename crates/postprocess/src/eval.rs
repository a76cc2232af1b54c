//! COCO-style detection evaluation: per-class average precision and mAP. The recipe is
//! documented on [`evaluate`].

use std::collections::{BTreeMap, BTreeSet};

use lockstep_core::{BBox, ClassId, LabeledBox};
use serde::{Deserialize, Serialize};

use crate::boxes::{as_array, non_finite, normalize};
use crate::error::{EntryField, EntryKind, Error, Result};
use crate::matching::{iou_matrix_unchecked, match_rows, match_threshold};

/// One detection of a model on one image.
///
/// Serialised as `{"image_id", "bbox": [x1, y1, x2, y2], "class", "score"}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Which image.
    pub image_id: u64,
    /// Where; corners in either diagonal order.
    #[serde(with = "as_array")]
    pub bbox: BBox,
    /// Predicted class.
    pub class: ClassId,
    /// Confidence.
    pub score: f32,
}

impl Detection {
    /// A detection of `labeled` on image `image_id` with confidence `score`.
    pub const fn new(image_id: u64, labeled: LabeledBox, score: f32) -> Self {
        Self {
            image_id,
            bbox: labeled.bbox,
            class: labeled.class,
            score,
        }
    }

    /// The box and its class.
    pub const fn labeled(&self) -> LabeledBox {
        LabeledBox::new(self.bbox, self.class)
    }
}

impl From<Detection> for LabeledBox {
    fn from(d: Detection) -> Self {
        d.labeled()
    }
}

/// One ground-truth object.
///
/// Serialised as `{"image_id", "bbox": [x1, y1, x2, y2], "class"}`, plus
/// `"crowd": true` for a crowd region (absent means `false`, so the wire form of 0.1
/// still reads).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Which image.
    pub image_id: u64,
    /// Where; corners in either diagonal order.
    #[serde(with = "as_array")]
    pub bbox: BBox,
    /// True class.
    pub class: ClassId,
    /// A crowd region (COCO's `iscrowd: 1`): never a miss, and detections that fall on
    /// it are ignored rather than counted as false positives; see [`evaluate`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub crowd: bool,
}

fn is_false(v: &bool) -> bool {
    !*v
}

impl GroundTruth {
    /// The object `labeled` on image `image_id` (not a crowd).
    pub const fn new(image_id: u64, labeled: LabeledBox) -> Self {
        Self {
            image_id,
            bbox: labeled.bbox,
            class: labeled.class,
            crowd: false,
        }
    }

    /// The crowd region `labeled` on image `image_id` (COCO's `iscrowd: 1`).
    pub const fn crowd(image_id: u64, labeled: LabeledBox) -> Self {
        Self {
            crowd: true,
            ..Self::new(image_id, labeled)
        }
    }

    /// The object with its crowd flag set to `crowd`.
    pub const fn with_crowd(mut self, crowd: bool) -> Self {
        self.crowd = crowd;
        self
    }

    /// The box and its class.
    pub const fn labeled(&self) -> LabeledBox {
        LabeledBox::new(self.bbox, self.class)
    }
}

impl From<GroundTruth> for LabeledBox {
    fn from(g: GroundTruth) -> Self {
        g.labeled()
    }
}

/// How to evaluate: `EvalConfig::default()` (COCO's) and `with_*` setters.
/// [`evaluate`] calls [`EvalConfig::validate`] first; deserialising checks the same way.
///
/// ```
/// use lockstep_postprocess::EvalConfig;
///
/// let config = EvalConfig::default()
///     .with_iou_thresholds(vec![0.5])
///     .with_max_detections(None);
/// assert!(config.validate().is_ok());
/// assert!(EvalConfig::default().with_iou_thresholds(vec![]).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEvalConfig")]
#[non_exhaustive]
pub struct EvalConfig {
    /// IoU thresholds `map` averages over; default COCO's ten, `0.50:0.05:0.95`.
    pub iou_thresholds: Vec<f64>,
    /// At most this many detections per (image, class), highest scores first; `None`
    /// for no limit. Default `Some(100)`, COCO's `maxDets`.
    pub max_detections: Option<u64>,
}

/// The serde shape of [`EvalConfig`], checked by `TryFrom` before it becomes one.
#[derive(Deserialize)]
struct RawEvalConfig {
    iou_thresholds: Vec<f64>,
    max_detections: Option<u64>,
}

impl TryFrom<RawEvalConfig> for EvalConfig {
    type Error = Error;

    fn try_from(r: RawEvalConfig) -> Result<Self> {
        let config = EvalConfig {
            iou_thresholds: r.iou_thresholds,
            max_detections: r.max_detections,
        };
        config.validate()?;
        Ok(config)
    }
}

/// COCO's IoU thresholds as `numpy.linspace(0.5, 0.95, 10)` computes them:
/// `0.5 + i · ((0.95 - 0.5) / 9)`, the last set to exactly 0.95.
pub fn coco_iou_thresholds() -> Vec<f64> {
    let step = (0.95 - 0.5) / 9.0;
    let mut t: Vec<f64> = (0..10).map(|i| f64::from(i) * step + 0.5).collect();
    if let Some(last) = t.last_mut() {
        *last = 0.95;
    }
    t
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            iou_thresholds: coco_iou_thresholds(),
            max_detections: Some(100),
        }
    }
}

/// Average precision of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassAp {
    /// The class.
    pub class: ClassId,
    /// Ground-truth boxes of this class, crowd regions not counted.
    pub num_ground_truth: u64,
    /// Crowd regions of this class (never misses; detections on them are ignored).
    pub num_crowd: u64,
    /// Detections of this class that took part (after `max_detections`).
    pub num_detections: u64,
    /// AP at each configured threshold, in [`EvalReport::iou_thresholds`] order.
    pub ap_per_threshold: Vec<f64>,
    /// Mean of `ap_per_threshold` (AP@[.5:.95] with the default thresholds).
    pub ap: f64,
    /// AP at IoU 0.5.
    pub ap_50: f64,
    /// AP at IoU 0.75.
    pub ap_75: f64,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvalReport {
    /// The thresholds `ap_per_threshold` and `map` refer to.
    pub iou_thresholds: Vec<f64>,
    /// One entry per class with ground truth, by increasing class.
    pub per_class: Vec<ClassAp>,
    /// Mean over classes of [`ClassAp::ap`] (mAP@[.5:.95] with the default thresholds).
    pub map: f64,
    /// mAP at IoU 0.5.
    pub map_50: f64,
    /// mAP at IoU 0.75.
    pub map_75: f64,
    /// Classes that have detections (or crowd regions) but no ground truth that is
    /// not a crowd (excluded from the means, as pycocotools leaves them at -1).
    pub classes_without_ground_truth: Vec<ClassId>,
}

impl EvalConfig {
    /// Sets the IoU thresholds `map` averages over (each in `[0, 1]`, at least one).
    pub fn with_iou_thresholds(mut self, thresholds: Vec<f64>) -> Self {
        self.iou_thresholds = thresholds;
        self
    }

    /// Sets the per-(image, class) detection limit; `None` for no limit, else at least 1.
    pub fn with_max_detections(mut self, n: Option<u64>) -> Self {
        self.max_detections = n;
        self
    }

    /// Checks the configuration: at least one threshold ([`Error::NoEvalThresholds`]),
    /// each in `[0, 1]` ([`Error::EvalIouThreshold`]), and a `max_detections` of at
    /// least 1 ([`Error::ZeroMaxDetections`]).
    pub fn validate(&self) -> Result<()> {
        if self.iou_thresholds.is_empty() {
            return Err(Error::NoEvalThresholds);
        }
        if let Some(&value) = self
            .iou_thresholds
            .iter()
            .find(|t| !(0.0..=1.0).contains(*t))
        {
            return Err(Error::EvalIouThreshold { value });
        }
        if self.max_detections == Some(0) {
            return Err(Error::ZeroMaxDetections);
        }
        Ok(())
    }
}

fn check_inputs(dets: &[Detection], gts: &[GroundTruth]) -> Result<()> {
    for (index, d) in dets.iter().enumerate() {
        if !d.score.is_finite() {
            return Err(Error::NonFiniteEntry {
                what: EntryKind::Detection,
                index,
                field: EntryField::Score,
                value: d.score,
            });
        }
        if let Some((_, value)) = non_finite(&d.bbox) {
            return Err(Error::NonFiniteEntry {
                what: EntryKind::Detection,
                index,
                field: EntryField::BBox,
                value,
            });
        }
    }
    for (index, g) in gts.iter().enumerate() {
        if let Some((_, value)) = non_finite(&g.bbox) {
            return Err(Error::NonFiniteEntry {
                what: EntryKind::GroundTruth,
                index,
                field: EntryField::BBox,
                value,
            });
        }
    }
    Ok(())
}

/// What one detection was at one threshold after per-image matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Matched a ground truth that is not a crowd.
    Hit,
    /// Matched nothing.
    Miss,
    /// Matched no regular ground truth but fell on a crowd region: left out of the
    /// precision-recall curve (pycocotools' `dtIgnore`).
    Ignored,
}

/// One detection after per-image matching: its sort key and its outcome at each
/// evaluated threshold.
struct Scored {
    score: f32,
    image_id: u64,
    index: usize,
    outcome: Vec<Outcome>,
}

/// The share of `det` that lies inside `crowd`, in `f64`: pycocotools' IoU against a
/// crowd region, `inter / area(det)`. 0 for a detection without area.
fn crowd_overlap(det: &BBox, crowd: &BBox) -> f64 {
    let a = normalize(*det).to_array().map(f64::from);
    let b = normalize(*crowd).to_array().map(f64::from);
    let area = (a[2] - a[0]) * (a[3] - a[1]);
    if area <= 0.0 {
        return 0.0;
    }
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    w * h / area
}

/// The 101 recall levels of COCO, as `numpy.linspace(0, 1, 101)`.
fn recall_levels() -> [f64; 101] {
    let mut r = [0.0; 101];
    for (j, v) in r.iter_mut().enumerate() {
        *v = j as f64 * 0.01;
    }
    r[100] = 1.0;
    r
}

/// 101-point interpolated AP of detections in visiting order (`tp` flags) against
/// `n_gt > 0` ground-truth boxes.
pub(crate) fn average_precision(tp: impl Iterator<Item = bool>, n_gt: usize) -> f64 {
    let (mut recall, mut precision) = (Vec::new(), Vec::new());
    let (mut tps, mut fps) = (0u64, 0u64);
    for hit in tp {
        if hit {
            tps += 1;
        } else {
            fps += 1;
        }
        recall.push(tps as f64 / n_gt as f64);
        precision.push(tps as f64 / (tps + fps) as f64);
    }
    for i in (1..precision.len()).rev() {
        if precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i];
        }
    }
    let mut sum = 0.0;
    for r in recall_levels() {
        let i = recall.partition_point(|&x| x < r);
        sum += precision.get(i).copied().unwrap_or(0.0);
    }
    sum / 101.0
}

/// Evaluates detections against ground truth, COCO-style.
///
/// The recipe, per class `k` and IoU threshold `t` (pycocotools' `"all"` area range):
///
/// 1. Per `(image, class)`, detections are sorted by score descending (ties: lower input
///    index) and cut to `max_detections` (COCO's `maxDets`, default 100); then matched
///    greedily to that image's ground truth of class `k` (see [`greedy_match`](crate::greedy_match):
///    IoU in `f64`, `>= t`, best IoU wins, equal IoUs go to the later ground truth).
/// 2. All kept detections of class `k` are sorted by score descending, ties by image id,
///    then input index (pycocotools' stable merge sort order). Running sums give
///    `recall = tp / n_gt` and `precision = tp / (tp + fp)` (in `f64`; pycocotools adds
///    `2.2e-16` to the denominator, we do not, so a perfect detector scores exactly 1).
/// 3. Precision is made non-increasing from the right: `p[i] = max(p[i], p[i + 1])`.
/// 4. 101-point interpolation: for each recall level `r_j = j · 0.01` (`j = 0..=100`,
///    computed as `j as f64 * 0.01`, with `r_100 = 1`, as `numpy.linspace`), take
///    `p[i]` at the first `i` with `recall[i] >= r_j`, or 0 if none. AP is their sum
///    (left to right) divided by 101.
///
/// Classes with no ground truth are excluded from the means (as COCO) and listed in
/// [`EvalReport::classes_without_ground_truth`]; a class with ground truth but no
/// detections has AP 0. mAP is the mean of per-class APs in increasing class order;
/// `map` averages each class over the configured thresholds first (COCO's AP@[.5:.95]).
///
/// Crowd regions ([`GroundTruth::crowd`], COCO's `iscrowd: 1`) are treated as
/// pycocotools' `COCOeval` treats them: they are not counted in `n_gt` (never misses);
/// a detection is first matched to the regular ground truth as above, and only if it
/// matches none is it compared with the image's crowd regions of its class, by the
/// share of the detection inside the region (`inter / area(det)`, pycocotools' crowd
/// IoU), `>= t`; a detection that falls on a crowd region is ignored (neither a true
/// nor a false positive), and a crowd region may absorb any number of detections.
/// Without crowd regions the result is exactly that of the recipe above. A class whose
/// ground truth is all crowd is excluded like a class without ground truth. Area
/// ranges are not modelled (pycocotools' `"all"`).
///
/// ```
/// use lockstep_postprocess::{evaluate, BBox, ClassId, Detection, EvalConfig, GroundTruth, LabeledBox};
///
/// let object = LabeledBox::new(BBox::new(0.0, 0.0, 10.0, 10.0), ClassId(1));
/// let gts = [GroundTruth::new(0, object)];
/// let dets = [Detection::new(0, object, 0.9)];
/// let report = evaluate(&dets, &gts, &EvalConfig::default())?;
/// assert_eq!(report.map, 1.0);
/// assert_eq!(report.map_50, 1.0);
/// # Ok::<(), lockstep_postprocess::Error>(())
/// ```
pub fn evaluate(
    dets: &[Detection],
    gts: &[GroundTruth],
    config: &EvalConfig,
) -> Result<EvalReport> {
    config.validate()?;
    check_inputs(dets, gts)?;
    if gts.iter().all(|g| g.crowd) {
        return Err(Error::NoGroundTruth);
    }
    // Thresholds to evaluate: the configured ones, then 0.5 and 0.75 unless present.
    let mut thresholds = config.iou_thresholds.clone();
    let find = |t: &[f64], v: f64| t.iter().position(|x| x.to_bits() == v.to_bits());
    for extra in [0.5, 0.75] {
        if find(&thresholds, extra).is_none() {
            thresholds.push(extra);
        }
    }
    let (i50, i75) = (
        find(&thresholds, 0.5).unwrap_or(0),
        find(&thresholds, 0.75).unwrap_or(0),
    );

    // Group by (class, image).
    let mut groups: BTreeMap<(ClassId, u64), (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, d) in dets.iter().enumerate() {
        groups.entry((d.class, d.image_id)).or_default().0.push(i);
    }
    for (i, g) in gts.iter().enumerate() {
        groups.entry((g.class, g.image_id)).or_default().1.push(i);
    }

    // Per class: regular ground truth, crowd regions, scored detections.
    let mut per_class_dets: BTreeMap<ClassId, (usize, usize, Vec<Scored>)> = BTreeMap::new();
    for (&(class, _), (det_ids, gt_ids)) in &groups {
        let mut det_ids = det_ids.clone();
        det_ids.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score).then(a.cmp(&b)));
        let limit = config
            .max_detections
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        det_ids.truncate(limit);
        let det_boxes: Vec<BBox> = det_ids.iter().map(|&i| normalize(dets[i].bbox)).collect();
        let (crowd_ids, regular_ids): (Vec<usize>, Vec<usize>) =
            gt_ids.iter().partition(|&&i| gts[i].crowd);
        let gt_boxes: Vec<BBox> = regular_ids
            .iter()
            .map(|&i| normalize(gts[i].bbox))
            .collect();
        let ious = iou_matrix_unchecked(&det_boxes, &gt_boxes);
        let matches: Vec<Vec<Option<usize>>> =
            thresholds.iter().map(|&t| match_rows(&ious, t)).collect();
        // The best share of each detection inside any crowd region of its image.
        let on_crowd: Vec<f64> = det_boxes
            .iter()
            .map(|d| {
                crowd_ids
                    .iter()
                    .map(|&c| crowd_overlap(d, &gts[c].bbox))
                    .fold(0.0, f64::max)
            })
            .collect();
        let entry = per_class_dets.entry(class).or_default();
        entry.0 += regular_ids.len();
        entry.1 += crowd_ids.len();
        for (row, &i) in det_ids.iter().enumerate() {
            let outcome = thresholds
                .iter()
                .zip(&matches)
                .map(|(&t, m)| {
                    if m.get(row).copied().flatten().is_some() {
                        Outcome::Hit
                    } else if !crowd_ids.is_empty()
                        && on_crowd.get(row).is_some_and(|&o| o >= match_threshold(t))
                    {
                        Outcome::Ignored
                    } else {
                        Outcome::Miss
                    }
                })
                .collect();
            entry.2.push(Scored {
                score: dets[i].score,
                image_id: dets[i].image_id,
                index: i,
                outcome,
            });
        }
    }

    let mut per_class = Vec::new();
    let mut without_gt = BTreeSet::new();
    for (class, (n_gt, n_crowd, mut scored)) in per_class_dets {
        if n_gt == 0 {
            without_gt.insert(class);
            continue;
        }
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.image_id.cmp(&b.image_id))
                .then(a.index.cmp(&b.index))
        });
        let aps: Vec<f64> = (0..thresholds.len())
            .map(|t| {
                // Ignored detections leave the curve (pycocotools masks them out of
                // both running sums, which leaves its points unchanged).
                average_precision(
                    scored.iter().filter_map(|s| match s.outcome.get(t) {
                        Some(Outcome::Hit) => Some(true),
                        Some(Outcome::Ignored) => None,
                        Some(Outcome::Miss) | None => Some(false),
                    }),
                    n_gt,
                )
            })
            .collect();
        let configured = &aps[..config.iou_thresholds.len()];
        per_class.push(ClassAp {
            class,
            // usize -> u64 is lossless on every platform Rust supports.
            num_ground_truth: n_gt as u64,
            num_crowd: n_crowd as u64,
            num_detections: scored.len() as u64,
            ap_per_threshold: configured.to_vec(),
            ap: mean(configured),
            ap_50: aps.get(i50).copied().unwrap_or(0.0),
            ap_75: aps.get(i75).copied().unwrap_or(0.0),
        });
    }
    let column = |f: fn(&ClassAp) -> f64| mean(&per_class.iter().map(f).collect::<Vec<_>>());
    Ok(EvalReport {
        iou_thresholds: config.iou_thresholds.clone(),
        map: column(|c| c.ap),
        map_50: column(|c| c.ap_50),
        map_75: column(|c| c.ap_75),
        per_class,
        classes_without_ground_truth: without_gt.into_iter().collect(),
    })
}

/// Left-to-right mean; 0 for an empty slice (cannot happen for non-empty ground truth).
fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ap_of_hand_computed_precision_recall_curves() {
        // Perfect: recall reaches 1 with precision 1.
        assert_eq!(average_precision([true, true].into_iter(), 2), 1.0);
        // Nothing detected.
        assert_eq!(average_precision(std::iter::empty(), 3), 0.0);
        // TP, FP, TP against 2 gts: recall 0.5, 0.5, 1; precision 1, 0.5, 2/3 ->
        // interpolated 1, 2/3, 2/3. Levels 0..=50 take 1 (51 of them), 51..=100 take 2/3.
        let ap = average_precision([true, false, true].into_iter(), 2);
        let mut expected = 0.0f64;
        for j in 0..=100 {
            expected += if j <= 50 { 1.0 } else { 2.0 / 3.0 };
        }
        assert_eq!(ap.to_bits(), (expected / 101.0).to_bits());
        // One TP out of 4 gts, first: recall 0.25 -> levels 0..=25 get 1.
        assert_eq!(
            average_precision([true, false].into_iter(), 4),
            26.0 / 101.0
        );
    }

    #[test]
    fn coco_thresholds_are_numpy_linspace() {
        let t = coco_iou_thresholds();
        assert_eq!(t.len(), 10);
        assert_eq!(t[0], 0.5);
        assert_eq!(t[9], 0.95);
        assert_eq!(t[5], 0.75);
    }

    #[test]
    fn config_errors_are_typed() {
        let unit = LabeledBox::new(BBox::new(0.0, 0.0, 1.0, 1.0), ClassId(0));
        let gts = [GroundTruth::new(0, unit)];
        let bad = EvalConfig::default()
            .with_iou_thresholds(vec![0.5, 1.5])
            .with_max_detections(None);
        assert_eq!(
            evaluate(&[], &gts, &bad),
            Err(Error::EvalIouThreshold { value: 1.5 })
        );
        let none = EvalConfig::default()
            .with_iou_thresholds(vec![])
            .with_max_detections(None);
        assert_eq!(evaluate(&[], &gts, &none), Err(Error::NoEvalThresholds));
        let zero = EvalConfig::default().with_max_detections(Some(0));
        assert_eq!(evaluate(&[], &gts, &zero), Err(Error::ZeroMaxDetections));
        assert_eq!(
            evaluate(&[], &[], &EvalConfig::default()),
            Err(Error::NoGroundTruth)
        );
        let d = [Detection::new(0, unit, f32::NAN)];
        assert!(matches!(
            evaluate(&d, &gts, &EvalConfig::default()),
            Err(Error::NonFiniteEntry {
                what: EntryKind::Detection,
                index: 0,
                field: EntryField::Score,
                ..
            })
        ));
        let g = [GroundTruth {
            bbox: BBox::new(0.0, 0.0, f32::INFINITY, 1.0),
            ..gts[0]
        }];
        assert_eq!(
            evaluate(&[], &g, &EvalConfig::default()),
            Err(Error::NonFiniteEntry {
                what: EntryKind::GroundTruth,
                index: 0,
                field: EntryField::BBox,
                value: f32::INFINITY,
            })
        );
    }

    /// The wire form is that of 0.1: boxes as `[x1, y1, x2, y2]`, classes as numbers.
    #[test]
    fn entries_serialise_as_before() {
        let d = Detection::new(
            3,
            LabeledBox::new(BBox::new(1.0, 2.0, 3.0, 4.5), ClassId(7)),
            0.5,
        );
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"image_id":3,"bbox":[1.0,2.0,3.0,4.5],"class":7,"score":0.5}"#
        );
        assert_eq!(serde_json::from_str::<Detection>(&json).unwrap(), d);
        let old = r#"{"image_id":3,"class":7,"bbox":[1.0,2.0,3.0,4.5]}"#;
        let g: GroundTruth = serde_json::from_str(old).unwrap();
        assert_eq!(g.labeled(), d.labeled());
        assert_eq!(LabeledBox::from(g), LabeledBox::from(d));
    }

    #[test]
    fn deserialised_configs_are_checked() {
        let json = serde_json::to_string(&EvalConfig::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<EvalConfig>(&json).unwrap(),
            EvalConfig::default()
        );
        for bad in [
            r#"{"iou_thresholds":[],"max_detections":null}"#,
            r#"{"iou_thresholds":[0.5,2.0],"max_detections":null}"#,
            r#"{"iou_thresholds":[0.5],"max_detections":0}"#,
        ] {
            assert!(serde_json::from_str::<EvalConfig>(bad).is_err(), "{bad}");
        }
    }
}
