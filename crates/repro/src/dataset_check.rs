//! The dataset section's start-up check: both splits validated completely, in
//! parallel, before the stage checks and before any training, and summarised for the
//! report.
//!
//! Every image file must exist and decode; its decoded size must match the `width` and
//! `height` of the annotation file (when given); every box must lie within its image,
//! up to [`BOX_TOLERANCE`] pixels on each side (boxes inside the tolerance are clipped
//! to the image silently and counted); every annotation's category must be among the
//! training split's categories ([`lockstep_data::ClassMap`]); image, annotation and
//! category ids must be unique (checked by `lockstep-data`'s COCO parser, whose checks
//! all run here too). Every problem is collected, not only the first, and each names
//! its split, file, image id and annotation id where it has them ([`Problem`]).
//!
//! With [`OnBadSample::Fail`] (the default) any problem fails the suite before
//! training. With [`OnBadSample::Skip`] each image with a problem is left out of
//! training and evaluation and listed in the report; problems that concern a whole
//! split (an annotation file that does not parse, repeated image ids, no categories)
//! fail in either mode. With `clip_boxes`, boxes beyond the tolerance are clipped to
//! their image and listed; a box with nothing left inside its image is still a problem.
//!
//! Accepted images: what the `image` crate decodes as PNG or JPEG, in any of its
//! pixel modes. Each is converted to 8-bit RGB (grey replicated to three channels,
//! alpha dropped, palette expanded, 16-bit scaled to 8); the summary counts the
//! modes found ([`ImageMode`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lockstep_core::{BBox, ImageSize};
use lockstep_data::{ClassMap, CocoAnnotations, CocoImage, CorruptPolicy};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layout::DataPaths;

/// How far, in pixels, a box may reach beyond its image on each side and still count
/// as inside it (it is then clipped to the image). Annotation tools and COCO exports
/// often round `x + w` a fraction of a pixel past the border.
pub const BOX_TOLERANCE: f32 = 1.0;

/// What to do with an image that has a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum OnBadSample {
    /// Report every problem and fail before training (`--on-bad-sample fail`).
    #[default]
    Fail,
    /// Leave each image with a problem out, and list it in the report
    /// (`--on-bad-sample skip`).
    Skip,
}

/// How to check: [`CheckConfig::default`] fails on any problem and clips nothing.
///
/// ```
/// use lockstep_repro::dataset_check::{CheckConfig, OnBadSample};
/// let config = CheckConfig::default().with_on_bad_sample(OnBadSample::Skip).with_clip_boxes(true);
/// assert!(config.clip_boxes);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckConfig {
    /// Fail, or skip and record.
    pub on_bad_sample: OnBadSample,
    /// Clip boxes beyond [`BOX_TOLERANCE`] to their image (and list them).
    pub clip_boxes: bool,
}

impl CheckConfig {
    /// Sets [`Self::on_bad_sample`].
    pub fn with_on_bad_sample(mut self, on_bad_sample: OnBadSample) -> Self {
        self.on_bad_sample = on_bad_sample;
        self
    }
    /// Sets [`Self::clip_boxes`].
    pub fn with_clip_boxes(mut self, clip_boxes: bool) -> Self {
        self.clip_boxes = clip_boxes;
        self
    }
}

/// One of the two splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SplitName {
    /// The training split.
    Train,
    /// The validation split.
    Val,
}

