//! NumPy arrays in and out: images (`uint8`, `(H, W, 3)`), boxes (`float32`, `(N, 4)`),
//! labels (integers, `(N,)`), scores (`float32`, `(N,)`). Every check names the
//! argument; nothing is converted silently except integer labels' width.

use image::RgbImage;
use lockstep_core::{BBox, ClassId, LabeledBox};
use numpy::{
    PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::errors;

/// An `(H, W, 3)` `uint8` array as an image (copied).
pub fn image(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<RgbImage> {
    let arr: PyReadonlyArray3<'_, u8> = obj.extract().map_err(|_| {
        errors::arg_type(
            name,
            format!(
                "expected a uint8 NumPy array of shape (H, W, 3), got {}",
                describe(obj)
            ),
        )
    })?;
    let shape = arr.shape();
    if shape[2] != 3 {
        return Err(errors::arg(
            name,
            format!("expected shape (H, W, 3), got {shape:?}"),
        ));
    }
    let (h, w) = (side(name, shape[0])?, side(name, shape[1])?);
    let bytes = match arr.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => arr.as_array().iter().copied().collect(),
    };
    RgbImage::from_raw(w, h, bytes)
        .ok_or_else(|| errors::arg(name, "pixel buffer does not match its shape"))
}

fn side(name: &str, n: usize) -> PyResult<u32> {
    u32::try_from(n).map_err(|_| errors::arg(name, format!("side {n} exceeds 2**32 - 1")))
}

/// A short description of a Python object's type (and dtype/shape for arrays).
fn describe(obj: &Bound<'_, PyAny>) -> String {
    let dtype = obj.getattr("dtype").map(|d| d.to_string()).ok();
    let shape = obj.getattr("shape").map(|d| d.to_string()).ok();
    match (dtype, shape) {
        (Some(d), Some(s)) => format!("an array of dtype {d} and shape {s}"),
        _ => obj
            .get_type()
            .name()
            .map_or_else(|_| "an object".into(), |n| format!("a {n}")),
    }
}

/// An `(N, 4)` `float32` array as boxes `(x1, y1, x2, y2)`; `None` is no boxes.
pub fn boxes(name: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<BBox>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let arr: PyReadonlyArray2<'_, f32> = obj.extract().map_err(|_| {
        errors::arg_type(
            name,
            format!(
                "expected a float32 NumPy array of shape (N, 4), got {}",
                describe(obj)
            ),
        )
    })?;
    if arr.shape()[1] != 4 {
        return Err(errors::arg(
            name,
            format!("expected shape (N, 4), got {:?}", arr.shape()),
        ));
    }
    let flat: Vec<f32> = match arr.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => arr.as_array().iter().copied().collect(),
    };
    Ok(flat
        .chunks_exact(4)
        .map(|c| BBox::new(c[0], c[1], c[2], c[3]))
        .collect())
}

/// A `float32` vector (scores).
pub fn f32s(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    let arr: PyReadonlyArray1<'_, f32> = obj.extract().map_err(|_| {
        errors::arg_type(
            name,
            format!(
                "expected a float32 NumPy array of shape (N,), got {}",
                describe(obj)
            ),
        )
    })?;
    Ok(arr.as_array().to_vec())
}

/// An integer vector (labels, classes, image ids) as `u64`; every value must be
/// non-negative.
pub fn u64s(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    let values: Vec<i128> = if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
        a.as_array().iter().map(|&v| i128::from(v)).collect()
    } else if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i32>>() {
        a.as_array().iter().map(|&v| i128::from(v)).collect()
    } else if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, u32>>() {
        a.as_array().iter().map(|&v| i128::from(v)).collect()
    } else if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, u64>>() {
        a.as_array().iter().map(|&v| i128::from(v)).collect()
    } else if let Ok(v) = obj.extract::<Vec<i128>>() {
        v
    } else {
        return Err(errors::arg_type(
            name,
            format!(
                "expected an integer NumPy array of shape (N,), got {}",
                describe(obj)
            ),
        ));
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            u64::try_from(v).map_err(|_| errors::arg(name, format!("entry {i} is negative: {v}")))
        })
        .collect()
}

/// Class ids (`u32`).
pub fn classes(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<ClassId>> {
    u64s(name, obj)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            u32::try_from(v)
                .map(ClassId)
                .map_err(|_| errors::arg(name, format!("entry {i} ({v}) exceeds 2**32 - 1")))
        })
        .collect()
}

/// Boxes and labels together; labels default to class 0 and must match in length.
pub fn labeled(
    boxes_obj: Option<&Bound<'_, PyAny>>,
    labels_obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<LabeledBox>> {
    let b = boxes("boxes", boxes_obj)?;
    let l = match labels_obj {
        Some(o) => classes("labels", o)?,
        None => vec![ClassId(0); b.len()],
    };
    if l.len() != b.len() {
        return Err(errors::arg(
            "labels",
            format!("has {} entries but there are {} boxes", l.len(), b.len()),
        ));
    }
    Ok(b.into_iter()
        .zip(l)
        .map(|(b, c)| LabeledBox::new(b, c))
        .collect())
}

/// An image as an `(H, W, 3)` `uint8` array (the buffer moves, no copy).
pub fn image_out<'py>(py: Python<'py>, img: RgbImage) -> PyResult<Bound<'py, PyAny>> {
    let (w, h) = img.dimensions();
    let arr = PyArray1::from_vec(py, img.into_raw());
    Ok(arr.reshape([h as usize, w as usize, 3])?.into_any())
}

/// Boxes as an `(N, 4)` `float32` array.
pub fn boxes_out<'py>(py: Python<'py>, boxes: &[LabeledBox]) -> PyResult<Bound<'py, PyAny>> {
    let flat: Vec<f32> = boxes.iter().flat_map(|b| b.bbox.to_array()).collect();
    Ok(PyArray1::from_vec(py, flat)
        .reshape([boxes.len(), 4])?
        .into_any())
}

/// Labels as an `int64` array.
pub fn labels_out<'py>(py: Python<'py>, boxes: &[LabeledBox]) -> Bound<'py, PyAny> {
    let v: Vec<i64> = boxes.iter().map(|b| i64::from(b.class.0)).collect();
    PyArray1::from_vec(py, v).into_any()
}

/// Indices as an `int64` array.
pub fn indices_out<'py>(py: Python<'py>, v: &[usize]) -> Bound<'py, PyAny> {
    let v: Vec<i64> = v.iter().map(|&i| i as i64).collect();
    PyArray1::from_vec(py, v).into_any()
}
