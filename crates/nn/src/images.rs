//! Images to tensors: `image::RgbImage` (HWC bytes) to the `[3, H, W]` / `[N, 3, H, W]`
//! `f32` tensors in `[0, 1]` the models take (each byte divided by 255 in `f32`).

use image::RgbImage;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// One image as a `[3, H, W]` `f32` tensor in `[0, 1]`.
///
/// ```no_run
/// let t = lockstep_nn::images::image_to_tensor(&image::RgbImage::new(4, 2))?;
/// assert_eq!(t.size(), [3, 2, 4]);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn image_to_tensor(image: &RgbImage) -> Result<Tensor> {
    let (w, h) = image.dimensions();
    Ok(Tensor::f_from_slice(image.as_raw())?
        .f_view([i64::from(h), i64::from(w), 3])?
        .f_permute([2, 0, 1])?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?)
}

/// Images of one size as a `[N, 3, H, W]` `f32` tensor in `[0, 1]`; images of another
/// size than the first are [`Error::InvalidConfig`], and no images an empty batch.
///
/// ```no_run
/// let images = vec![image::RgbImage::new(8, 8); 2];
/// let t = lockstep_nn::images::images_to_tensor(&images)?;
/// assert_eq!(t.size(), [2, 3, 8, 8]);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn images_to_tensor(images: &[RgbImage]) -> Result<Tensor> {
    let Some(first) = images.first() else {
        return Err(Error::InvalidConfig {
            what: "images",
            value: "an empty list (a batch needs at least one image)".into(),
        });
    };
    let size = first.dimensions();
    let mut tensors = Vec::with_capacity(images.len());
    for (i, image) in images.iter().enumerate() {
        if image.dimensions() != size {
            return Err(Error::InvalidConfig {
                what: "images",
                value: format!(
                    "image {i} is {:?} (width, height), the first is {size:?}",
                    image.dimensions()
                ),
            });
        }
        tensors.push(image_to_tensor(image)?);
    }
    Ok(Tensor::f_stack(&tensors, 0)?)
}

/// Images `start .. start + n` of the built-in shapes set
/// ([`lockstep_data::synthetic::shapes_image`] at nodes `seed/image[i]`) as a
/// `[n, 3, size, size]` tensor, with their boxes: the data of this crate's examples and
/// benchmark.
///
/// ```no_run
/// let (images, boxes) =
///     lockstep_nn::images::shapes_batch(&lockstep_seeding::SeedTree::from_u64(5), 0, 8, 96)?;
/// assert_eq!(images.size(), [8, 3, 96, 96]);
/// let targets = lockstep_nn::build_targets(&boxes, &lockstep_nn::DetectorConfig::default())?;
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn shapes_batch(
    seed: &lockstep_seeding::SeedTree,
    start: u64,
    n: u64,
    size: u32,
) -> Result<(Tensor, Vec<Vec<lockstep_core::LabeledBox>>)> {
    let mut images = Vec::new();
    let mut boxes = Vec::new();
    for i in start..start.saturating_add(n) {
        let (image, b) =
            lockstep_data::synthetic::shapes_image(&seed.child_index("image", i), size)
                .map_err(Error::wrap)?;
        images.push(image);
        boxes.push(b);
    }
    Ok((images_to_tensor(&images)?, boxes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_first_and_scaled() {
        let mut img = RgbImage::new(3, 2);
        img.put_pixel(2, 1, image::Rgb([255, 51, 0]));
        let t = image_to_tensor(&img).unwrap();
        assert_eq!(t.size(), [3, 2, 3]);
        assert_eq!(t.double_value(&[0, 1, 2]), 1.0);
        assert_eq!(
            (t.double_value(&[1, 1, 2]) as f32).to_bits(),
            (51f32 / 255.0).to_bits()
        );
        assert_eq!(t.double_value(&[0, 0, 0]), 0.0);
        let other = RgbImage::new(2, 3);
        assert!(matches!(
            images_to_tensor(&[img.clone(), other]),
            Err(Error::InvalidConfig { what: "images", .. })
        ));
        assert_eq!(
            images_to_tensor(&[img.clone(), img]).unwrap().size(),
            [2, 3, 2, 3]
        );
    }
}
