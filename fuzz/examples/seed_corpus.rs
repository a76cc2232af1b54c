//! Writes the seed corpus to `fuzz/corpus/<target>/<name>` from the crates' own
//! serialisations (run after a format change): `cargo run -p lockstep-fuzz --example
//! seed_corpus`. Files of other names are left alone.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, _) in lockstep_fuzz::TARGETS {
        let dir = corpus.join(name);
        std::fs::create_dir_all(&dir)?;
        let seeds = lockstep_fuzz::seeds::seeds(name);
        for (file, bytes) in &seeds {
            std::fs::write(dir.join(file), bytes)?;
        }
        println!("{name}: {} seeds", seeds.len());
    }
    Ok(())
}
