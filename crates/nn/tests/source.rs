//! SamplerSource: the sampler's position travels with the checkpoint, so a run resumed
//! from the hook's checkpoint ends bitwise equal to a straight run (issue 11).

mod common;

use common::temp_dir;
use lockstep_data::{Sampler, SamplerConfig, Shard};
use lockstep_nn::source::{classification, labeled_images, LabeledImage, SamplerSource};
use lockstep_nn::{
    BatchSource, ClassifierConfig, Error, ProgressMode, SmallCnn, TrainConfig, Trainer,
};
use lockstep_seeding::SeedTree;

type Source = SamplerSource<
    lockstep_data::InMemoryDataset<LabeledImage>,
    Box<dyn FnMut(Vec<LabeledImage>) -> lockstep_nn::Result<lockstep_nn::Batch>>,
>;

fn source() -> Source {
    let images = (0..30u32)
        .map(|i| image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([(i * 7 + x * 3 + y) as u8; 3])))
        .collect();
    let classes = (0..30).map(|i| i % 3).collect();
    let config = SamplerConfig::new(30, SeedTree::from_u64(3).child("data")).with_epochs(2);
    let sampler = Sampler::new(config, Shard::single()).unwrap();
    let data = labeled_images(images, classes).unwrap();
    SamplerSource::new(sampler, data, None, 8, Box::new(classification()) as Box<_>).unwrap()
}

fn config() -> TrainConfig {
    TrainConfig::default().with_steps(8).with_batch_size(8)
}

fn trainer() -> Trainer<SmallCnn> {
    let cnn = ClassifierConfig::default().with_channels(3);
    let mut t = Trainer::new(config(), SeedTree::from_u64(4).child("run"), |vs| {
        SmallCnn::new(vs, &cnn)
    })
    .unwrap();
    t.set_progress(ProgressMode::Off);
    t
}

#[test]
fn the_hook_checkpoints_the_sampler_and_resume_restores_it() {
    let mut straight = trainer();
    straight.run(&mut source(), 8).unwrap();
    let dir = temp_dir("sampler-source");
    let mut first = trainer();
    let mut src = source();
    first
        .run_with(&mut src, 5, |end| match end.step() {
            5 => end.save_checkpoint(&dir).map(drop),
            _ => Ok(()),
        })
        .unwrap();
    drop(first);
    // A fresh source at position 0 is moved to the checkpoint's position by resume.
    let mut fresh = source();
    let cnn = ClassifierConfig::default().with_channels(3);
    let mut second = Trainer::resume(
        config(),
        SeedTree::from_u64(4).child("run"),
        |vs| SmallCnn::new(vs, &cnn),
        &dir,
        &mut fresh,
    )
    .unwrap();
    assert_eq!(fresh.sampler().state(), src.sampler().state());
    second.set_progress(ProgressMode::Off);
    second.run(&mut fresh, 8).unwrap();
    assert_eq!(
        second.model_fingerprint().unwrap(),
        straight.model_fingerprint().unwrap()
    );
    // A source asked for another step than its position refuses, naming it.
    assert!(matches!(
        source().batch(3),
        Err(Error::BatchSource { step: 3, .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
