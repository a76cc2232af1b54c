//! Trains SmallCnn on an in-memory dataset through a sampler, checkpointing the sampler's
//! position with the weights. `cargo run -p lockstep-nn --example train_in_memory`
use lockstep_data::{Sampler, SamplerConfig, Shard};
use lockstep_nn::source::{classification, labeled_images, SamplerSource};
use lockstep_nn::{ClassifierConfig, SmallCnn, TrainConfig, Trainer};
use lockstep_seeding::SeedTree;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Set before anything starts CUDA: lockstep-nn checks it, but never sets it.
    std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    // 200 images of 8×8: class 1 when the left half is bright, class 0 when the right is.
    let bright = |i: u32, x: u32| if (x < 4) == (i % 2 == 1) { 220 } else { 30 };
    let images =
        (0..200).map(|i| image::RgbImage::from_fn(8, 8, |x, _| image::Rgb([bright(i, x); 3])));
    let data = labeled_images(images.collect(), (0..200).map(|i| i % 2).collect())?;
    let root = SeedTree::from_u64(7);
    let order = SamplerConfig::new(200, root.child("data")).with_epochs(5);
    let sampler = Sampler::new(order, Shard::single())?;
    let mut source = SamplerSource::new(sampler, data, None, 20, classification())?;
    let cnn = ClassifierConfig::default().with_channels(3).with_classes(2);
    let config = TrainConfig::default().with_steps(50).with_batch_size(20);
    let mut trainer = Trainer::new(config, root.child("run"), |vs| SmallCnn::new(vs, &cnn))?;
    let dir = std::env::temp_dir().join(format!("lockstep-in-memory-{}", std::process::id()));
    trainer.run_with(&mut source, 50, |end| match end.step() % 25 {
        0 => end.save_checkpoint(&dir).map(drop),
        _ => Ok(()),
    })?;
    let (first, last) = (trainer.losses()[0], trainer.losses()[49]);
    println!(
        "loss {first:.3} -> {last:.3}, model {}",
        trainer.model_fingerprint()?
    );
    Ok(())
}
