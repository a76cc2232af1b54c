//! TinyDetector: a small single-shot grid detector (YOLO-v1 style, one box per cell).
//!
//! A stride-8 convolutional backbone (Conv-BN-ReLU blocks) feeds a 1×1 head that
//! predicts, per cell of the `S/8 × S/8` grid, `5 + classes` channels:
//! - 0: objectness logit;
//! - 1, 2: centre offset in the cell, through a sigmoid;
//! - 3, 4: `ln(w / 8)`, `ln(h / 8)`;
//! - 5…: class logits.
//!
//! A ground-truth box is assigned to the cell holding its centre; when two boxes share a
//! cell the larger area wins (ties: the earlier box). The loss is
//! `(Σ BCE(obj) weighted 1 on positive cells and 0.5 on negative ones
//!   + 2 · Σ_pos smoothL1(offset, size)
//!   + Σ_pos CE(class)) / max(#positives, 1)`.

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use lockstep_core::{BBox, ClassId, LabeledBox};
use lockstep_postprocess::Detection;

use super::layers::{Conv, ConvBnRelu};
use super::{batch_len, check_shape, Model, Tap};
use crate::batch::Batch;
use crate::error::{Error, Result};

/// The grid stride in pixels.
pub const STRIDE: i64 = 8;
/// Target channels per cell: objectness, offset x, offset y, ln w, ln h, class.
pub const TARGET_CHANNELS: i64 = 6;
const NEG_WEIGHT: f64 = 0.5;
const BOX_WEIGHT: f64 = 2.0;

/// The largest input side [`DetectorConfig::validate`] accepts: a larger one is a
/// mistake (and its target grid would not fit in memory).
pub const MAX_IMAGE_SIZE: u32 = 16384;

/// The detector's shape: [`Default`] is 96×96 inputs, 3 classes, width 8, NMS at IoU
/// 0.5; change it with the `with_*` setters.
///
/// ```
/// let det = lockstep_nn::DetectorConfig::default().with_classes(5).with_image_size(128);
/// det.validate()?;
/// assert_eq!(det.grid(), 16);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DetectorConfigFields")]
#[non_exhaustive]
pub struct DetectorConfig {
    /// Square input side in pixels (a multiple of 8, at most [`MAX_IMAGE_SIZE`]).
    pub image_size: u32,
    /// Number of classes.
    pub classes: u32,
    /// Channels of the first block (later blocks have 2× and 4×).
    pub width: u32,
    /// IoU above which NMS suppresses (class-aware) in [`TinyDetector::decode`].
    pub nms_iou: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            image_size: 96,
            classes: 3,
            width: 8,
            nms_iou: 0.5,
        }
    }
}

/// The serialised form of [`DetectorConfig`]; deserialising validates it.
#[derive(Deserialize)]
struct DetectorConfigFields {
    image_size: u32,
    classes: u32,
    width: u32,
    nms_iou: f64,
}

impl TryFrom<DetectorConfigFields> for DetectorConfig {
    type Error = Error;
    fn try_from(f: DetectorConfigFields) -> Result<Self> {
        let c = Self {
            image_size: f.image_size,
            classes: f.classes,
            width: f.width,
            nms_iou: f.nms_iou,
        };
        c.validate()?;
        Ok(c)
    }
}

impl DetectorConfig {
    /// Grid cells per side.
    pub fn grid(&self) -> u32 {
        self.image_size / STRIDE as u32
    }

    /// Sets [`Self::image_size`].
    pub fn with_image_size(mut self, pixels: u32) -> Self {
        self.image_size = pixels;
        self
    }
    /// Sets [`Self::classes`].
    pub fn with_classes(mut self, classes: u32) -> Self {
        self.classes = classes;
        self
    }
    /// Sets [`Self::width`].
    pub fn with_width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }
    /// Sets [`Self::nms_iou`].
    pub fn with_nms_iou(mut self, iou: f64) -> Self {
        self.nms_iou = iou;
        self
    }

    fn size(&self) -> i64 {
        i64::from(self.image_size)
    }
    fn grid_i64(&self) -> i64 {
        i64::from(self.grid())
    }
    fn classes_i64(&self) -> i64 {
        i64::from(self.classes)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let stride = STRIDE as u32;
        if self.image_size < stride
            || !self.image_size.is_multiple_of(stride)
            || self.image_size > MAX_IMAGE_SIZE
        {
            return Err(Error::InvalidConfig {
                what: "detector.image_size",
                value: self.image_size.to_string(),
            });
        }
        if self.classes < 1 {
            return Err(Error::InvalidConfig {
                what: "detector.classes",
                value: self.classes.to_string(),
            });
        }
        if self.width < 1 {
            return Err(Error::InvalidConfig {
                what: "detector.width",
                value: self.width.to_string(),
            });
        }
        if !(0.0..=1.0).contains(&self.nms_iou) {
            return Err(Error::InvalidConfig {
                what: "detector.nms_iou",
                value: self.nms_iou.to_string(),
            });
        }
        Ok(())
    }
}

