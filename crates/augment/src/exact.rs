//! Serde for `f64` parameters as decimal strings that round-trip exactly.
//!
//! Rust prints the shortest decimal that parses back to the same `f64`, and `str::parse`
//! rounds correctly. A JSON number would go through the deserializer's own float parser,
//! which (serde_json without its `float_roundtrip` feature) may land one ulp away, and a
//! replayed factor must be the recorded one bit for bit. Plain JSON numbers are still
//! accepted when reading, for hand-written parameter files.

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{value:?}"))
}

struct ExactF64;

impl Visitor<'_> for ExactF64 {
    type Value = f64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an f64 as a decimal string or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        v.parse::<f64>()
            .map_err(|_| E::custom(format!("`{v}` is not a decimal number")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    deserializer.deserialize_any(ExactF64)
}