impl fmt::Display for SplitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Train => "train",
            Self::Val => "val",
        })
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The annotation file cannot be read or parsed, or breaks a rule of the whole file
    /// (repeated image or category ids). Never skipped.
    Annotations {
        /// What the COCO parser said.
        reason: String,
    },
    /// The split has no category, or no image left. Never skipped.
    EmptySplit {
        /// What is missing.
        reason: String,
    },
    /// A category id named differently in the two splits. Never skipped.
    CategoryRenamed {
        /// The category id.
        id: u64,
        /// Its name in the training split.
        train: String,
        /// Its name in this split.
        here: String,
    },
    /// An image entry or annotation `lockstep-data`'s COCO parser refuses (unsafe file
    /// name, zero size, repeated annotation id, a category not in the file's own list,
    /// a malformed box, an image id that does not exist).
    Entry {
        /// What the parser said.
        reason: String,
    },
    /// The image file cannot be read (missing, not a regular file, unreadable).
    Unreadable {
        /// The OS error.
        reason: String,
    },
    /// The image file does not decode as PNG or JPEG.
    Undecodable {
        /// The decoder's error.
        reason: String,
    },
    /// The decoded size differs from the annotation file's `width` and `height`.
    SizeMismatch {
        /// The size in the annotation file.
        json: ImageSize,
        /// The decoded size.
        found: ImageSize,
    },
    /// A box reaches beyond its image by more than [`BOX_TOLERANCE`].
    BoxOutside {
        /// The box, `[x1, y1, x2, y2]`.
        bbox: [f32; 4],
        /// The image's decoded size.
        image: ImageSize,
    },
    /// A box with nothing inside its image, so clipping cannot keep it.
    BoxNotInImage {
        /// The box, `[x1, y1, x2, y2]`.
        bbox: [f32; 4],
        /// The image's decoded size.
        image: ImageSize,
    },
    /// An annotation's category is not among the training split's categories.
    UnknownCategory {
        /// The annotation's category id.
        category: u64,
        /// The training split's category ids.
        known: Vec<u64>,
    },
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Annotations { reason } => write!(f, "annotation file unusable: {reason}"),
            Self::EmptySplit { reason } => write!(f, "{reason}"),
            Self::CategoryRenamed { id, train, here } => write!(
                f,
                "category {id} is `{here}` here but `{train}` in the training split"
            ),
            Self::Entry { reason } => write!(f, "{reason}"),
            Self::Unreadable { reason } => write!(f, "cannot read the image file: {reason}"),
            Self::Undecodable { reason } => write!(f, "does not decode: {reason}"),
            Self::SizeMismatch { json, found } => write!(
                f,
                "the annotation file says {}x{}, the image is {}x{}{}",
                json.width,
                json.height,
                found.width,
                found.height,
                if json.width == found.height && json.height == found.width {
                    " (width and height swapped?)"
                } else {
                    ""
                }
            ),
            Self::BoxOutside { bbox, image } => write!(
                f,
                "box [{}, {}, {}, {}] (x1, y1, x2, y2) lies outside the {}x{} image by more \
                 than the {BOX_TOLERANCE} px tolerance (--clip-boxes clips it)",
                bbox[0], bbox[1], bbox[2], bbox[3], image.width, image.height
            ),
            Self::BoxNotInImage { bbox, image } => write!(
                f,
                "box [{}, {}, {}, {}] (x1, y1, x2, y2) has no area inside the {}x{} image",
                bbox[0], bbox[1], bbox[2], bbox[3], image.width, image.height
            ),
            Self::UnknownCategory { category, known } => write!(
                f,
                "category {category} is not among the training split's categories {known:?}"
            ),
        }
    }
}

/// One problem, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// The split.
    pub split: SplitName,
    /// The file: the image file, or the annotation file for problems of the file.
    pub file: PathBuf,
    /// The image id, where the problem has one.
    pub image_id: Option<u64>,
    /// The annotation id, where the problem has one.
    pub annotation_id: Option<u64>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl Problem {
    /// Whether skipping the image (or the annotation) removes the problem.
    pub fn skippable(&self) -> bool {
        !matches!(
            self.kind,
            ProblemKind::Annotations { .. }
                | ProblemKind::EmptySplit { .. }
                | ProblemKind::CategoryRenamed { .. }
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.split, self.file.display())?;
        match (self.image_id, self.annotation_id) {
            (Some(i), Some(a)) => write!(f, " (image {i}, annotation {a})")?,
            (Some(i), None) => write!(f, " (image {i})")?,
            (None, Some(a)) => write!(f, " (annotation {a})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.kind)
    }
}

/// A box beyond the tolerance that `--clip-boxes` clipped to its image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClippedBox {
    /// The split.
    pub split: SplitName,
    /// The image file.
    pub file: PathBuf,
    /// The image id.
    pub image_id: u64,
    /// The annotation id.
    pub annotation_id: u64,
    /// The box as annotated, `[x1, y1, x2, y2]`.
    pub before: [f32; 4],
    /// The box as trained and evaluated.
    pub after: [f32; 4],
}

/// An image's pixel mode as stored in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ImageMode {
    /// 8-bit RGB: used as it is.
    Rgb,
    /// 8-bit RGB with alpha: alpha dropped.
    Rgba,
    /// Grey: replicated to three channels.
    Grey,
    /// Grey with alpha: replicated, alpha dropped.
    GreyAlpha,
    /// A PNG palette: expanded to RGB (alpha dropped if the palette has one).
    Palette,
    /// 16 bits per channel (PNG): scaled to 8 bits.
    Deep,
    /// Anything else the decoder accepts (e.g. CMYK JPEG): converted by the decoder.
    Other,
}

