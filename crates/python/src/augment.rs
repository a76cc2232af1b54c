//! lockstep-augment: `Op`, `OpParams`, `Compose`, `replay` on NumPy images and boxes.

use lockstep_augment::{replay, Augmented, BoxPolicy, Compose, ImageSize, Op, OpParams, Sample};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::arrays;
use crate::errors;
use crate::seed::{PySampleKey, PySeedTree};

/// Python's `json` module: dumps and loads.
fn json_dumps(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    obj.py()
        .import("json")?
        .call_method1("dumps", (obj,))?
        .extract()
}

fn json_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// A random (or fixed) operation: `Op("hflip", p=0.5)`, `Op("random_crop", width=32,
/// height=32)`, or `Op.from_json('{"op": "hflip", "p": 0.5}')`. The configuration is
/// checked when it is made.
#[pyclass(frozen, name = "Op", module = "lockstep")]
#[derive(Clone, Debug)]
pub struct PyOp(Op);

#[pymethods]
impl PyOp {
    #[new]
    #[pyo3(signature = (name, **kwargs))]
    fn new(py: Python<'_>, name: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let py_dict = match kwargs {
            Some(k) => k.copy()?,
            None => PyDict::new(py),
        };
        if py_dict.contains("op")? {
            return Err(errors::arg(
                "op",
                "give the operation's name as the first argument",
            ));
        }
        py_dict.set_item("op", name)?;
        let text = json_dumps(py_dict.as_any())?;
        Self::from_json(&text)
    }

    /// An op from its JSON form (`{"op": "<name>", …fields}`).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        serde_json::from_str::<Op>(text)
            .map(Self)
            .map_err(|e| errors::AugmentError::new_err(format!("Op: {e}")))
    }

    /// The JSON form.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(|e| errors::AugmentError::new_err(e.to_string()))
    }

    /// The JSON form as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, &self.to_json()?)
    }

    /// The op's short name (the last segment of its key path).
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The parameters this op draws from `key` for an image of `width x height`.
    fn draw(&self, key: &PySeedTree, width: u32, height: u32) -> PyResult<PyOpParams> {
        self.0
            .draw(&key.0, ImageSize::new(width, height))
            .map(PyOpParams)
            .map_err(|e| errors::augment("Op.draw", e))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyOp>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("Op.from_json('{}')", self.to_json()?))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((
            py.get_type::<PyOp>().getattr("from_json")?,
            (self.to_json()?,),
        ))
    }
}

/// The parameters one operation drew: replaying them needs no key.
#[pyclass(frozen, name = "OpParams", module = "lockstep")]
#[derive(Clone, Debug)]
pub struct PyOpParams(pub OpParams);

#[pymethods]
impl PyOpParams {
    /// Parameters from their JSON form; checked.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        serde_json::from_str::<OpParams>(text)
            .map(Self)
            .map_err(|e| errors::AugmentError::new_err(format!("OpParams: {e}")))
    }

    /// The JSON form (floats as exact decimal strings).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(|e| errors::AugmentError::new_err(e.to_string()))
    }

    /// The JSON form as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, &self.to_json()?)
    }

    /// The name of the recorded operation.
    #[getter]
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyOpParams>()
            .is_ok_and(|o| o.get().0 == self.0)
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("OpParams.from_json('{}')", self.to_json()?))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((
            py.get_type::<PyOpParams>().getattr("from_json")?,
            (self.to_json()?,),
        ))
    }
}

/// The result of a pipeline: `image` (`uint8` `(H, W, 3)`), `boxes` (`float32`
/// `(M, 4)`), `labels` (`int64` `(M,)`), `params` (list of `OpParams`) and `dropped`
/// (list of dicts: `index`, `op_index`, `op`, `reason`, `last_seen`).
#[pyclass(frozen, name = "Augmented", module = "lockstep")]
#[derive(Debug)]
pub struct PyAugmented {
    #[pyo3(get)]
    image: Py<PyAny>,
    #[pyo3(get)]
    boxes: Py<PyAny>,
    #[pyo3(get)]
    labels: Py<PyAny>,
    #[pyo3(get)]
    params: Py<PyAny>,
    #[pyo3(get)]
    dropped: Py<PyAny>,
}

