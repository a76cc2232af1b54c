//! `batch_to_tensor` fills the images of a batch in parallel: the result must be the
//! images' own tensors one after another, bit for bit, on any number of threads.

use image::RgbImage;
use lockstep_augment::{batch_to_tensor, to_tensor, Normalize};
use proptest::prelude::*;

fn image(width: u32, height: u32, seed: u64) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let v = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(x) * 131 + u64::from(y) * 7919);
        image::Rgb([(v >> 8) as u8, (v >> 24) as u8, (v >> 40) as u8])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn a_batch_is_its_images_tensors_in_order_on_any_thread_count(
        width in 1u32..40,
        height in 1u32..40,
        seeds in proptest::collection::vec(any::<u64>(), 1..12),
        imagenet in any::<bool>(),
    ) {
        let norm = if imagenet { Normalize::IMAGENET } else { Normalize::UNIT };
        let images: Vec<RgbImage> = seeds.iter().map(|&s| image(width, height, s)).collect();
        let mut expected: Vec<u32> = Vec::new();
        for img in &images {
            expected.extend(to_tensor(img, &norm).unwrap().data.iter().map(|v| v.to_bits()));
        }
        for threads in [1, 2, 5] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let batch = pool.install(|| batch_to_tensor(&images, &norm)).unwrap();
            prop_assert_eq!(
                batch.shape.clone(),
                vec![images.len(), 3, height as usize, width as usize]
            );
            let bits: Vec<u32> = batch.data.iter().map(|v| v.to_bits()).collect();
            prop_assert!(bits == expected, "{} threads", threads);
        }
    }
}
