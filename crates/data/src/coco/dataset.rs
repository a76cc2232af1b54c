//! [`CocoDataset`]: the annotation file plus its images folder, decoded with the
//! `image` crate (feature `coco`).

use std::path::{Path, PathBuf};

use image::RgbImage;
use rayon::prelude::*;

use super::annotations::{parse, skip_and_record, Parsed};
use super::{Category, ClassMap, CocoImage, CocoObject, CorruptPolicy, Skipped};
use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// One decoded sample.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoSample {
    /// The image id.
    pub image_id: u64,
    /// The file name, relative to the images folder.
    pub file_name: String,
    /// The decoded image as RGB8.
    pub image: RgbImage,
    /// Its annotations, in file order.
    pub objects: Vec<CocoObject>,
}

/// A COCO detection dataset; see the module documentation.
#[derive(Debug, Clone)]
pub struct CocoDataset {
    images_dir: PathBuf,
    images: Vec<CocoImage>,
    categories: Vec<Category>,
    skipped: Vec<Skipped>,
}

/// Decodes `path` to RGB8 and checks its size against the annotation file's.
/// The longest side an image file may claim, in pixels. The header is read first and a
/// larger claim is refused before any pixel is decoded: a few hundred bytes of JPEG can
/// claim 65,000 columns, and decoding them costs seconds and hundreds of megabytes.
/// Decoding is further bounded by the `image` crate's default allocation limit (512 MiB).
pub const MAX_IMAGE_SIDE: u32 = 16_384;

fn decode(path: &Path, width: Option<u32>, height: Option<u32>) -> Result<RgbImage> {
    use image::ImageDecoder as _;
    let io = |source: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let decode_error = |source| Error::ImageDecode {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = image::ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(decode_error)?;
    // The header's size, checked against the annotation file before decoding.
    let (found_width, found_height) = decoder.dimensions();
    if width.is_some_and(|w| w != found_width) || height.is_some_and(|h| h != found_height) {
        return Err(Error::ImageSize {
            path: path.to_path_buf(),
            width: width.unwrap_or(found_width),
            height: height.unwrap_or(found_height),
            found_width,
            found_height,
        });
    }
    // `into_rgb8` keeps an RGB8 decode's buffer as it is (`to_rgb8` would copy it).
    let image = image::DynamicImage::from_decoder(decoder)
        .map_err(decode_error)?
        .into_rgb8();
    Ok(image)
}

/// [`Error::Io`] unless `path` is a regular file (following links).
fn check_is_file(path: PathBuf) -> Result<()> {
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(Error::Io {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        }),
        Err(source) => Err(Error::Io { path, source }),
    }
}

impl CocoDataset {
    /// Opens the dataset of `instances_json` whose `file_name`s are relative to
    /// `images_dir`; see the module documentation for `policy`. The annotation file is
    /// checked as by [`CocoAnnotations::from_json_slice`](super::CocoAnnotations::from_json_slice).
    pub fn open(
        images_dir: impl AsRef<Path>,
        instances_json: impl AsRef<Path>,
        policy: CorruptPolicy,
    ) -> Result<Self> {
        let images_dir = images_dir.as_ref().to_path_buf();
        let json_path = instances_json.as_ref();
        let bytes = std::fs::read(json_path).map_err(|source| Error::Io {
            path: json_path.to_path_buf(),
            source,
        })?;
        let Parsed {
            mut images,
            mut problems,
            categories,
            mut skipped,
        } = parse(&bytes, json_path, policy)?;

        match policy {
            CorruptPolicy::Fail => {
                if let Some(error) = problems.into_iter().flatten().next() {
                    return Err(error);
                }
                for image in &images {
                    check_is_file(images_dir.join(&image.file_name))?;
                }
            }
            CorruptPolicy::SkipAndRecord => {
                // Decode every image that is otherwise fine; collect keeps image order.
                let decoded: Vec<Option<Error>> = images
                    .par_iter()
                    .zip(problems.par_iter())
                    .map(|(image, found)| {
                        if !found.is_empty() {
                            return None;
                        }
                        let path = images_dir.join(&image.file_name);
                        decode(&path, image.width, image.height).err()
                    })
                    .collect();
                for (found, error) in problems.iter_mut().zip(decoded) {
                    found.extend(error);
                }
                images = skip_and_record(images, problems, &mut skipped);
            }
        }

        Ok(Self {
            images_dir,
            images,
            categories,
            skipped,
        })
    }

    /// The images folder.
    pub fn images_dir(&self) -> &Path {
        &self.images_dir
    }

    /// The image entries, in sample order.
    pub fn images(&self) -> &[CocoImage] {
        &self.images
    }

    /// The categories, in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The dense class numbering of this file's categories (by ascending id).
    pub fn classes(&self) -> Result<ClassMap> {
        ClassMap::new(&self.categories)
    }

    /// What [`CorruptPolicy::SkipAndRecord`] left out, with reasons (empty under
    /// [`CorruptPolicy::Fail`]).
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// The entry of sample `index`, without decoding its image.
    pub fn entry(&self, index: u64) -> Result<&CocoImage> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.images.get(i))
            .ok_or(Error::IndexOutOfRange {
                index,
                len: self.images.len() as u64,
            })
    }
}

impl Dataset for CocoDataset {
    type Item = CocoSample;

    fn len(&self) -> u64 {
        self.images.len() as u64
    }

    fn get(&self, index: u64) -> Result<CocoSample> {
        let entry = self.entry(index)?;
        let path = self.images_dir.join(&entry.file_name);
        let image = decode(&path, entry.width, entry.height)?;
        Ok(CocoSample {
            image_id: entry.id,
            file_name: entry.file_name.clone(),
            image,
            objects: entry.objects.clone(),
        })
    }
}
