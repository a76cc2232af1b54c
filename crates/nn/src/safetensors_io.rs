//! Named tensors to and from the safetensors format (readable by PyTorch's
//! `safetensors.torch.load_file`), with typed errors that name the file.

use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::fingerprint::tensor_bytes;

fn dtype_of(kind: Kind, name: &str) -> Result<Dtype> {
    Ok(match kind {
        Kind::Bool => Dtype::BOOL,
        Kind::Uint8 => Dtype::U8,
        Kind::Int8 => Dtype::I8,
        Kind::Int16 => Dtype::I16,
        Kind::Int => Dtype::I32,
        Kind::Int64 => Dtype::I64,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Half => Dtype::F16,
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        other => {
            return Err(Error::ModelMismatch {
                what: "model",
                tensor: name.to_string(),
                reason: format!("dtype {other:?} cannot be stored in safetensors"),
            })
        }
    })
}

fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::BOOL => Kind::Bool,
        Dtype::U8 => Kind::Uint8,
        Dtype::I8 => Kind::Int8,
        Dtype::I16 => Kind::Int16,
        Dtype::I32 => Kind::Int,
        Dtype::I64 => Kind::Int64,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F16 => Kind::Half,
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        _ => return None,
    })
}

/// The safetensors bytes of `named` (any order; the format sorts by name).
pub fn encode(named: &[(String, Tensor)], path_for_errors: &Path) -> Result<Vec<u8>> {
    let mut owned = Vec::with_capacity(named.len());
    for (name, t) in named {
        let dtype = dtype_of(t.f_kind()?, name)?;
        let shape: Vec<usize> = t
            .size()
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .collect();
        owned.push((name.clone(), dtype, shape, tensor_bytes(t)?));
    }
    let mut views = Vec::with_capacity(owned.len());
    for (name, dtype, shape, bytes) in &owned {
        let view = TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| {
            Error::CorruptCheckpoint {
                path: path_for_errors.to_path_buf(),
                reason: format!("tensor `{name}`: {e:?}"),
            }
        })?;
        views.push((name.clone(), view));
    }
    safetensors::tensor::serialize(views, &None).map_err(|e| Error::CorruptCheckpoint {
        path: path_for_errors.to_path_buf(),
        reason: format!("{e:?}"),
    })
}

/// One tensor of a safetensors file, as its header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorEntry {
    /// The tensor's name.
    pub name: String,
    /// The safetensors dtype name (`F32`, `I64`, …).
    pub dtype: String,
    /// The shape.
    pub shape: Vec<u64>,
}

#[derive(serde::Deserialize)]
struct HeaderEntry {
    data_offsets: (u64, u64),
}

/// Checks the header's offsets against the buffer before `safetensors` sees it:
/// safetensors 0.3.3 adds offsets unchecked, which overflows on a crafted header.
fn precheck(bytes: &[u8]) -> std::result::Result<(), String> {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return Err("shorter than its 8-byte header length".into());
    };
    let n = u64::from_le_bytes(*len);
    let header_len = usize::try_from(n)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| {
            format!(
                "header length {n} exceeds the {} bytes after it",
                rest.len()
            )
        })?;
    let (header, data) = rest.split_at(header_len);
    let header: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| format!("header does not parse: {e}"))?;
    for (name, value) in header {
        if name == "__metadata__" {
            continue;
        }
        let entry: HeaderEntry = serde_json::from_value(value)
            .map_err(|e| format!("tensor `{name}`: header entry does not parse: {e}"))?;
        let (start, end) = entry.data_offsets;
        if start > end || end > data.len() as u64 {
            return Err(format!(
                "tensor `{name}`: data offsets [{start}, {end}] outside the {} data bytes",
                data.len()
            ));
        }
    }
    Ok(())
}

fn deserialize<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    let corrupt = |reason: String| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason: format!("not a safetensors file: {reason}"),
    };
    precheck(bytes).map_err(corrupt)?;
    SafeTensors::deserialize(bytes).map_err(|e| corrupt(format!("{e:?}")))
}

/// The tensors a safetensors file holds, in name order, checked without libtorch: a
/// pure function of `bytes` (errors name `path`).
pub fn parse(bytes: &[u8], path: &Path) -> Result<Vec<TensorEntry>> {
    let st = deserialize(bytes, path)?;
    let mut out: Vec<TensorEntry> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| TensorEntry {
            name,
            dtype: format!("{:?}", view.dtype()),
            shape: view.shape().iter().map(|&d| d as u64).collect(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The named tensors in safetensors `bytes`, in name order, on `device`.
pub fn decode(bytes: &[u8], path: &Path, device: Device) -> Result<Vec<(String, Tensor)>> {
    let corrupt = |reason: String| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let st = deserialize(bytes, path)?;
    let mut names: Vec<String> = st.names().into_iter().cloned().collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let view = st
            .tensor(&name)
            .map_err(|e| corrupt(format!("tensor `{name}`: {e:?}")))?;
        let kind = kind_of(view.dtype())
            .ok_or_else(|| corrupt(format!("tensor `{name}` has dtype {:?}", view.dtype())))?;
        let shape = view
            .shape()
            .iter()
            .map(|&d| i64::try_from(d))
            .collect::<std::result::Result<Vec<i64>, _>>()
            .map_err(|_| corrupt(format!("tensor `{name}`: a dimension exceeds i64")))?;
        let t = Tensor::f_from_data_size(view.data(), &shape, kind)?.f_to_device(device)?;
        out.push((name, t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_bitwise() {
        let named = vec![
            (
                "b".to_string(),
                Tensor::from_slice(&[1.5f32, -0.0, f32::MIN_POSITIVE]).reshape([3, 1]),
            ),
            ("a".to_string(), Tensor::from_slice(&[7i64, -3])),
        ];
        let p = Path::new("mem");
        let bytes = encode(&named, p).unwrap();
        let back = decode(&bytes, p, Device::Cpu).unwrap();
        assert_eq!(back[0].0, "a");
        assert!(back[0].1.equal(&named[1].1));
        assert_eq!(
            tensor_bytes(&back[1].1).unwrap(),
            tensor_bytes(&named[0].1).unwrap()
        );
        assert_eq!(back[1].1.size(), vec![3, 1]);
        // Truncation is a typed error naming the file.
        let err = decode(&bytes[..bytes.len() - 3], p, Device::Cpu).unwrap_err();
        assert!(matches!(err, Error::CorruptCheckpoint { .. }), "{err}");
    }
}