impl ImageMode {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rgb => "RGB",
            Self::Rgba => "RGBA (alpha dropped)",
            Self::Grey => "grey (replicated to RGB)",
            Self::GreyAlpha => "grey + alpha (replicated, alpha dropped)",
            Self::Palette => "palette (expanded to RGB)",
            Self::Deep => "16-bit (scaled to 8-bit RGB)",
            Self::Other => "other (converted by the decoder)",
        }
    }
}

/// Boxes of one category in one split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassCount {
    /// The COCO category id.
    pub category_id: u64,
    /// Its name.
    pub name: String,
    /// Boxes of it (crowd regions included).
    pub boxes: u64,
}

/// What one split holds, as checked (skipped images not counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SplitSummary {
    /// The annotation file.
    pub annotations: PathBuf,
    /// Images used.
    pub images: u64,
    /// Boxes on them.
    pub boxes: u64,
    /// Of those, crowd regions (`iscrowd: 1`).
    pub crowd_boxes: u64,
    /// Boxes per category, in category-id order (categories without boxes included).
    pub per_class: Vec<ClassCount>,
    /// Images without any box.
    pub empty_images: u64,
    /// Images per pixel mode, in [`ImageMode`] order.
    pub modes: Vec<(ImageMode, u64)>,
    /// The smallest width and height found (each on its own).
    pub min_size: Option<ImageSize>,
    /// The largest width and height found (each on its own).
    pub max_size: Option<ImageSize>,
    /// Boxes within [`BOX_TOLERANCE`] of the border but not inside it, clipped.
    pub nudged_boxes: u64,
    /// Images left out (`--on-bad-sample skip`).
    pub skipped_images: u64,
}

/// The dataset section's result: a summary for the report and what the workers must
/// leave out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DatasetSummary {
    /// The training split.
    pub train: SplitSummary,
    /// The validation split.
    pub val: SplitSummary,
    /// Class names in class order (the training split's categories by ascending id).
    pub class_names: Vec<String>,
    /// How the check was configured.
    pub config: CheckConfig,
    /// The tolerance boxes were checked with, in pixels.
    pub box_tolerance: f32,
    /// Problems whose image was left out (`--on-bad-sample skip`).
    pub skipped: Vec<Problem>,
    /// Boxes clipped by `--clip-boxes`.
    pub clipped: Vec<ClippedBox>,
    /// Wall seconds of the check (every image decoded).
    pub seconds: f64,
}

/// What a worker leaves out: the image ids the check skipped, per split. Empty for a
/// clean dataset, so a clean run trains exactly as before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataPolicy {
    /// Whether images with problems are skipped (the COCO loader then opens with
    /// `CorruptPolicy::SkipAndRecord`).
    pub skip: bool,
    /// Training image ids left out.
    pub skip_train: BTreeSet<u64>,
    /// Validation image ids left out.
    pub skip_val: BTreeSet<u64>,
}

impl DataPolicy {
    /// The image ids left out of `split`.
    pub fn skipped(&self, split: SplitName) -> &BTreeSet<u64> {
        match split {
            SplitName::Train => &self.skip_train,
            SplitName::Val => &self.skip_val,
        }
    }

    /// The COCO loader's policy for this data.
    pub fn corrupt_policy(&self) -> CorruptPolicy {
        if self.skip {
            CorruptPolicy::SkipAndRecord
        } else {
            CorruptPolicy::Fail
        }
    }
}

/// The check's result.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DatasetCheck {
    /// For the report.
    pub summary: DatasetSummary,
    /// For the workers.
    pub policy: DataPolicy,
    /// The training split's class numbering.
    pub classes: ClassMap,
}

/// A box clipped to `[0, w] x [0, h]`; coordinates already inside are kept bit for bit.
pub fn clip_box(b: BBox, size: ImageSize) -> BBox {
    let (w, h) = (size.width as f32, size.height as f32);
    let clamp = |v: f32, hi: f32| {
        if v < 0.0 {
            0.0
        } else if v > hi {
            hi
        } else {
            v
        }
    };
    BBox::new(
        clamp(b.x1, w),
        clamp(b.y1, h),
        clamp(b.x2, w),
        clamp(b.y2, h),
    )
}

