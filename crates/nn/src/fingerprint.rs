//! Fingerprints: BLAKE3 hashes of tensors and of whole models.
//!
//! A tensor's fingerprint hashes, in order: the domain tag `lockstep-nn/tensor/1`, the
//! dtype name as a length-prefixed string, the rank and each dimension as `u64`
//! little-endian, then the element bytes in row-major (contiguous) order as libtorch
//! stores them (little-endian on every machine we run on). Two tensors have equal
//! fingerprints exactly when dtype, shape and every bit of every element agree (up to
//! BLAKE3 collisions). The device is not hashed: a CUDA tensor is copied to the CPU.
//!
//! A named-tensor set's fingerprint (a model, an optimizer state) hashes the tag
//! `lockstep-nn/set/1`, the count, then for each entry in name order the name
//! (length-prefixed) and the tensor's fingerprint.

use std::fmt;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::Result;

/// A 32-byte BLAKE3 fingerprint, shown and serialised as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl From<Fingerprint> for String {
    fn from(fp: Fingerprint) -> String {
        fp.to_string()
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<Self, String> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(format!(
                "a fingerprint has 64 hex digits, got {}",
                bytes.len()
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            out[i] = u8::from_str_radix(s, 16).map_err(|_| format!("bad hex digits `{s}`"))?;
        }
        Ok(Fingerprint(out))
    }
}

/// The name a dtype is hashed (and written) under.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Uint8 => "u8",
        Kind::Int8 => "i8",
        Kind::Int16 => "i16",
        Kind::Int => "i32",
        Kind::Int64 => "i64",
        Kind::Half => "f16",
        Kind::Float => "f32",
        Kind::Double => "f64",
        Kind::Bool => "bool",
        Kind::BFloat16 => "bf16",
        _ => "other",
    }
}

fn put_str(h: &mut blake3::Hasher, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// The element bytes of `t` in row-major order, copied to the CPU.
pub fn tensor_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let cpu = t.f_to_device(Device::Cpu)?.f_contiguous()?;
    let numel = cpu.numel();
    let mut bytes = vec![0u8; numel * cpu.f_kind()?.elt_size_in_bytes()];
    cpu.f_copy_data_u8(&mut bytes, numel)?;
    Ok(bytes)
}

/// The fingerprint of one tensor (see the module docs for the exact recipe).
pub fn tensor_fingerprint(t: &Tensor) -> Result<Fingerprint> {
    let mut h = blake3::Hasher::new();
    put_str(&mut h, "lockstep-nn/tensor/1");
    put_str(&mut h, kind_name(t.f_kind()?));
    let shape = t.size();
    h.update(&(shape.len() as u64).to_le_bytes());
    for d in &shape {
        h.update(&(*d as u64).to_le_bytes());
    }
    h.update(&tensor_bytes(t)?);
    Ok(Fingerprint(*h.finalize().as_bytes()))
}

/// The fingerprint of a set of named tensors, taken in name order whatever the order
/// of `named`.
pub fn set_fingerprint<S: AsRef<str>>(named: &[(S, Tensor)]) -> Result<Fingerprint> {
    let mut sorted: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_ref(), t)).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = blake3::Hasher::new();
    put_str(&mut h, "lockstep-nn/set/1");
    h.update(&(sorted.len() as u64).to_le_bytes());
    for (name, t) in sorted {
        put_str(&mut h, name);
        h.update(&tensor_fingerprint(t)?.0);
    }
    Ok(Fingerprint(*h.finalize().as_bytes()))
}

/// The fingerprint of an optimizer state together with its update count: the set
/// fingerprint of `state` plus an entry `updates` holding the count as one `i64` (its
/// bits, so every `u64` maps to a distinct value).
pub fn optimizer_fingerprint(state: &[(String, Tensor)], updates: u64) -> Result<Fingerprint> {
    let mut named: Vec<(&str, Tensor)> = state
        .iter()
        .map(|(n, t)| (n.as_str(), t.shallow_clone()))
        .collect();
    named.push((
        "updates",
        Tensor::f_from_slice(&[i64::from_ne_bytes(updates.to_ne_bytes())])?,
    ));
    set_fingerprint(&named)
}

