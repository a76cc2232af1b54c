//! `SeedTree`, `SeedRng` and the key levels (`RunKey`, `StepKey`, `EpochKey`,
//! `SampleKey`) of lockstep-seeding.

use lockstep_seeding::{EpochKey, RngCore, RunKey, SampleKey, SeedRng, SeedTree, StepKey};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors;

/// A node of the seed tree: a 256-bit key plus the path from the root.
///
/// Same keys and draws as `lockstep_seeding::SeedTree`, bit for bit. Immutable,
/// hashable (by key and path), picklable, and safe to share between threads.
#[pyclass(frozen, name = "SeedTree", module = "lockstep")]
#[derive(Clone, Debug)]
pub struct PySeedTree(pub SeedTree);

#[pymethods]
impl PySeedTree {
    /// The root of the tree for an integer seed in `[0, 2**64)`.
    #[staticmethod]
    fn from_int(seed: u64) -> Self {
        Self(SeedTree::from_u64(seed))
    }

    /// The root of the tree for 32 bytes of seed material.
    #[staticmethod]
    fn from_bytes(seed: &[u8]) -> PyResult<Self> {
        let bytes: [u8; 32] = seed
            .try_into()
            .map_err(|_| errors::arg("seed", format!("expected 32 bytes, got {}", seed.len())))?;
        Ok(Self(SeedTree::from_bytes(bytes)))
    }

    /// A node from its JSON form (`to_json`); the stored key is checked against the
    /// root and path.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        SeedTree::from_json(text)
            .map(Self)
            .map_err(|e| errors::seed("SeedTree.from_json", e))
    }

    /// The node's checked JSON form.
    fn to_json(&self) -> String {
        self.0.to_json()
    }

    /// The child named `label` (label `"42"` and index `42` give different keys).
    fn child(&self, label: &str) -> Self {
        Self(self.0.child(label))
    }

    /// The child numbered `i`.
    fn index(&self, i: u64) -> Self {
        Self(self.0.index(i))
    }

    /// `child(label).index(i)`, rendered `label[i]`.
    fn child_index(&self, label: &str, i: u64) -> Self {
        Self(self.0.child_index(label, i))
    }

    /// The node at `path` below this one (`"train/epoch[3]"`), or a full `root/…` path.
    fn descend(&self, path: &str) -> PyResult<Self> {
        self.0
            .descend(path)
            .map(Self)
            .map_err(|e| errors::seed("argument `path`", e))
    }

    /// The root node of this node's tree.
    fn root_node(&self) -> Self {
        Self(self.0.root_node())
    }

    /// The readable path, such as `root/train/epoch[3]/augment`.
    #[getter]
    fn path(&self) -> String {
        self.0.path()
    }

    /// The 32-byte key.
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.key())
    }

    /// The key in lower-case hex.
    #[getter]
    fn key_hex(&self) -> String {
        self.0.key_hex()
    }

    /// The number of steps from the root.
    #[getter]
    fn depth(&self) -> usize {
        self.0.depth()
    }

    /// The `i`-th 64-bit word of this node's stream, in O(1).
    fn u64_at(&self, i: u64) -> u64 {
        self.0.u64_at(i)
    }

    /// The `i`-th value as a float in `[0, 1)`: `(u64_at(i) >> 11) * 2**-53`.
    fn f64_at(&self, i: u64) -> f64 {
        self.0.f64_at(i)
    }

    /// The `i`-th value as a float32 in `[0, 1)` (returned as a Python float, exactly).
    fn f32_at(&self, i: u64) -> f32 {
        self.0.f32_at(i)
    }

    /// A fresh generator over this node's stream (ChaCha12 keyed by the node's key).
    fn rng(&self) -> PySeedRng {
        PySeedRng(self.0.rng())
    }

    /// The seed PyTorch gets for this node, as lockstep-nn's `torch_seed`: key bytes
    /// 0..8 little-endian, top bit cleared (63 bits, non-negative).
    fn torch_seed(&self) -> i64 {
        torch_seed(&self.0)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PySeedTree>()
            .is_ok_and(|o| o.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        let key = self.0.key();
        let mut head = [0u8; 8];
        head.copy_from_slice(&key[..8]);
        u64::from_le_bytes(head)
    }

    fn __str__(&self) -> String {
        self.0.path()
    }

    fn __repr__(&self) -> String {
        format!("SeedTree('{}')", self.0.path())
    }

    /// Pickles as its checked JSON form (so DataLoader workers may receive it).
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let ctor = py.get_type::<PySeedTree>().getattr("from_json")?;
        Ok((ctor, (self.0.to_json(),)))
    }
}

