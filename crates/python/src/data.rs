//! lockstep-data: `permutation`, `IndexPermutation`, `Sampler`, `BufferedShuffle`
//! and `Interleave`, over indices or Python iterables.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use lockstep_data::{
    BufferedShuffle, BufferedShuffleState, IndexPermutation, Interleave, Sampler, SamplerConfig,
    SamplerState, Shard,
};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyIterator;

use crate::errors;
use crate::seed::{PyEpochKey, PySampleKey, PySeedTree};

/// The order of `0..len` shuffled by Fisher–Yates over `tree`'s draws, as a NumPy
/// `uint64` array (lockstep-data's `permutation`). Releases the GIL.
#[pyfunction]
fn permutation<'py>(
    py: Python<'py>,
    tree: &PySeedTree,
    len: u64,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let node = tree.0.clone();
    let order = py
        .detach(move || lockstep_data::permutation(&node, len))
        .map_err(|e| errors::data("argument `len`", e))?;
    Ok(order.into_pyarray(py))
}

/// A random-access bijection of `0..len` keyed by a node, in O(1) memory.
#[pyclass(frozen, name = "IndexPermutation", module = "lockstep")]
#[derive(Debug)]
pub struct PyIndexPermutation(IndexPermutation);

#[pymethods]
impl PyIndexPermutation {
    #[new]
    fn new(tree: &PySeedTree, len: u64) -> PyResult<Self> {
        IndexPermutation::new(&tree.0, len)
            .map(Self)
            .map_err(|e| errors::data("argument `len`", e))
    }

    fn __len__(&self) -> PyResult<usize> {
        usize::try_from(self.0.len()).map_err(|_| errors::arg("self", "length exceeds usize"))
    }

    /// The value at position `i`.
    fn get(&self, i: u64) -> PyResult<u64> {
        self.0.get(i).map_err(|e| errors::data("argument `i`", e))
    }

    fn __getitem__(&self, i: u64) -> PyResult<u64> {
        self.get(i)
    }

    /// The position of value `v`.
    fn inverse(&self, v: u64) -> PyResult<u64> {
        self.0
            .inverse(v)
            .map_err(|e| errors::data("argument `v`", e))
    }

    /// `count` values at positions `start, start + stride, …` as a `uint64` array.
    #[pyo3(signature = (start, stride, count))]
    fn get_strided<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        stride: u64,
        count: usize,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let mut out = vec![0u64; count];
        py.detach(|| self.0.get_strided(start, stride, &mut out))
            .map_err(|e| errors::data("arguments `start`, `stride`, `count`", e))?;
        Ok(out.into_pyarray(py))
    }

    /// The whole order as a `uint64` array.
    fn to_array<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let len = usize::try_from(self.0.len())
            .map_err(|_| errors::arg("self", "length exceeds usize"))?;
        self.get_strided(py, 0, 1, len)
    }
}

fn config(
    len: u64,
    seed: &PySeedTree,
    shuffle: bool,
    drop_remainder: bool,
    epochs: u64,
) -> SamplerConfig {
    SamplerConfig::new(len, seed.0.clone())
        .with_shuffle(shuffle)
        .with_drop_remainder(drop_remainder)
        .with_epochs(epochs)
}

fn shard(rank: u64, world: u64) -> PyResult<Shard> {
    Shard::new(rank, world).map_err(|e| errors::data("arguments `rank`, `world`", e))
}

/// One rank's view of the global order over epochs: yields `(epoch, position, index)`.
///
/// The global order of epoch `e` is keyed by `seed/epoch[e]` and does not depend on
/// the world size; rank `r` of `world` takes global positions `p` with
/// `p % world == r` from the current step. The state (`state()`, JSON) is shared by
/// all ranks at a step boundary and may be restored with another world size.
#[pyclass(name = "Sampler", module = "lockstep")]
#[derive(Debug)]
pub struct PySampler(Sampler);

#[pymethods]
impl PySampler {
    #[new]
    #[pyo3(signature = (len, seed, *, rank = 0, world = 1, shuffle = true, drop_remainder = false, epochs = 1))]
    fn new(
        len: u64,
        seed: &PySeedTree,
        rank: u64,
        world: u64,
        shuffle: bool,
        drop_remainder: bool,
        epochs: u64,
    ) -> PyResult<Self> {
        let cfg = config(len, seed, shuffle, drop_remainder, epochs);
        Sampler::new(cfg, shard(rank, world)?)
            .map(Self)
            .map_err(|e| errors::data("Sampler", e))
    }

