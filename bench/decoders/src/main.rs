//! Decodes the pipeline bench's JPEG and PNG files with each candidate decoder, checks
//! which give exactly the pixels of the decoder in use (the `image` crate), and times
//! each in the same run, interleaved over three rounds (best of three passes each).

use std::path::Path;
use std::time::Instant;

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

type Decode = fn(&[u8]) -> Result<Vec<u8>, String>;

fn files(dir: &Path, extension: &str) -> Vec<Vec<u8>> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `cargo xtask bench pipeline` first)",
            dir.display()
        )
    });
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(extension))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn via_image(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let image = image::load_from_memory(bytes).map_err(|e| e.to_string())?;
    Ok(image.into_rgb8().into_raw())
}

fn zune_jpeg(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode().map_err(|e| format!("{e:?}"))
}

fn jpeg_decoder(bytes: &[u8]) -> Result<Vec<u8>, String> {
    jpeg_decoder::Decoder::new(bytes)
        .decode()
        .map_err(|e| e.to_string())
}

fn zune_png(bytes: &[u8]) -> Result<Vec<u8>, String> {
    match zune_png::PngDecoder::new(ZCursor::new(bytes)).decode() {
        Ok(zune_core::result::DecodingResult::U8(pixels)) => Ok(pixels),
        Ok(_) => Err("not 8-bit".into()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// How many files `decode` gives exactly `via_image`'s pixels for.
fn identical(set: &[Vec<u8>], decode: Decode) -> usize {
    set.iter()
        .filter(|b| matches!((decode(b), via_image(b)), (Ok(x), Ok(y)) if x == y))
        .count()
}

/// Best of three passes over the set, in µs per image.
fn time(name: &str, set: &[Vec<u8>], decode: Decode) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for bytes in set {
            std::hint::black_box(decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}")));
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / set.len() as f64);
    }
    println!("{name}: {best:.1} µs/image");
    best
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/bench/pipeline-data".into());
    let jpg = files(&Path::new(&base).join("jpeg"), "jpg");
    let png = files(&Path::new(&base).join("png"), "png");
    println!(
        "pixels identical to the image crate's: zune-jpeg direct {}/{n}, jpeg-decoder {}/{n}, zune-png {}/{m}",
        identical(&jpg, zune_jpeg),
        identical(&jpg, jpeg_decoder),
        identical(&png, zune_png),
        n = jpg.len(),
        m = png.len(),
    );
    for round in 0..3 {
        println!("-- round {round}");
        let image_jpeg = time("JPEG, image crate (zune-jpeg)", &jpg, via_image);
        let direct = time("JPEG, zune-jpeg direct", &jpg, zune_jpeg);
        let old = time("JPEG, jpeg-decoder", &jpg, jpeg_decoder);
        let image_png = time("PNG, image crate (png)", &png, via_image);
        let zpng = time("PNG, zune-png", &png, zune_png);
        println!(
            "speed relative to the image crate: zune-jpeg direct {:.2}x, jpeg-decoder {:.2}x, zune-png {:.2}x",
            image_jpeg / direct,
            image_jpeg / old,
            image_png / zpng
        );
    }
}
