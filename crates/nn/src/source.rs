//! [`SamplerSource`]: batches from a `lockstep_data::Sampler`, a `Dataset` and an
//! optional `lockstep_augment::Compose` pipeline, with the sampler's position saved in
//! every checkpoint and restored on resume.
//!
//! Sample `i` of epoch `e` is augmented with the sampler's key
//! `…/epoch[e]/sample[i]` (`Compose::apply` derives `…/augment` from it), so a sample's
//! pixels depend only on (seed path, epoch, `i`), never on the batch it lands in.
//! Images become tensors with `lockstep_augment::batch_to_tensor` at
//! `Normalize::UNIT` (bytes / 255 in `f32`), the conversion the repro suite pins.

use image::RgbImage;
use lockstep_augment::{batch_to_tensor, Compose, Normalize, Sample};
use lockstep_core::ClassId;
use lockstep_data::{Dataset, InMemoryDataset, Sampler, SamplerState};
use lockstep_seeding::SampleKey;
use rayon::prelude::*;
use tch::Tensor;

use crate::batch::{Batch, BatchSource, SourceState};
use crate::error::{Error, Result};
use crate::models::detector::{build_targets, DetectorConfig};

/// An image with its class: the item of an in-memory classification set.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledImage {
    /// The pixels.
    pub image: RgbImage,
    /// The class.
    pub class: ClassId,
}

/// An in-memory classification dataset: images with their classes.
///
/// ```
/// use lockstep_nn::source::labeled_images;
///
/// let data = labeled_images(vec![image::RgbImage::new(8, 8); 3], vec![0, 1, 2])?;
/// assert_eq!(lockstep_data::Dataset::len(&data), 3);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn labeled_images(
    images: Vec<RgbImage>,
    classes: Vec<u32>,
) -> Result<InMemoryDataset<LabeledImage>> {
    if images.len() != classes.len() {
        return Err(Error::InvalidConfig {
            what: "labeled_images",
            value: format!("{} images but {} classes", images.len(), classes.len()),
        });
    }
    Ok(InMemoryDataset::new(
        images
            .into_iter()
            .zip(classes)
            .map(|(image, c)| LabeledImage {
                image,
                class: ClassId(c),
            })
            .collect(),
    ))
}

/// A dataset item an augment pipeline can transform.
pub trait Augmentable: Sized {
    /// The item after `pipeline` with the sample's key.
    fn augment(self, pipeline: &Compose, key: &SampleKey) -> Result<Self>;
}

impl Augmentable for Sample {
    fn augment(self, pipeline: &Compose, key: &SampleKey) -> Result<Self> {
        Ok(pipeline.apply(self, key).map_err(Error::wrap)?.sample)
    }
}

impl Augmentable for LabeledImage {
    fn augment(self, pipeline: &Compose, key: &SampleKey) -> Result<Self> {
        let sample = Sample::new(self.image, Vec::new()).map_err(Error::wrap)?;
        Ok(Self {
            image: pipeline
                .apply(sample, key)
                .map_err(Error::wrap)?
                .sample
                .image,
            class: self.class,
        })
    }
}

/// Turns a step's items into a [`Batch`]: [`detection`] and [`classification`] are the
/// ones for the models here; any `FnMut(Vec<T>) -> Result<Batch>` is one.
pub trait Collate<T> {
    /// The batch of `items`, in order.
    fn collate(&mut self, items: Vec<T>) -> Result<Batch>;
}

impl<T, F: FnMut(Vec<T>) -> Result<Batch>> Collate<T> for F {
    fn collate(&mut self, items: Vec<T>) -> Result<Batch> {
        self(items)
    }
}

fn images_tensor(images: &[RgbImage]) -> Result<Tensor> {
    let t = batch_to_tensor(images, &Normalize::UNIT).map_err(Error::wrap)?;
    Ok(Tensor::f_from_slice(&t.data)?.f_view(t.shape_i64().as_slice())?)
}

/// Images to inputs, boxes to [`build_targets`]'s grid for `detector`.
pub fn detection(detector: DetectorConfig) -> impl FnMut(Vec<Sample>) -> Result<Batch> {
    move |items: Vec<Sample>| {
        let images: Vec<RgbImage> = items.iter().map(|s| s.image.clone()).collect();
        let boxes: Vec<&[lockstep_core::LabeledBox]> =
            items.iter().map(|s| s.boxes.as_slice()).collect();
        Ok(Batch {
            inputs: images_tensor(&images)?,
            targets: build_targets(&boxes, &detector)?,
        })
    }
}

/// Images to inputs, classes to `Int64` targets.
pub fn classification() -> impl FnMut(Vec<LabeledImage>) -> Result<Batch> {
    |items: Vec<LabeledImage>| {
        let classes: Vec<i64> = items.iter().map(|s| i64::from(s.class.0)).collect();
        let images: Vec<RgbImage> = items.into_iter().map(|s| s.image).collect();
        Ok(Batch {
            inputs: images_tensor(&images)?,
            targets: Tensor::f_from_slice(&classes)?,
        })
    }
}

/// Batches from a sampler, a dataset and an optional augment pipeline. The batch of
/// step `k` is the sampler's next `batch_size` samples (fewer at the end of an epoch
/// only where the sampler's epoch ends, never an empty batch); steps must be asked for
/// in order, from the position the source was created or restored at.
///
/// ```no_run
/// use lockstep_data::{Sampler, SamplerConfig, Shard};
/// use lockstep_nn::source::{classification, labeled_images, SamplerSource};
/// use lockstep_seeding::SeedTree;
///
/// let data = labeled_images(vec![image::RgbImage::new(8, 8); 4], vec![0, 1, 0, 1])?;
/// let config = SamplerConfig::new(4, SeedTree::from_u64(1).child("data")).with_epochs(3);
/// let sampler = Sampler::new(config, Shard::single()).map_err(lockstep_nn::Error::wrap)?;
/// let source = SamplerSource::new(sampler, data, None, 2, classification())?;
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub struct SamplerSource<D: Dataset, C> {
    sampler: Sampler,
    dataset: D,
    augment: Option<Compose>,
    batch_size: u64,
    collate: C,
    next_step: u64,
}