/// Checks both splits of `data`; see the module documentation. Returns
/// [`Error::BadDataset`] with every problem when the data cannot be trained on as
/// configured.
///
/// ```no_run
/// use lockstep_repro::dataset_check::{check, CheckConfig};
/// use lockstep_repro::layout::DataPaths;
/// let checked = check(&DataPaths::under("my-coco".as_ref()), &CheckConfig::default())?;
/// println!("{} training images", checked.summary.train.images);
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn check(data: &DataPaths, config: &CheckConfig) -> Result<DatasetCheck> {
    let started = Instant::now();
    let mut problems = Vec::new();
    let train = parse_split(
        SplitName::Train,
        &data.train_images,
        &data.train_instances,
        &mut problems,
    );
    let val = parse_split(
        SplitName::Val,
        &data.val_images,
        &data.val_instances,
        &mut problems,
    );
    let classes = match &train {
        Some(t) => match ClassMap::new(t.annotations.categories()) {
            Ok(classes) => Some(classes),
            Err(e) => {
                problems.push(split_problem(
                    SplitName::Train,
                    &data.train_instances,
                    ProblemKind::EmptySplit {
                        reason: format!("no usable categories: {e}"),
                    },
                ));
                None
            }
        },
        None => None,
    };
    if let (Some(classes), Some(v)) = (&classes, &val) {
        for c in v.annotations.categories() {
            let known = classes
                .class_of(c.id)
                .and_then(|k| classes.category(k))
                .filter(|t| t.name != c.name);
            if let Some(t) = known {
                problems.push(split_problem(
                    SplitName::Val,
                    &data.val_instances,
                    ProblemKind::CategoryRenamed {
                        id: c.id,
                        train: t.name.clone(),
                        here: c.name.clone(),
                    },
                ));
            }
        }
    }
    let mut clipped = Vec::new();
    let mut scans = Vec::new();
    for parsed in [train, val].into_iter().flatten() {
        let scan = scan_split(
            &parsed,
            classes.as_ref(),
            config,
            &mut problems,
            &mut clipped,
        );
        scans.push((parsed, scan));
    }

    let fatal = problems.iter().any(|p| !p.skippable());
    if fatal || (config.on_bad_sample == OnBadSample::Fail && !problems.is_empty()) {
        return Err(Error::BadDataset { problems });
    }
    let Some(classes) = classes else {
        return Err(Error::BadDataset { problems });
    };
    let mut policy = DataPolicy {
        skip: config.on_bad_sample == OnBadSample::Skip,
        ..DataPolicy::default()
    };
    for p in &problems {
        if let Some(id) = p.image_id {
            match p.split {
                SplitName::Train => policy.skip_train.insert(id),
                SplitName::Val => policy.skip_val.insert(id),
            };
        }
    }
    clipped.retain(|c| !policy.skipped(c.split).contains(&c.image_id));
    let mut summaries = Vec::new();
    for (parsed, scan) in &scans {
        let summary = summarise(parsed, scan, &classes, policy.skipped(parsed.split));
        if summary.images == 0 {
            problems.push(split_problem(
                parsed.split,
                &parsed.instances,
                ProblemKind::EmptySplit {
                    reason: "no image is left to use".into(),
                },
            ));
        }
        summaries.push(summary);
    }
    if problems.iter().any(|p| !p.skippable()) {
        return Err(Error::BadDataset { problems });
    }
    for s in summaries.iter_mut().zip([SplitName::Train, SplitName::Val]) {
        s.0.skipped_images = policy.skipped(s.1).len() as u64;
    }
    let (Some(val), Some(train)) = (summaries.pop(), summaries.pop()) else {
        return Err(Error::BadDataset { problems });
    };
    let class_names = classes
        .categories()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    Ok(DatasetCheck {
        summary: DatasetSummary {
            train,
            val,
            class_names,
            config: *config,
            box_tolerance: BOX_TOLERANCE,
            skipped: problems,
            clipped,
            seconds: started.elapsed().as_secs_f64(),
        },
        policy,
        classes,
    })
}

/// A split's annotation file, parsed with every image-level problem recorded.
struct ParsedSplit {
    split: SplitName,
    images_dir: PathBuf,
    instances: PathBuf,
    annotations: CocoAnnotations,
}