fn augmented_out(py: Python<'_>, out: Augmented) -> PyResult<PyAugmented> {
    let boxes = arrays::boxes_out(py, &out.sample.boxes)?.unbind();
    let labels = arrays::labels_out(py, &out.sample.boxes).unbind();
    let params = PyList::new(py, out.params.into_iter().map(PyOpParams))?
        .into_any()
        .unbind();
    let dropped_json = serde_json::to_string(&out.dropped)
        .map_err(|e| errors::AugmentError::new_err(e.to_string()))?;
    let dropped = json_loads(py, &dropped_json)?.unbind();
    let image = arrays::image_out(py, out.sample.image)?.unbind();
    Ok(PyAugmented {
        image,
        boxes,
        labels,
        params,
        dropped,
    })
}

fn sample_in(
    image: &Bound<'_, PyAny>,
    boxes: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
) -> PyResult<Sample> {
    let img = arrays::image("image", image)?;
    let labeled = arrays::labeled(boxes, labels)?;
    Sample::new(img, labeled).map_err(|e| errors::augment("arguments `image`, `boxes`", e))
}

fn not_none(o: Bound<'_, PyAny>) -> Option<Bound<'_, PyAny>> {
    (!o.is_none()).then_some(o)
}

fn params_in(params: &Bound<'_, PyAny>) -> PyResult<Vec<OpParams>> {
    let list: Vec<Bound<'_, PyAny>> = params
        .extract()
        .map_err(|_| errors::arg_type("params", "expected a list of OpParams"))?;
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            p.cast::<PyOpParams>()
                .map(|p| p.get().0.clone())
                .map_err(|_| errors::arg_type("params", format!("entry {i} is not an OpParams")))
        })
        .collect()
}

fn policy(min_area: f32, min_visible_fraction: f32) -> PyResult<BoxPolicy> {
    let p = BoxPolicy::default()
        .with_min_area(min_area)
        .with_min_visible_fraction(min_visible_fraction);
    p.validate()
        .map_err(|e| errors::augment("arguments `min_area`, `min_visible_fraction`", e))?;
    Ok(p)
}

/// A pipeline of `Op`s with a box policy. Operation `p` of the sample keyed
/// `…/epoch[e]/sample[i]` draws from `…/sample[i]/augment/op[p]/<name>`, so outputs
/// depend only on (image, boxes, key), whatever the thread, worker or batch.
#[pyclass(frozen, name = "Compose", module = "lockstep")]
#[derive(Debug)]
pub struct PyCompose(Compose);

#[pymethods]
impl PyCompose {
    #[new]
    #[pyo3(signature = (ops, *, min_area = 1.0, min_visible_fraction = 0.0))]
    fn new(ops: Vec<PyRef<'_, PyOp>>, min_area: f32, min_visible_fraction: f32) -> PyResult<Self> {
        let compose = Compose::default()
            .with_ops(ops.iter().map(|o| o.0.clone()).collect())
            .with_policy(policy(min_area, min_visible_fraction)?);
        compose
            .validate()
            .map_err(|e| errors::augment("argument `ops`", e))?;
        Ok(Self(compose))
    }

