//! Edges the ordinary draws rarely reach: uniform draws that round up to the open bound,
//! and hexadecimal keys in either case. (Found by mutation testing: no other test
//! noticed when these paths were broken.)

use lockstep_seeding::{Error, SeedTree};

/// Ranges `[low, high)` whose only float is `low`: `low + (high − low)·u` rounds to
/// `high` for about half of all `u`, and must then be lowered to the float below `high`.
fn one_float_ranges_f64() -> Vec<(f64, f64)> {
    let up = |x: f64| f64::from_bits(x.to_bits() + 1);
    let tiny = f64::from_bits(1);
    vec![
        (0.5, up(0.5)),
        (3.0, up(3.0)),
        (-tiny, 0.0),
        (-1.0 - f64::EPSILON, -1.0),
        (-1e300 - 1e284, -1e300),
    ]
}

#[test]
fn uniform_f64_never_reaches_its_open_bound() {
    for (low, high) in one_float_ranges_f64() {
        assert!(low < high);
        let mut rng = SeedTree::from_u64(9).child("edge").rng();
        for _ in 0..256 {
            let x = rng.uniform_f64(low, high).unwrap();
            assert_eq!(x.to_bits(), low.to_bits(), "[{low:e}, {high:e}) gave {x:e}");
        }
    }
}

#[test]
fn uniform_f32_never_reaches_its_open_bound() {
    let up = |x: f32| f32::from_bits(x.to_bits() + 1);
    let tiny = f32::from_bits(1);
    for (low, high) in [
        (0.5f32, up(0.5)),
        (3.0, up(3.0)),
        (-tiny, 0.0),
        (-1.0 - f32::EPSILON, -1.0),
    ] {
        let mut rng = SeedTree::from_u64(9).child("edge32").rng();
        for _ in 0..256 {
            let x = rng.uniform_f32(low, high).unwrap();
            assert_eq!(x.to_bits(), low.to_bits(), "[{low:e}, {high:e}) gave {x:e}");
        }
    }
}

#[test]
fn uniform_draws_stay_in_the_half_open_range_next_to_zero() {
    // Both signs of the bound below and above zero: the lowered value must be the
    // float just below `high`, whatever its sign.
    let mut rng = SeedTree::from_u64(10).rng();
    let tiny = f64::from_bits(1);
    for _ in 0..1000 {
        let x = rng.uniform_f64(-2.0 * tiny, 0.0).unwrap();
        assert!(x == -2.0 * tiny || x == -tiny, "{x:e}");
        let y = rng.uniform_f64(0.0, tiny).unwrap();
        assert_eq!(y.to_bits(), 0.0f64.to_bits(), "{y:e}");
    }
}

/// A node's JSON with every hexadecimal digit in upper case.
fn upper_hex(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut value = value;
    let key = value["key"].as_str().unwrap().to_ascii_uppercase();
    value["key"] = key.into();
    if let Some(bytes) = value["root"].get("bytes").and_then(|b| b.as_str()) {
        value["root"]["bytes"] = bytes.to_ascii_uppercase().into();
    }
    value.to_string()
}

#[test]
fn keys_and_root_bytes_parse_in_either_case() {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0xA5; // every nibble value appears
    }
    for node in [
        SeedTree::from_bytes(bytes).child("train").index(3),
        SeedTree::from_u64(0xFEED_FACE).child("x"),
    ] {
        let json = node.to_json();
        let upper = upper_hex(&json);
        assert_ne!(upper, json, "the key has letters to change");
        assert!(upper.bytes().any(|c| (b'A'..=b'F').contains(&c)));
        let back = SeedTree::from_json(&upper).unwrap();
        assert_eq!(back.key(), node.key());
        assert_eq!(back.path(), node.path());
    }
}

#[test]
fn characters_next_to_the_hex_ranges_are_refused() {
    let node = SeedTree::from_u64(1).child("a");
    let json = node.to_json();
    let key = node.key_hex();
    // The neighbours of '0'..='9', 'a'..='f' and 'A'..='F' in ASCII.
    for bad in ['/', ':', '@', 'G', '`', 'g'] {
        let broken = format!("{bad}{}", &key[1..]);
        let text = json.replace(&key, &broken);
        assert!(
            matches!(SeedTree::from_json(&text), Err(Error::Malformed { .. })),
            "`{bad}` was accepted"
        );
    }
    // A valid digit that changes the value is a mismatch, not a parse error.
    let flipped = format!(
        "{}{}",
        if key.starts_with('0') { '1' } else { '0' },
        &key[1..]
    );
    assert!(matches!(
        SeedTree::from_json(&json.replace(&key, &flipped)),
        Err(Error::KeyMismatch { .. })
    ));
}