fn split_problem(split: SplitName, file: &Path, kind: ProblemKind) -> Problem {
    Problem {
        split,
        file: file.to_path_buf(),
        image_id: None,
        annotation_id: None,
        kind,
    }
}

/// Parses one annotation file with the COCO loader's own checks, collecting every
/// image-level problem; `None` (and a problem) when the file cannot be used at all.
fn parse_split(
    split: SplitName,
    images_dir: &Path,
    instances: &Path,
    problems: &mut Vec<Problem>,
) -> Option<ParsedSplit> {
    let unusable =
        |reason: String| split_problem(split, instances, ProblemKind::Annotations { reason });
    let bytes = match std::fs::read(instances) {
        Ok(bytes) => bytes,
        Err(e) => {
            problems.push(unusable(e.to_string()));
            return None;
        }
    };
    let annotations =
        match CocoAnnotations::from_json_slice(&bytes, instances, CorruptPolicy::SkipAndRecord) {
            Ok(a) => a,
            Err(e) => {
                problems.push(unusable(e.to_string()));
                return None;
            }
        };
    for s in annotations.skipped() {
        let (annotation_id, reason) = match &*s.error {
            lockstep_data::Error::BadAnnotation {
                annotation_id,
                reason,
                image_id,
                ..
            } if s.image_id.is_none() => {
                (Some(*annotation_id), format!("{reason} (image {image_id})"))
            }
            lockstep_data::Error::BadAnnotation {
                annotation_id,
                reason,
                ..
            } => (Some(*annotation_id), reason.clone()),
            lockstep_data::Error::BadImageEntry { reason, .. } => (None, reason.clone()),
            other => (None, other.to_string()),
        };
        problems.push(Problem {
            split,
            file: match &s.file_name {
                Some(name) => images_dir.join(name),
                None => instances.to_path_buf(),
            },
            image_id: s.image_id,
            annotation_id,
            kind: ProblemKind::Entry { reason },
        });
    }
    Some(ParsedSplit {
        split,
        images_dir: images_dir.to_path_buf(),
        instances: instances.to_path_buf(),
        annotations,
    })
}

/// What decoding one image found.
struct Scanned {
    mode: ImageMode,
    size: ImageSize,
    nudged: u64,
}

/// The images of one split that passed the parser, decoded in parallel; `None` for
/// an image with a problem.
type Scan = Vec<Option<Scanned>>;

fn scan_split(
    parsed: &ParsedSplit,
    classes: Option<&ClassMap>,
    config: &CheckConfig,
    problems: &mut Vec<Problem>,
    clipped: &mut Vec<ClippedBox>,
) -> Scan {
    let split = parsed.split;
    // Only the validation split is checked against the training split's categories;
    // the training split's own categories are its class map (the parser checked them).
    let classes = classes.filter(|_| split == SplitName::Val);
    let results: Vec<(Option<Scanned>, Vec<Problem>, Vec<ClippedBox>)> = parsed
        .annotations
        .images()
        .par_iter()
        .map(|image| scan_image(parsed, image, classes, config))
        .collect();
    let mut scan = Vec::with_capacity(results.len());
    for (s, p, c) in results {
        scan.push(s);
        problems.extend(p);
        clipped.extend(c);
    }
    scan
}

