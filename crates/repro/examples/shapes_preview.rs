//! Writes a small shapes dataset to a folder and prints its content hash.
//! Usage: `cargo run -p lockstep-repro --example shapes_preview -- DIR [SEED]`.
use lockstep_repro::shapes::{generate, ShapesConfig};
use lockstep_seeding::SeedTree;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: shapes_preview DIR [SEED]")?;
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let config = ShapesConfig::new(16, 4, 96);
    let data = generate(
        &SeedTree::from_u64(seed).child("shapes"),
        config,
        dir.as_ref(),
    )?;
    println!("{}", data.content_hash);
    Ok(())
}