impl<D: Dataset, C> std::fmt::Debug for SamplerSource<D, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamplerSource")
            .field("sampler", &self.sampler)
            .field("augment", &self.augment)
            .field("batch_size", &self.batch_size)
            .field("next_step", &self.next_step)
            .finish_non_exhaustive()
    }
}

impl<D, C> SamplerSource<D, C>
where
    D: Dataset,
    D::Item: Augmentable,
    C: Collate<D::Item>,
{
    /// A source over `dataset` in `sampler`'s order, `batch_size` samples a step,
    /// augmented by `augment` (if any) and turned into batches by `collate`. The
    /// sampler's length must be the dataset's.
    pub fn new(
        sampler: Sampler,
        dataset: D,
        augment: Option<Compose>,
        batch_size: u64,
        collate: C,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::InvalidConfig {
                what: "batch_size",
                value: "0".into(),
            });
        }
        if sampler.config().len != dataset.len() {
            return Err(Error::InvalidConfig {
                what: "sampler.len",
                value: format!(
                    "{}, but the dataset holds {} samples",
                    sampler.config().len,
                    dataset.len()
                ),
            });
        }
        Ok(Self {
            sampler,
            dataset,
            augment,
            batch_size,
            collate,
            next_step: 0,
        })
    }

    /// The sampler (its position is the next sample).
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }
}

impl<D, C> SamplerSource<D, C>
where
    D: Dataset + Sync,
    D::Item: Augmentable + Send,
{
    /// The picks of step `step`: the sampler's next `batch_size` samples.
    fn take_step(&mut self, step: u64) -> Result<Vec<lockstep_data::ScheduledSample>> {
        if step != self.next_step {
            return Err(Error::BatchSource {
                step,
                source: format!(
                    "batches come in order: the source is at step {}",
                    self.next_step
                )
                .into(),
            });
        }
        let take = usize::try_from(self.batch_size).unwrap_or(usize::MAX);
        let picks: Vec<_> = self.sampler.by_ref().take(take).collect();
        if picks.is_empty() {
            return Err(Error::BatchSource {
                step,
                source: "the sampler has finished its epochs".into(),
            });
        }
        Ok(picks)
    }

    /// Loads and augments `picks`, in order.
    fn load(&self, step: u64, picks: &[lockstep_data::ScheduledSample]) -> Result<Vec<D::Item>> {
        let config = self.sampler.config();
        let (dataset, augment) = (&self.dataset, self.augment.as_ref());
        // Each item is a pure function of (dataset, index, key), so loading and
        // augmenting in parallel gives the same batch on any number of threads. Results
        // are collected in order and the first error *by position* is returned, never
        // the first to happen.
        let loaded: Vec<Result<D::Item>> = picks
            .par_iter()
            .map(|pick| {
                let item = dataset.get(pick.index).map_err(|e| Error::BatchSource {
                    step,
                    source: Box::new(e),
                })?;
                match augment {
                    Some(pipeline) => {
                        item.augment(pipeline, &config.sample_key(pick.epoch, pick.index))
                    }
                    None => Ok(item),
                }
            })
            .collect();
        loaded.into_iter().collect()
    }
}

impl<D, C> BatchSource for SamplerSource<D, C>
where
    D: Dataset + Sync,
    D::Item: Augmentable + Send,
    C: Collate<D::Item>,
{
    fn batch(&mut self, step: u64) -> Result<Batch> {
        let picks = self.take_step(step)?;
        let items = self.load(step, &picks)?;
        let batch = self.collate.collate(items)?;
        self.next_step = step + 1;
        Ok(batch)
    }

    /// Takes the step's whole batch from the sampler (every rank advances alike), but
    /// loads and augments only this rank's micro-batches, each collated on its own.
    fn micro_batches(
        &mut self,
        step: u64,
        partition: &crate::batch::MicroPartition,
    ) -> Result<Vec<Batch>> {
        let picks = self.take_step(step)?;
        let n = picks.len() as u64;
        let mut batches = Vec::new();
        for m in partition.local() {
            let range = partition.samples(n, m).map_err(|e| Error::BatchSource {
                step,
                source: Box::new(e),
            })?;
            // The range lies within `picks` (`samples` never exceeds `n`).
            let lo = usize::try_from(range.start).unwrap_or(usize::MAX);
            let hi = usize::try_from(range.end).unwrap_or(usize::MAX);
            let items = self.load(step, picks.get(lo..hi).unwrap_or_default())?;
            batches.push(self.collate.collate(items)?);
        }
        self.next_step = step + 1;
        Ok(batches)
    }

    fn state(&self) -> Result<SourceState> {
        SourceState::new(&(self.next_step, self.sampler.state()))
    }

    fn restore(&mut self, state: &SourceState) -> Result<()> {
        let (next_step, sampler): (u64, SamplerState) =
            state.get()?.ok_or_else(|| Error::BadSourceState {
                reason: "the checkpoint holds no sampler state".into(),
            })?;
        self.sampler = Sampler::restore(
            self.sampler.config().clone(),
            self.sampler.shard(),
            &sampler,
        )
        .map_err(|e| Error::BadSourceState {
            reason: e.to_string(),
        })?;
        self.next_step = next_step;
        Ok(())
    }
}