fn scan_image(
    parsed: &ParsedSplit,
    image: &CocoImage,
    classes: Option<&ClassMap>,
    config: &CheckConfig,
) -> (Option<Scanned>, Vec<Problem>, Vec<ClippedBox>) {
    let file = parsed.images_dir.join(&image.file_name);
    let problem = |annotation_id: Option<u64>, kind: ProblemKind| Problem {
        split: parsed.split,
        file: file.clone(),
        image_id: Some(image.id),
        annotation_id,
        kind,
    };
    let mut problems = Vec::new();
    let mut clipped = Vec::new();
    // Categories first: they need no pixels.
    if let Some(classes) = classes {
        for o in &image.objects {
            if classes.class_of(o.category_id).is_none() {
                problems.push(problem(
                    Some(o.annotation_id),
                    ProblemKind::UnknownCategory {
                        category: o.category_id,
                        known: classes.categories().iter().map(|c| c.id).collect(),
                    },
                ));
            }
        }
    }
    let (mode, size) = match decode_header(&file) {
        Ok(found) => found,
        Err(kind) => {
            problems.push(problem(None, kind));
            return (None, problems, clipped);
        }
    };
    let json = ImageSize::new(
        image.width.unwrap_or(size.width),
        image.height.unwrap_or(size.height),
    );
    if json != size {
        problems.push(problem(
            None,
            ProblemKind::SizeMismatch { json, found: size },
        ));
        // Boxes are not checked against a size that is not the image's.
        return (None, problems, clipped);
    }
    let (w, h) = (size.width as f32, size.height as f32);
    let mut nudged = 0;
    for o in &image.objects {
        let b = o.bbox;
        let inside = b.x1 >= 0.0 && b.y1 >= 0.0 && b.x2 <= w && b.y2 <= h;
        let near = b.x1 >= -BOX_TOLERANCE
            && b.y1 >= -BOX_TOLERANCE
            && b.x2 <= w + BOX_TOLERANCE
            && b.y2 <= h + BOX_TOLERANCE;
        let after = clip_box(b, size);
        let area_left = after.x2 > after.x1 && after.y2 > after.y1;
        if inside {
            continue;
        }
        if !area_left {
            problems.push(problem(
                Some(o.annotation_id),
                ProblemKind::BoxNotInImage {
                    bbox: b.to_array(),
                    image: size,
                },
            ));
        } else if near {
            nudged += 1;
        } else if config.clip_boxes {
            clipped.push(ClippedBox {
                split: parsed.split,
                file: file.clone(),
                image_id: image.id,
                annotation_id: o.annotation_id,
                before: b.to_array(),
                after: after.to_array(),
            });
        } else {
            problems.push(problem(
                Some(o.annotation_id),
                ProblemKind::BoxOutside {
                    bbox: b.to_array(),
                    image: size,
                },
            ));
        }
    }
    let scanned = problems
        .is_empty()
        .then_some(Scanned { mode, size, nudged });
    (scanned, problems, clipped)
}

/// Reads and decodes `file` as the COCO loader does (format guessed from the bytes),
/// and returns its stored mode and size.
fn decode_header(file: &Path) -> std::result::Result<(ImageMode, ImageSize), ProblemKind> {
    let bytes = match std::fs::metadata(file) {
        Ok(meta) if !meta.is_file() => {
            return Err(ProblemKind::Unreadable {
                reason: "not a regular file".into(),
            })
        }
        Ok(_) => std::fs::read(file),
        Err(e) => Err(e),
    }
    .map_err(|e| ProblemKind::Unreadable {
        reason: e.to_string(),
    })?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| ProblemKind::Unreadable {
            reason: e.to_string(),
        })?;
    // The loader's limit: a header claiming a longer side is refused before decoding.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(lockstep_data::MAX_IMAGE_SIDE);
    limits.max_image_height = Some(lockstep_data::MAX_IMAGE_SIDE);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| ProblemKind::Undecodable {
        reason: e.to_string(),
    })?;
    let size = ImageSize::new(decoded.width(), decoded.height());
    // PNG's IHDR (always the first chunk) says whether the file was a palette image;
    // the decoder expands palettes before we see them.
    let png_palette = bytes.len() > 25 && bytes.starts_with(b"\x89PNG") && bytes[25] == 3;
    use image::ColorType as C;
    let mode = if png_palette {
        ImageMode::Palette
    } else {
        match decoded.color() {
            C::Rgb8 => ImageMode::Rgb,
            C::Rgba8 => ImageMode::Rgba,
            C::L8 => ImageMode::Grey,
            C::La8 => ImageMode::GreyAlpha,
            C::L16 | C::La16 | C::Rgb16 | C::Rgba16 => ImageMode::Deep,
            _ => ImageMode::Other,
        }
    };
    Ok((mode, size))
}