/// The fingerprint of every variable of a var store (parameters and buffers such as
/// BatchNorm running statistics), in name order.
pub fn model_fingerprint(vs: &tch::nn::VarStore) -> Result<Fingerprint> {
    let named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    set_fingerprint(&named)
}

/// The largest absolute elementwise difference of two tensors of one shape, in `f64`;
/// `None` when the shapes differ. NaN where either side has NaN.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<Option<f64>> {
    if a.size() != b.size() {
        return Ok(None);
    }
    if a.numel() == 0 {
        return Ok(Some(0.0));
    }
    let a = a.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?;
    let b = b.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?;
    let d = a.f_sub(&b)?.f_abs()?.f_max()?;
    Ok(Some(d.f_double_value(&[])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_fingerprint_known_answer() {
        let t = Tensor::from_slice(&[1.0f32, -2.5, 0.0, 3.25]).reshape([2, 2]);
        assert_eq!(
            tensor_fingerprint(&t).unwrap().to_string(),
            "fa817e560cdb2bb390dcb85c44fd34d323fcfaae355f855db1a7e37a6bd52ffa",
        );
    }

    #[test]
    fn fingerprint_sees_dtype_shape_and_every_bit() {
        let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]);
        let base = tensor_fingerprint(&t).unwrap();
        assert_eq!(base, tensor_fingerprint(&t.copy()).unwrap());
        assert_ne!(base, tensor_fingerprint(&t.reshape([2, 2])).unwrap());
        assert_ne!(base, tensor_fingerprint(&t.to_kind(Kind::Double)).unwrap());
        let flipped = f32::from_bits(4.0f32.to_bits() ^ 1);
        let u = Tensor::from_slice(&[1.0f32, 2.0, 3.0, flipped]);
        assert_ne!(base, tensor_fingerprint(&u).unwrap());
        // -0.0 and 0.0 compare equal but are different bits.
        let z = tensor_fingerprint(&Tensor::from_slice(&[0.0f32])).unwrap();
        let nz = tensor_fingerprint(&Tensor::from_slice(&[-0.0f32])).unwrap();
        assert_ne!(z, nz);
        // A non-contiguous view hashes its logical (row-major) order.
        let m = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([2, 2]);
        assert_eq!(
            tensor_fingerprint(&m.tr()).unwrap(),
            tensor_fingerprint(&Tensor::from_slice(&[1.0f32, 3.0, 2.0, 4.0]).reshape([2, 2]))
                .unwrap()
        );
    }

    #[test]
    fn set_fingerprint_is_order_free_and_name_sensitive() {
        let a = Tensor::from_slice(&[1.0f32]);
        let b = Tensor::from_slice(&[2.0f32]);
        let ab = set_fingerprint(&[("a", a.copy()), ("b", b.copy())]).unwrap();
        let ba = set_fingerprint(&[("b", b.copy()), ("a", a.copy())]).unwrap();
        assert_eq!(ab, ba);
        let swapped = set_fingerprint(&[("a", b.copy()), ("b", a.copy())]).unwrap();
        assert_ne!(ab, swapped);
    }

    #[test]
    fn fingerprint_hex_round_trips() {
        let fp = tensor_fingerprint(&Tensor::from_slice(&[7i64])).unwrap();
        let text = serde_json::to_string(&fp).unwrap();
        assert_eq!(serde_json::from_str::<Fingerprint>(&text).unwrap(), fp);
        assert!(serde_json::from_str::<Fingerprint>("\"abc\"").is_err());
    }

    #[test]
    fn max_abs_diff_of_known_tensors() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
        let b = Tensor::from_slice(&[1.0f32, 2.5, 2.0]);
        assert_eq!(max_abs_diff(&a, &b).unwrap(), Some(1.0));
        assert_eq!(max_abs_diff(&a, &b.reshape([3, 1])).unwrap(), None);
    }
}
