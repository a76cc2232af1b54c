//! COCO `instances.json` and the images it names.

use lockstep_data::{CocoDataset, CorruptPolicy, Dataset};

use crate::scratch::Scratch;

/// The file name the corpus's annotation files give their image.
pub const IMAGE_NAME: &str = "img.png";
/// Images decoded per input, so an execution stays short.
const MAX_DECODED: u64 = 4;

/// `JSON \0 IMAGE`: the bytes before the first NUL are `instances.json` (a NUL cannot
/// occur in JSON), the bytes after it are written to `images/img.png`. Both corrupt
/// policies open it through `CocoDataset::open`, then up to four samples are decoded.
pub fn coco_annotations(data: &[u8]) {
    let (json, image) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Some(mut scratch) = Scratch::new("coco") else {
        return;
    };
    let Some(instances) = scratch.write("instances.json", json) else {
        return;
    };
    let Some(images) = scratch.mkdir("images") else {
        return;
    };
    if let Some(bytes) = image {
        if scratch.write("images/img.png", bytes).is_none() {
            return;
        }
    }
    for policy in [CorruptPolicy::Fail, CorruptPolicy::SkipAndRecord] {
        let Ok(dataset) = CocoDataset::open(&images, &instances, policy) else {
            continue;
        };
        let _ = (dataset.categories(), dataset.skipped());
        assert_eq!(dataset.len(), dataset.images().len() as u64);
        for entry in dataset.images() {
            for b in entry.objects.iter().map(|o| o.bbox.to_array()) {
                assert!(
                    b.iter().all(|v| v.is_finite()) && b[0] < b[2] && b[1] < b[3],
                    "image {} has box {b:?}",
                    entry.id
                );
            }
        }
        for i in 0..dataset.len().min(MAX_DECODED) {
            if let Ok(sample) = dataset.get(i) {
                let (w, h) = sample.image.dimensions();
                assert_eq!(
                    sample.image.as_raw().len() as u64,
                    u64::from(w) * u64::from(h) * 3
                );
            }
        }
        let _ = dataset.get(dataset.len());
    }
}