/// lockstep-nn's `torch_seed`: key bytes 0..8 little-endian, masked to 63 bits.
pub fn torch_seed(node: &SeedTree) -> i64 {
    let key = node.key();
    let mut head = [0u8; 8];
    head.copy_from_slice(&key[..8]);
    // The mask leaves 63 bits, which always fit an i64.
    (u64::from_le_bytes(head) & (u64::MAX >> 1)) as i64
}

/// A generator over one node's stream, with lockstep-seeding's pinned recipes.
#[pyclass(name = "SeedRng", module = "lockstep")]
#[derive(Debug)]
pub struct PySeedRng(SeedRng);

#[pymethods]
impl PySeedRng {
    /// The next 64-bit word.
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// The next `n` words as a list.
    fn fill_u64(&mut self, n: usize) -> Vec<u64> {
        let mut out = vec![0u64; n];
        self.0.fill_u64(&mut out);
        out
    }

    /// How many words were drawn since the start of the stream.
    #[getter]
    fn position(&self) -> u128 {
        self.0.position()
    }

    /// A float in `[0, 1)` from one word.
    fn unit_f64(&mut self) -> f64 {
        self.0.unit_f64()
    }

    /// A float32 in `[0, 1)` from one word.
    fn unit_f32(&mut self) -> f32 {
        self.0.unit_f32()
    }

    /// A uniform integer in `[0, n)` (Lemire's unbiased recipe); `n = 0` is an error.
    fn below(&mut self, n: u64) -> PyResult<u64> {
        self.0
            .try_below(n)
            .map_err(|e| errors::seed("argument `n`", e))
    }

    /// `True` with probability `p` (one draw).
    fn bernoulli(&mut self, p: f64) -> PyResult<bool> {
        self.0
            .bernoulli(p)
            .map_err(|e| errors::seed("argument `p`", e))
    }

    /// A uniform float in `[low, high)` (one draw).
    fn uniform_f64(&mut self, low: f64, high: f64) -> PyResult<f64> {
        self.0
            .uniform_f64(low, high)
            .map_err(|e| errors::seed("arguments `low`, `high`", e))
    }

    /// A uniform float32 in `[low, high)` (one draw).
    fn uniform_f32(&mut self, low: f32, high: f32) -> PyResult<f32> {
        self.0
            .uniform_f32(low, high)
            .map_err(|e| errors::seed("arguments `low`, `high`", e))
    }

    /// A standard normal by Box–Muller with portable libm (two draws).
    fn normal_f64(&mut self) -> f64 {
        self.0.normal_f64()
    }

    /// `mean + std * normal_f64()` (two draws).
    fn normal(&mut self, mean: f64, std: f64) -> PyResult<f64> {
        self.0
            .normal(mean, std)
            .map_err(|e| errors::seed("arguments `mean`, `std`", e))
    }
}

/// A run's key `<run>`: `init()` is `<run>/init`, `step(k)` is `<run>/step[k]`.
#[pyclass(frozen, name = "RunKey", module = "lockstep")]
#[derive(Debug)]
pub struct PyRunKey(RunKey);

#[pymethods]
impl PyRunKey {
    #[new]
    fn new(node: &PySeedTree) -> Self {
        Self(RunKey::new(node.0.clone()))
    }

    /// `<run>/init`: the key of weight initialisation.
    fn init(&self) -> PySeedTree {
        PySeedTree(self.0.init())
    }

    /// `<run>/step[k]`: the key of optimizer step `k`.
    fn step(&self, k: u64) -> PyStepKey {
        PyStepKey(self.0.step(k))
    }

    /// The run's node.
    #[getter]
    fn node(&self) -> PySeedTree {
        PySeedTree(self.0.node().clone())
    }