    /// Resumes from `state` (JSON from `state()`) with the same configuration. With
    /// `reshard=True` the world size may differ from the saved one.
    #[staticmethod]
    #[pyo3(signature = (state, len, seed, *, rank = 0, world = 1, shuffle = true, drop_remainder = false, epochs = 1, reshard = false))]
    #[allow(clippy::too_many_arguments)]
    fn restore(
        state: &str,
        len: u64,
        seed: &PySeedTree,
        rank: u64,
        world: u64,
        shuffle: bool,
        drop_remainder: bool,
        epochs: u64,
        reshard: bool,
    ) -> PyResult<Self> {
        let st = SamplerState::from_json(state).map_err(|e| errors::data("argument `state`", e))?;
        let cfg = config(len, seed, shuffle, drop_remainder, epochs);
        let sh = shard(rank, world)?;
        let restored = if reshard {
            Sampler::restore_resharded(cfg, sh, &st)
        } else {
            Sampler::restore(cfg, sh, &st)
        };
        restored
            .map(Self)
            .map_err(|e| errors::data("argument `state`", e))
    }

    /// The resumable state as JSON.
    fn state(&self) -> String {
        self.0.state().to_json()
    }

    /// Continues as rank `rank` of `world` from the current step boundary.
    fn reshard(&mut self, rank: u64, world: u64) -> PyResult<()> {
        self.0.reshard(shard(rank, world)?);
        Ok(())
    }

    /// The epoch of the next step (`epochs` when finished).
    #[getter]
    fn epoch(&self) -> u64 {
        self.0.epoch()
    }

    /// The global position where the next step starts.
    #[getter]
    fn position(&self) -> u64 {
        self.0.position()
    }

    /// This rank.
    #[getter]
    fn rank(&self) -> u64 {
        self.0.shard().rank()
    }

    /// The world size.
    #[getter]
    fn world(&self) -> u64 {
        self.0.shard().world()
    }

    /// The dataset length.
    #[getter]
    fn len(&self) -> u64 {
        self.0.config().len
    }

    /// The key of epoch `epoch`, `seed/epoch[e]`.
    fn epoch_key(&self, epoch: u64) -> PyEpochKey {
        PyEpochKey(self.0.config().epoch_key(epoch))
    }

    /// The key of item `index` in epoch `epoch`, `seed/epoch[e]/sample[index]`.
    fn sample_key(&self, epoch: u64, index: u64) -> PySampleKey {
        PySampleKey(self.0.config().sample_key(epoch, index))
    }

    /// The next step: `(epoch, start, index)`, `index` `None` on a partial last step
    /// that ends before this rank; `None` when finished.
    fn next_step(&mut self) -> Option<(u64, u64, Option<u64>)> {
        self.0
            .next_step()
            .map(|s| (s.epoch, s.start, s.sample.map(|x| x.index)))
    }

    /// Up to `n` next dataset indices (fewer at the end of the last epoch; they may
    /// span epochs) as a `uint64` array: the fast way to iterate.
    fn take<'py>(&mut self, py: Python<'py>, n: usize) -> Bound<'py, PyArray1<u64>> {
        let inner = &mut self.0;
        let out: Vec<u64> = py.detach(|| inner.by_ref().take(n).map(|s| s.index).collect());
        out.into_pyarray(py)
    }

    /// Up to `n` next dataset indices of the current epoch only.
    fn take_epoch<'py>(&mut self, py: Python<'py>, n: usize) -> Bound<'py, PyArray1<u64>> {
        let inner = &mut self.0;
        let out: Vec<u64> = py.detach(|| {
            let epoch = inner.epoch();
            let mut out = Vec::with_capacity(n.min(1 << 16));
            while out.len() < n && inner.epoch() == epoch {
                match inner.next_step() {
                    Some(step) => out.extend(step.sample.map(|s| s.index)),
                    None => break,
                }
            }
            out
        });
        out.into_pyarray(py)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> Option<(u64, u64, u64)> {
        self.0.next().map(|s| (s.epoch, s.position, s.index))
    }
}

/// A Python iterator as a Rust one. A Python exception ends the iteration and is kept
/// in `error`, for the wrapper to raise.
#[derive(Debug)]
struct PyIter {
    iter: Py<PyIterator>,
    error: Arc<Mutex<Option<PyErr>>>,
}

impl PyIter {
    fn new(obj: &Bound<'_, PyAny>, name: &str, error: Arc<Mutex<Option<PyErr>>>) -> PyResult<Self> {
        let iter = PyIterator::from_object(obj)
            .map_err(|_| errors::arg_type(name, "expected an iterable"))?;
        Ok(Self {
            iter: iter.unbind(),
            error,
        })
    }

    fn keep(&self, e: PyErr) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(e);
        }
    }
}

impl Iterator for PyIter {
    type Item = Py<PyAny>;

    fn next(&mut self) -> Option<Py<PyAny>> {
        Python::attach(|py| match self.iter.bind(py).clone().next() {
            Some(Ok(item)) => Some(item.unbind()),
            Some(Err(e)) => {
                self.keep(e);
                None
            }
            None => None,
        })
    }
}

/// Raises the error a Python iterator left, if any.
fn raise_kept(error: &Arc<Mutex<Option<PyErr>>>) -> PyResult<()> {
    match error.lock() {
        Ok(mut slot) => slot.take().map_or(Ok(()), Err),
        Err(_) => Ok(()),
    }
}