/// The detector. Trace names: `block1` … `block6`, `head`.
#[derive(Debug)]
pub struct TinyDetector {
    config: DetectorConfig,
    blocks: Vec<ConvBnRelu>,
    head: Conv,
}

const BLOCK_NAMES: [&str; 6] = ["block1", "block2", "block3", "block4", "block5", "block6"];

impl TinyDetector {
    /// Builds the parameters under `vs`. Weights come from libtorch's generator (reseed
    /// it first, as the trainer does); the objectness bias starts at −4 (a prior of
    /// about 2% per cell) so early training is not swamped by empty cells.
    pub fn new(vs: &nn::Path<'_>, config: &DetectorConfig) -> Result<Self> {
        config.validate()?;
        let w = i64::from(config.width);
        // (cin, cout, stride, dilation): 96 → 48 → 24 → 24 → 12 → 12 → 12.
        let plan = [
            (3, w, 2, 1),
            (w, 2 * w, 2, 1),
            (2 * w, 2 * w, 1, 1),
            (2 * w, 4 * w, 2, 1),
            (4 * w, 4 * w, 1, 1),
            (4 * w, 4 * w, 1, 2),
        ];
        let blocks = plan
            .iter()
            .zip(BLOCK_NAMES)
            .map(|(&(cin, cout, s, d), name)| ConvBnRelu::new(vs / name, cin, cout, 3, s, d))
            .collect();
        let head = Conv::new(vs / "head", 4 * w, 5 + config.classes_i64(), 1);
        if let Some(bias) = head.bias() {
            tch::no_grad(|| -> Result<()> {
                let mut obj = bias.f_narrow(0, 0, 1)?;
                let _ = obj.f_fill_(-4.0)?;
                Ok(())
            })?;
        }
        Ok(Self {
            config: config.clone(),
            blocks,
            head,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Raw per-cell candidates with score (`σ(obj) · max softmax(class)`) above
    /// `score_threshold`, before NMS, per image. `image_id` is the index in the batch.
    pub fn decode_candidates(
        &self,
        pred: &Tensor,
        score_threshold: f32,
    ) -> Result<Vec<Vec<Detection>>> {
        let g = self.config.grid_i64();
        let c = self.config.classes_i64();
        check_shape(
            0,
            "predictions",
            pred,
            Kind::Float,
            &[None, Some(5 + c), Some(g), Some(g)],
        )?;
        let pred = pred.f_detach()?.f_to_device(Device::Cpu)?;
        let n = pred.size().first().copied().unwrap_or(0);
        let obj = pred.f_narrow(1, 0, 1)?.f_sigmoid()?;
        let probs = pred.f_narrow(1, 5, c)?.f_softmax(1, Kind::Float)?;
        let (best, class) = probs.f_max_dim(1, true)?;
        let score = obj.f_mul(&best)?;
        let xy = pred.f_narrow(1, 1, 2)?.f_sigmoid()?;
        let wh = pred
            .f_narrow(1, 3, 2)?
            .f_clamp(-8.0, 8.0)?
            .f_exp()?
            .f_mul_scalar(STRIDE as f64)?;
        let flat = |t: &Tensor| -> Result<Vec<f32>> {
            Ok(Vec::<f32>::try_from(
                &t.f_to_kind(Kind::Float)?.f_contiguous()?.f_view([-1])?,
            )?)
        };
        let (score, class, xy, wh) = (flat(&score)?, flat(&class)?, flat(&xy)?, flat(&wh)?);
        let cells = usize::try_from(g * g).unwrap_or(0);
        let mut out = Vec::new();
        for i in 0..usize::try_from(n).unwrap_or(0) {
            let mut dets = Vec::new();
            for cell in 0..cells {
                let at = i * cells + cell;
                let (Some(&s), Some(&k)) = (score.get(at), class.get(at)) else {
                    continue;
                };
                // NaN scores fail the comparison and are skipped.
                if s.partial_cmp(&score_threshold) != Some(std::cmp::Ordering::Greater) {
                    continue;
                }
                let base2 = i * 2 * cells + cell;
                let (Some(&ox), Some(&oy), Some(&w), Some(&h)) = (
                    xy.get(base2),
                    xy.get(base2 + cells),
                    wh.get(base2),
                    wh.get(base2 + cells),
                ) else {
                    continue;
                };
                let gx = (cell % usize::try_from(g).unwrap_or(1)) as f32;
                let gy = (cell / usize::try_from(g).unwrap_or(1)) as f32;
                let cx = (gx + ox) * STRIDE as f32;
                let cy = (gy + oy) * STRIDE as f32;
                dets.push(Detection {
                    image_id: i as u64,
                    class: ClassId(k as u32),
                    score: s,
                    bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
                });
            }
            out.push(dets);
        }
        Ok(out)
    }

    /// Candidates as in [`Self::decode_candidates`], then per-image suppression by
    /// `nms`, a function of (boxes, scores, classes) returning the kept indices in
    /// output order.
    pub fn decode_with<F>(
        &self,
        pred: &Tensor,
        score_threshold: f32,
        mut nms: F,
    ) -> Result<Vec<Vec<Detection>>>
    where
        F: FnMut(&[BBox], &[f32], &[ClassId]) -> Result<Vec<usize>>,
    {
        let mut out = Vec::new();
        for dets in self.decode_candidates(pred, score_threshold)? {
            let boxes: Vec<BBox> = dets.iter().map(|d| d.bbox).collect();
            let scores: Vec<f32> = dets.iter().map(|d| d.score).collect();
            let classes: Vec<ClassId> = dets.iter().map(|d| d.class).collect();
            let keep = nms(&boxes, &scores, &classes)?;
            out.push(
                keep.into_iter()
                    .filter_map(|k| dets.get(k).copied())
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Boxes, scores and classes per image after class-aware NMS
    /// (`lockstep_postprocess::batched_nms` at `config.nms_iou`). `image_id` is the index
    /// in the batch.
    pub fn decode(&self, pred: &Tensor, score_threshold: f32) -> Result<Vec<Vec<Detection>>> {
        let iou = self.config.nms_iou;
        self.decode_with(pred, score_threshold, |b, s, c| {
            Ok(lockstep_postprocess::batched_nms(b, s, c, iou)?)
        })
    }
}

impl Model for TinyDetector {
    fn check_batch(&self, step: u64, batch: &Batch) -> Result<()> {
        let s = self.config.size();
        let g = self.config.grid_i64();
        check_shape(
            step,
            "inputs",
            &batch.inputs,
            Kind::Float,
            &[None, Some(3), Some(s), Some(s)],
        )?;
        check_shape(
            step,
            "targets",
            &batch.targets,
            Kind::Float,
            &[
                Some(batch_len(batch)?),
                Some(TARGET_CHANNELS),
                Some(g),
                Some(g),
            ],
        )
    }

    fn forward_tapped(&self, x: &Tensor, train: bool, tap: &mut Tap<'_>) -> Result<Tensor> {
        let mut x = x.shallow_clone();
        for (block, name) in self.blocks.iter().zip(BLOCK_NAMES) {
            x = block.forward(&x, train)?;
            tap(name, &x)?;
        }
        let y = self.head.forward(&x)?;
        tap("head", &y)?;
        Ok(y)
    }

    fn loss(&self, pred: &Tensor, t: &Tensor) -> Result<Tensor> {
        let c = self.config.classes_i64();
        let pos = t.f_narrow(1, 0, 1)?; // [N,1,G,G]
        let npos = pos.f_sum(Kind::Float)?.f_clamp_min(1.0)?;
        // Objectness: every cell, negatives down-weighted.
        let weight = pos
            .f_mul_scalar(1.0 - NEG_WEIGHT)?
            .f_add_scalar(NEG_WEIGHT)?;
        let obj = pred
            .f_narrow(1, 0, 1)?
            .f_binary_cross_entropy_with_logits::<Tensor>(
                &pos,
                Some(weight),
                None,
                tch::Reduction::Sum,
            )?;
        // Box: positive cells only.
        let xy = pred.f_narrow(1, 1, 2)?.f_sigmoid()?.f_smooth_l1_loss(
            &t.f_narrow(1, 1, 2)?,
            tch::Reduction::None,
            1.0 / 9.0,
        )?;
        let wh = pred.f_narrow(1, 3, 2)?.f_smooth_l1_loss(
            &t.f_narrow(1, 3, 2)?,
            tch::Reduction::None,
            1.0 / 9.0,
        )?;
        let boxes = xy.f_add(&wh)?.f_mul(&pos)?.f_sum(Kind::Float)?;
        // Class: cross-entropy on positive cells.
        let logp = pred.f_narrow(1, 5, c)?.f_log_softmax(1, Kind::Float)?;
        let idx = t.f_narrow(1, 5, 1)?.f_to_kind(Kind::Int64)?;
        let cls = logp
            .f_gather(1, &idx, false)?
            .f_mul(&pos)?
            .f_sum(Kind::Float)?
            .f_neg()?;
        let total = obj.f_add(&boxes.f_mul_scalar(BOX_WEIGHT)?)?.f_add(&cls)?;
        Ok(total.f_div(&npos)?)
    }
}

/// The dense target grid `[N, 6, G, G]` (channels: objectness 0/1, centre offset x and
/// y in the cell, `ln(w/8)`, `ln(h/8)`, class index) for the objects of each image.
/// Boxes must be finite with positive width and height and a class below `classes`;
/// centres are clamped into the image. `objects` holds one list per image
/// (`Vec<LabeledBox>` or `&[LabeledBox]`).
///
/// ```no_run
/// use lockstep_nn::{build_targets, BBox, ClassId, DetectorConfig, LabeledBox};
///
/// let boxes = vec![vec![LabeledBox::new(BBox::new(8.0, 8.0, 24.0, 40.0), ClassId(2))]];
/// let targets = build_targets(&boxes, &DetectorConfig::default())?;
/// assert_eq!(targets.size(), [1, 6, 12, 12]);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn build_targets<B: AsRef<[LabeledBox]>>(
    objects: &[B],
    config: &DetectorConfig,
) -> Result<Tensor> {
    config.validate()?;
    let g = config.grid() as usize;
    let n = objects.len();
    // Checked, so a huge image size or batch is a typed error, not an overflow.
    let too_large = || Error::InvalidConfig {
        what: "detector.image_size",
        value: format!(
            "{} (a target grid for {n} images does not fit in memory)",
            config.image_size
        ),
    };
    let cells = g.checked_mul(g).ok_or_else(too_large)?;
    let len = cells
        .checked_mul(6)
        .and_then(|c| c.checked_mul(n))
        .filter(|&len| i64::try_from(len).is_ok())
        .ok_or_else(too_large)?;
    let mut data = vec![0f32; len];
    let mut area_at = vec![f32::NEG_INFINITY; n * cells];
    let side = config.image_size as f32;
    let stride = STRIDE as f32;
    for (i, objs) in objects.iter().enumerate() {
        for (j, o) in objs.as_ref().iter().enumerate() {
            let [x1, y1, x2, y2] = o.bbox.to_array();
            let bad = |reason: String| Error::BadAnnotation {
                image: i,
                object: j,
                reason,
            };
            if !o.bbox.is_finite() {
                return Err(bad(format!("non-finite box {:?}", o.bbox.to_array())));
            }
            if !(x2 > x1 && y2 > y1) {
                return Err(bad(format!("box {:?} has no area", o.bbox.to_array())));
            }
            // Finite corners can still be an infinite width (3e38 − (−3e38)), which
            // would make an infinite `ln(w/8)` target.
            if !((x2 - x1).is_finite() && (y2 - y1).is_finite()) {
                return Err(bad(format!(
                    "box {:?}: its width or height overflows f32",
                    o.bbox.to_array()
                )));
            }
            if o.class.0 >= config.classes {
                return Err(bad(format!(
                    "class {} out of 0..{}",
                    o.class.0, config.classes
                )));
            }
            let cx = ((x1 + x2) / 2.0).clamp(0.0, side - 1e-3);
            let cy = ((y1 + y2) / 2.0).clamp(0.0, side - 1e-3);
            let gx = ((cx / stride) as usize).min(g - 1);
            let gy = ((cy / stride) as usize).min(g - 1);
            let cell = gy * g + gx;
            let area = (x2 - x1) * (y2 - y1);
            if area <= area_at[i * cells + cell] {
                continue;
            }
            area_at[i * cells + cell] = area;
            let base = i * 6 * cells + cell;
            let values = [
                1.0,
                cx / stride - gx as f32,
                cy / stride - gy as f32,
                libm::logf((x2 - x1) / stride),
                libm::logf((y2 - y1) / stride),
                o.class.0 as f32,
            ];
            for (ch, v) in values.into_iter().enumerate() {
                data[base + ch * cells] = v;
            }
        }
    }
    let g = config.grid_i64();
    let n = i64::try_from(n).map_err(|_| too_large())?;
    Ok(Tensor::f_from_slice(&data)?.f_view([n, TARGET_CHANNELS, g, g])?)
}