    fn __repr__(&self) -> String {
        format!("RunKey('{}')", self.0.node().path())
    }
}

/// An optimizer step's key `<run>/step[k]`.
#[pyclass(frozen, name = "StepKey", module = "lockstep")]
#[derive(Debug)]
pub struct PyStepKey(StepKey);

#[pymethods]
impl PyStepKey {
    /// The step's node.
    #[getter]
    fn node(&self) -> PySeedTree {
        PySeedTree(self.0.node().clone())
    }

    /// The seed PyTorch gets for this step (see `SeedTree.torch_seed`).
    fn torch_seed(&self) -> i64 {
        torch_seed(self.0.node())
    }

    fn __repr__(&self) -> String {
        format!("StepKey('{}')", self.0.node().path())
    }
}

/// An epoch's key `<data>/epoch[e]`; `sample(i)` is `…/epoch[e]/sample[i]`.
#[pyclass(frozen, name = "EpochKey", module = "lockstep")]
#[derive(Debug)]
pub struct PyEpochKey(pub EpochKey);

#[pymethods]
impl PyEpochKey {
    #[new]
    fn new(data: &PySeedTree, epoch: u64) -> Self {
        Self(EpochKey::new(&data.0, epoch))
    }

    /// The key of dataset item `index` in this epoch.
    fn sample(&self, index: u64) -> PySampleKey {
        PySampleKey(self.0.sample(index))
    }

    /// The epoch's node.
    #[getter]
    fn node(&self) -> PySeedTree {
        PySeedTree(self.0.node().clone())
    }

    fn __repr__(&self) -> String {
        format!("EpochKey('{}')", self.0.node().path())
    }
}

/// A sample's key `<data>/epoch[e]/sample[i]`: what `Compose.apply` takes.
#[pyclass(frozen, name = "SampleKey", module = "lockstep")]
#[derive(Clone, Debug)]
pub struct PySampleKey(pub SampleKey);

#[pymethods]
impl PySampleKey {
    /// `…/sample[i]/augment`, the node a pipeline draws under.
    fn augment(&self) -> PySeedTree {
        PySeedTree(self.0.augment())
    }

    /// The sample's node.
    #[getter]
    fn node(&self) -> PySeedTree {
        PySeedTree(self.0.node().clone())
    }

    fn __repr__(&self) -> String {
        format!("SampleKey('{}')", self.0.node().path())
    }

    /// Pickles as `EpochKey`-free JSON of its node, re-checked on load.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let ctor = py
            .import("lockstep._lockstep")?
            .getattr("_sample_key_from_json")?;
        Ok((ctor, (self.0.node().to_json(),)))
    }
}

/// Rebuilds a `SampleKey` from its node's JSON: the node must end in
/// `epoch[e]/sample[i]`, and is rebuilt through `EpochKey` so it is one.
#[pyfunction]
pub fn _sample_key_from_json(text: &str) -> PyResult<PySampleKey> {
    let node = SeedTree::from_json(text).map_err(|e| errors::seed("SampleKey", e))?;
    let segments = node.segments();
    use lockstep_seeding::Segment;
    let n = segments.len();
    let shape = (n >= 4).then(|| {
        (
            &segments[n - 4],
            &segments[n - 3],
            &segments[n - 2],
            &segments[n - 1],
        )
    });
    match shape {
        Some((Segment::Label(e), Segment::Index(epoch), Segment::Label(s), Segment::Index(i)))
            if &**e == "epoch" && &**s == "sample" =>
        {
            let data = node.root_node().follow(&segments[..n - 4]);
            Ok(PySampleKey(EpochKey::new(&data, *epoch).sample(*i)))
        }
        _ => Err(errors::arg(
            "text",
            format!("`{}` is not a sample's key", node.path()),
        )),
    }
}

/// Registers this module's classes.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySeedTree>()?;
    m.add_class::<PySeedRng>()?;
    m.add_class::<PyRunKey>()?;
    m.add_class::<PyStepKey>()?;
    m.add_class::<PyEpochKey>()?;
    m.add_class::<PySampleKey>()?;
    m.add_function(wrap_pyfunction!(_sample_key_from_json, m)?)?;
    Ok(())
}