#[derive(Debug)]
enum Shuffled {
    Indices(BufferedShuffle<Range<u64>>),
    Objects(BufferedShuffle<PyIter>),
}

/// tf.data's `shuffle(buffer_size)` over the indices `0..n` (pass an int) or over any
/// Python iterable, with draws from `seed`, and a checkpointable state.
#[pyclass(name = "BufferedShuffle", module = "lockstep")]
#[derive(Debug)]
pub struct PyBufferedShuffle {
    inner: Shuffled,
    error: Arc<Mutex<Option<PyErr>>>,
}

fn shuffled(
    source: &Bound<'_, PyAny>,
    seed: &PySeedTree,
    buffer_size: u64,
    state: Option<&BufferedShuffleState>,
) -> PyResult<PyBufferedShuffle> {
    let error = Arc::new(Mutex::new(None));
    let map = |e| errors::data("BufferedShuffle", e);
    let inner = if let Ok(n) = source.extract::<u64>() {
        let upstream = 0..n;
        Shuffled::Indices(
            match state {
                Some(st) => BufferedShuffle::resume(upstream, &seed.0, buffer_size, st),
                None => BufferedShuffle::new(upstream, &seed.0, buffer_size),
            }
            .map_err(map)?,
        )
    } else {
        let upstream = PyIter::new(source, "source", error.clone())?;
        let made = match state {
            Some(st) => BufferedShuffle::resume(upstream, &seed.0, buffer_size, st),
            None => BufferedShuffle::new(upstream, &seed.0, buffer_size),
        };
        raise_kept(&error)?;
        Shuffled::Objects(made.map_err(map)?)
    };
    Ok(PyBufferedShuffle { inner, error })
}

#[pymethods]
impl PyBufferedShuffle {
    #[new]
    fn new(source: &Bound<'_, PyAny>, seed: &PySeedTree, buffer_size: u64) -> PyResult<Self> {
        shuffled(source, seed, buffer_size, None)
    }

    /// Resumes from `state` (JSON from `state()`), replaying `source` from its start.
    #[staticmethod]
    fn resume(
        source: &Bound<'_, PyAny>,
        seed: &PySeedTree,
        buffer_size: u64,
        state: &str,
    ) -> PyResult<Self> {
        let st = BufferedShuffleState::from_json(state)
            .map_err(|e| errors::data("argument `state`", e))?;
        shuffled(source, seed, buffer_size, Some(&st))
    }

    /// The checkpointable state as JSON.
    fn state(&self) -> String {
        match &self.inner {
            Shuffled::Indices(s) => s.state().to_json(),
            Shuffled::Objects(s) => s.state().to_json(),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let item = match &mut self.inner {
            Shuffled::Indices(s) => s
                .next()
                .map(|i| i.into_pyobject(py).map(|v| v.into_any().unbind()))
                .transpose()?,
            Shuffled::Objects(s) => s.next(),
        };
        raise_kept(&self.error)?;
        Ok(item)
    }
}

/// An input of `Interleave`: each outer item made an iterator as it is opened.
#[derive(Debug)]
struct Inputs {
    outer: PyIter,
}

impl Iterator for Inputs {
    type Item = PyIter;

    fn next(&mut self) -> Option<PyIter> {
        let obj = self.outer.next()?;
        Python::attach(
            |py| match PyIter::new(obj.bind(py), "inputs", self.outer.error.clone()) {
                Ok(it) => Some(it),
                Err(e) => {
                    self.outer.keep(e);
                    None
                }
            },
        )
    }
}

/// tf.data's `interleave(cycle_length, block_length)` over an iterable of iterables.
#[pyclass(name = "Interleave", module = "lockstep")]
#[derive(Debug)]
pub struct PyInterleave {
    inner: Interleave<Inputs, PyIter>,
    error: Arc<Mutex<Option<PyErr>>>,
}

#[pymethods]
impl PyInterleave {
    #[new]
    fn new(inputs: &Bound<'_, PyAny>, cycle_length: u64, block_length: u64) -> PyResult<Self> {
        let error = Arc::new(Mutex::new(None));
        let outer = PyIter::new(inputs, "inputs", error.clone())?;
        let inner = Interleave::new(Inputs { outer }, cycle_length, block_length)
            .map_err(|e| errors::data("Interleave", e))?;
        Ok(Self { inner, error })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> PyResult<Option<Py<PyAny>>> {
        let item = self.inner.next();
        raise_kept(&self.error)?;
        Ok(item)
    }
}

/// Registers this module's classes and functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(permutation, m)?)?;
    m.add_class::<PyIndexPermutation>()?;
    m.add_class::<PySampler>()?;
    m.add_class::<PyBufferedShuffle>()?;
    m.add_class::<PyInterleave>()?;
    Ok(())
}