fn summarise(
    parsed: &ParsedSplit,
    scan: &Scan,
    classes: &ClassMap,
    skipped: &BTreeSet<u64>,
) -> SplitSummary {
    let mut per_category: BTreeMap<u64, u64> =
        classes.categories().iter().map(|c| (c.id, 0)).collect();
    let mut modes: BTreeMap<ImageMode, u64> = BTreeMap::new();
    let (mut images, mut boxes, mut crowd, mut empty, mut nudged) = (0, 0, 0, 0, 0);
    let (mut min, mut max): (Option<ImageSize>, Option<ImageSize>) = (None, None);
    for (image, scanned) in parsed.annotations.images().iter().zip(scan) {
        let Some(s) = scanned.as_ref().filter(|_| !skipped.contains(&image.id)) else {
            continue;
        };
        images += 1;
        nudged += s.nudged;
        *modes.entry(s.mode).or_default() += 1;
        boxes += image.objects.len() as u64;
        crowd += image.objects.iter().filter(|o| o.crowd).count() as u64;
        if image.objects.is_empty() {
            empty += 1;
        }
        for o in &image.objects {
            *per_category.entry(o.category_id).or_default() += 1;
        }
        min = Some(min.map_or(s.size, |m| {
            ImageSize::new(m.width.min(s.size.width), m.height.min(s.size.height))
        }));
        max = Some(max.map_or(s.size, |m| {
            ImageSize::new(m.width.max(s.size.width), m.height.max(s.size.height))
        }));
    }
    let name_of = |id: u64| {
        classes
            .class_of(id)
            .and_then(|k| classes.category(k))
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("category {id}"))
    };
    SplitSummary {
        annotations: parsed.instances.clone(),
        images,
        boxes,
        crowd_boxes: crowd,
        per_class: per_category
            .into_iter()
            .map(|(category_id, boxes)| ClassCount {
                category_id,
                name: name_of(category_id),
                boxes,
            })
            .collect(),
        empty_images: empty,
        modes: modes.into_iter().collect(),
        min_size: min,
        max_size: max,
        nudged_boxes: nudged,
        // Set by `check`, which knows the images the parser left out too.
        skipped_images: 0,
    }
}

/// The most problems [`Error::BadDataset`]'s message lists (the report and
/// `dataset-problems.txt` list all).
const LISTED: usize = 50;

/// [`Error::BadDataset`]'s message: the count, then the problems, one a line.
pub(crate) fn describe(problems: &[Problem]) -> String {
    let mut text = format!(
        "the dataset check found {} problem(s); nothing was trained (the box tolerance is \
         {BOX_TOLERANCE} px; --on-bad-sample skip leaves bad images out, --clip-boxes clips \
         boxes to their image):",
        problems.len()
    );
    for p in problems.iter().take(LISTED) {
        text.push_str("\n  - ");
        text.push_str(&p.to_string());
    }
    if problems.len() > LISTED {
        text.push_str(&format!(
            "\n  … and {} more (all in dataset-problems.txt in the --out folder)",
            problems.len() - LISTED
        ));
    }
    text
}

/// The suite's dataset section: [`check`], then the summary on the console. On
/// [`Error::BadDataset`], every problem is also written to `layout`'s
/// `dataset-problems.txt` (the error itself is printed once, by the caller).
pub(crate) fn section(
    data: &DataPaths,
    options: &crate::options::Options,
    layout: &crate::layout::Layout,
) -> Result<DatasetCheck> {
    let listing = layout.dataset_problems();
    match check(data, &options.check_config()) {
        Ok(checked) => {
            let s = &checked.summary;
            for (name, split) in [("train", &s.train), ("val", &s.val)] {
                eprintln!(
                    "  {name}: {} images ({} without boxes), {} boxes ({} crowd), sizes {}",
                    split.images,
                    split.empty_images,
                    split.boxes,
                    split.crowd_boxes,
                    size_range(split)
                );
            }
            for p in &s.skipped {
                eprintln!("  skipped: {p}");
            }
            for c in &s.clipped {
                eprintln!(
                    "  clipped: {}: {} (image {}, annotation {}): {:?} -> {:?}",
                    c.split,
                    c.file.display(),
                    c.image_id,
                    c.annotation_id,
                    c.before,
                    c.after
                );
            }
            // A listing from an earlier, failed run in this (suite-owned) folder would
            // now be wrong.
            if listing.is_file() {
                std::fs::remove_file(&listing).map_err(|e| Error::io(&listing, e))?;
            }
            Ok(checked)
        }
        Err(Error::BadDataset { problems }) => {
            let text: String = problems.iter().map(|p| format!("{p}\n")).collect();
            std::fs::write(&listing, text).map_err(|e| Error::io(&listing, e))?;
            Err(Error::BadDataset { problems })
        }
        Err(e) => Err(e),
    }
}

/// `min..max` of a split's image sizes, as `WxH`.
pub(crate) fn size_range(split: &SplitSummary) -> String {
    match (split.min_size, split.max_size) {
        (Some(a), Some(b)) if a == b => format!("{}x{}", a.width, a.height),
        (Some(a), Some(b)) => format!(
            "{}..{} wide, {}..{} high",
            a.width, b.width, a.height, b.height
        ),
        _ => "none".into(),
    }
}