    /// A pipeline from its JSON form (`{"ops": [...], "policy": {...}}`); checked.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        serde_json::from_str::<Compose>(text)
            .map(Self)
            .map_err(|e| errors::AugmentError::new_err(format!("Compose: {e}")))
    }

    /// The JSON form.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.0).map_err(|e| errors::AugmentError::new_err(e.to_string()))
    }

    /// The operations.
    #[getter]
    fn ops(&self) -> Vec<PyOp> {
        self.0.ops().iter().cloned().map(PyOp).collect()
    }

    /// Runs the pipeline on one sample keyed `key` (a `SampleKey`). Releases the GIL.
    #[pyo3(signature = (image, boxes = None, labels = None, *, key))]
    fn apply(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        boxes: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyAny>>,
        key: &PySampleKey,
    ) -> PyResult<PyAugmented> {
        let sample = sample_in(image, boxes, labels)?;
        let key = key.0.clone();
        let out = py
            .detach(|| self.0.apply(sample, &key))
            .map_err(|e| errors::augment("Compose.apply", e))?;
        augmented_out(py, out)
    }

    /// `apply` on each `(image, boxes, labels, key)` tuple (boxes and labels may be
    /// `None`), in parallel on the Rust thread pool with the GIL released; the outputs
    /// equal `apply` on each alone, in order.
    fn apply_batch(&self, py: Python<'_>, batch: &Bound<'_, PyAny>) -> PyResult<Vec<PyAugmented>> {
        let items: Vec<Bound<'_, PyTuple>> = batch.extract().map_err(|_| {
            errors::arg_type(
                "batch",
                "expected a list of (image, boxes, labels, key) tuples",
            )
        })?;
        let mut pairs = Vec::with_capacity(items.len());
        for (i, t) in items.iter().enumerate() {
            if t.len() != 4 {
                return Err(errors::arg("batch", format!("entry {i} is not a 4-tuple")));
            }
            let (b, l) = (not_none(t.get_item(1)?), not_none(t.get_item(2)?));
            let sample = sample_in(&t.get_item(0)?, b.as_ref(), l.as_ref())?;
            let key = t.get_item(3)?;
            let key = key.cast::<PySampleKey>().map_err(|_| {
                errors::arg_type("batch", format!("entry {i}: key is not a SampleKey"))
            })?;
            pairs.push((sample, key.get().0.clone()));
        }
        let outs = py
            .detach(|| self.0.apply_batch(pairs))
            .map_err(|e| errors::augment("Compose.apply_batch", e))?;
        outs.into_iter().map(|o| augmented_out(py, o)).collect()
    }

    /// Applies recorded `params` (a list of `OpParams`) with this pipeline's box
    /// policy: the same bytes, boxes and drops as the run that recorded them.
    #[pyo3(signature = (image, boxes = None, labels = None, *, params))]
    fn replay(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        boxes: Option<&Bound<'_, PyAny>>,
        labels: Option<&Bound<'_, PyAny>>,
        params: &Bound<'_, PyAny>,
    ) -> PyResult<PyAugmented> {
        let sample = sample_in(image, boxes, labels)?;
        let params = params_in(params)?;
        let out = py
            .detach(|| self.0.replay(sample, &params))
            .map_err(|e| errors::augment("Compose.replay", e))?;
        augmented_out(py, out)
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!("Compose.from_json('{}')", self.to_json()?))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((
            py.get_type::<PyCompose>().getattr("from_json")?,
            (self.to_json()?,),
        ))
    }
}

/// Applies recorded `params` to a sample with the given box policy (no key needed).
#[pyfunction(name = "replay")]
#[pyo3(signature = (image, boxes = None, labels = None, *, params, min_area = 1.0, min_visible_fraction = 0.0))]
fn replay_fn(
    py: Python<'_>,
    image: &Bound<'_, PyAny>,
    boxes: Option<&Bound<'_, PyAny>>,
    labels: Option<&Bound<'_, PyAny>>,
    params: &Bound<'_, PyAny>,
    min_area: f32,
    min_visible_fraction: f32,
) -> PyResult<PyAugmented> {
    let sample = sample_in(image, boxes, labels)?;
    let params = params_in(params)?;
    let pol = policy(min_area, min_visible_fraction)?;
    let out = py
        .detach(|| replay(sample, &params, &pol))
        .map_err(|e| errors::augment("replay", e))?;
    augmented_out(py, out)
}

/// The key op `op` at `position` of a pipeline draws from for the sample keyed `key`:
/// `…/sample[i]/augment/op[position]/<name>`.
#[pyfunction]
fn op_key(key: &PySampleKey, position: usize, op: &PyOp) -> PySeedTree {
    PySeedTree(lockstep_augment::op_key(&key.0, position, &op.0))
}

/// Registers this module's classes and functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyOp>()?;
    m.add_class::<PyOpParams>()?;
    m.add_class::<PyAugmented>()?;
    m.add_class::<PyCompose>()?;
    m.add_function(wrap_pyfunction!(replay_fn, m)?)?;
    m.add_function(wrap_pyfunction!(op_key, m)?)?;
    Ok(())
}
