//! Trace mode and the divergence locator.
//!
//! A trace is a JSON-lines file: one [`TraceRecord`] per tensor, in the order training
//! produced them. For each step: the batch (`inputs`, `targets`), each module's forward
//! output, the loss, each gradient (in parameter-name order) and each parameter after
//! the update. [`compare`] walks two traces in step and names the first record that
//! differs.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::fingerprint::{kind_name, tensor_fingerprint, Fingerprint};

/// Where in a step a tensor was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Phase {
    /// The batch the step trained on.
    Batch,
    /// A module's forward output.
    Forward,
    /// The loss.
    Loss,
    /// A parameter's gradient.
    Backward,
    /// A parameter after the optimizer's update.
    Update,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Batch => "batch",
            Self::Forward => "forward",
            Self::Loss => "loss",
            Self::Backward => "backward",
            Self::Update => "update",
        };
        f.write_str(s)
    }
}

/// One traced tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// The training step.
    pub step: u64,
    /// Where in the step.
    pub phase: Phase,
    /// The module (`block3`, `block3.conv` for a parameter), empty for the batch and loss.
    pub module: String,
    /// The tensor (`output`, `weight`, `inputs`, `loss`, …).
    pub tensor: String,
    /// The dtype name.
    pub dtype: String,
    /// The shape.
    pub shape: Vec<i64>,
    /// The fingerprint.
    pub fp: Fingerprint,
    /// The values as `f64` (exact for floats up to 64 bits and integers up to 2^53), kept for
    /// tensors of at most [`TraceOptions::keep_values_up_to`] elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
}

/// What trace mode keeps: [`Default`] keeps values of tensors up to 256 elements.
///
/// ```
/// let options = lockstep_nn::TraceOptions::default().with_keep_values_up_to(0);
/// assert_eq!(options.keep_values_up_to, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TraceOptions {
    /// Keep the values of tensors with at most this many elements (0: none), so
    /// [`compare`] can report a max abs difference for them.
    pub keep_values_up_to: u64,
}

impl TraceOptions {
    /// Sets [`Self::keep_values_up_to`].
    pub fn with_keep_values_up_to(mut self, elements: u64) -> Self {
        self.keep_values_up_to = elements;
        self
    }

    /// Checks the values (every value is valid; here for the one config style).
    pub fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl Default for TraceOptions {
    fn default() -> Self {
        Self {
            keep_values_up_to: 256,
        }
    }
}

/// Writes trace records to a JSON-lines file.
#[derive(Debug)]
pub struct TraceWriter {
    path: PathBuf,
    out: BufWriter<File>,
    options: TraceOptions,
}

/// Splits a parameter name `a.b.weight` into module `a.b` and tensor `weight`.
pub fn split_param(name: &str) -> (&str, &str) {
    name.rsplit_once('.').unwrap_or(("", name))
}

impl TraceWriter {
    /// Creates (truncates) the trace file at `path`.
    pub fn create(path: &Path, options: TraceOptions) -> Result<Self> {
        let file = File::create(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            options,
        })
    }

    /// Records one tensor.
    pub fn record(
        &mut self,
        step: u64,
        phase: Phase,
        module: &str,
        tensor: &str,
        t: &Tensor,
    ) -> Result<()> {
        let numel = t.numel() as u64;
        let values = if numel <= self.options.keep_values_up_to {
            let flat = t
                .f_detach()?
                .f_to_device(Device::Cpu)?
                .f_to_kind(Kind::Double)?
                .f_contiguous()?
                .f_view([-1])?;
            Some(Vec::<f64>::try_from(&flat)?)
        } else {
            None
        };
        let rec = TraceRecord {
            step,
            phase,
            module: module.to_string(),
            tensor: tensor.to_string(),
            dtype: kind_name(t.f_kind()?).to_string(),
            shape: t.size(),
            fp: tensor_fingerprint(t)?,
            values,
        };
        let line = serde_json::to_string(&rec).map_err(|e| Error::BadTrace {
            path: self.path.clone(),
            line: 0,
            reason: e.to_string(),
        })?;
        writeln!(self.out, "{line}").map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes buffered records to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Reads a trace file.
pub fn read_trace(path: &Path) -> Result<Vec<TraceRecord>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let rec = serde_json::from_str(&line).map_err(|e| Error::BadTrace {
            path: path.to_path_buf(),
            line: i as u64 + 1,
            reason: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// The first place two traces differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The record index (0-based) in both traces.
    pub index: u64,
    /// The step.
    pub step: u64,
    /// The phase.
    pub phase: Phase,
    /// The module.
    pub module: String,
    /// The tensor.
    pub tensor: String,
    /// What differs.
    pub what: Difference,
    /// The fingerprint in trace A, if it has this record.
    pub a: Option<Fingerprint>,
    /// The fingerprint in trace B, if it has this record.
    pub b: Option<Fingerprint>,
    /// The largest absolute difference, where both traces kept the values.
    pub max_abs_diff: Option<f64>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "first divergence at step {}, phase {}",
            self.step, self.phase
        )?;
        if !self.module.is_empty() {
            write!(f, ", module `{}`", self.module)?;
        }
        write!(f, ", tensor `{}`: {} differ", self.tensor, self.what)?;
        if let Some(d) = self.max_abs_diff {
            write!(f, " (max abs diff {d:e})")?;
        }
        Ok(())
    }
}

/// What differs at a [`Divergence`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Difference {
    /// The tensor's values (its fingerprint).
    Values,
    /// Its shape.
    Shape,
    /// Its dtype.
    Dtype,
    /// The traces recorded different tensors here (step, phase, module or name).
    Record,
    /// One trace ends here.
    Length,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Values => "values",
            Self::Shape => "shape",
            Self::Dtype => "dtype",
            Self::Record => "record",
            Self::Length => "length",
        })
    }
}

fn divergence(
    index: usize,
    r: &TraceRecord,
    what: Difference,
    a: Option<&TraceRecord>,
    b: Option<&TraceRecord>,
) -> Divergence {
    let max_abs_diff = match (
        a.and_then(|a| a.values.as_ref()),
        b.and_then(|b| b.values.as_ref()),
    ) {
        (Some(x), Some(y)) if x.len() == y.len() => Some(
            x.iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f64::max),
        ),
        _ => None,
    };
    Divergence {
        index: index as u64,
        step: r.step,
        phase: r.phase,
        module: r.module.clone(),
        tensor: r.tensor.clone(),
        what,
        a: a.map(|r| r.fp),
        b: b.map(|r| r.fp),
        max_abs_diff,
    }
}

/// The first record at which `a` and `b` differ, or `None` when they are identical.
pub fn compare_records(a: &[TraceRecord], b: &[TraceRecord]) -> Option<Divergence> {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let same_place =
            x.step == y.step && x.phase == y.phase && x.module == y.module && x.tensor == y.tensor;
        if !same_place {
            return Some(divergence(i, x, Difference::Record, Some(x), Some(y)));
        }
        if x.dtype != y.dtype {
            return Some(divergence(i, x, Difference::Dtype, Some(x), Some(y)));
        }
        if x.shape != y.shape {
            return Some(divergence(i, x, Difference::Shape, Some(x), Some(y)));
        }
        if x.fp != y.fp {
            return Some(divergence(i, x, Difference::Values, Some(x), Some(y)));
        }
    }
    let n = a.len().min(b.len());
    match (a.get(n), b.get(n)) {
        (Some(x), None) => Some(divergence(n, x, Difference::Length, Some(x), None)),
        (None, Some(y)) => Some(divergence(n, y, Difference::Length, None, Some(y))),
        _ => None,
    }
}

/// Reads two trace files and names their first divergence.
pub fn compare(a: &Path, b: &Path) -> Result<Option<Divergence>> {
    Ok(compare_records(&read_trace(a)?, &read_trace(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(step: u64, phase: Phase, tensor: &str, v: f32) -> TraceRecord {
        let t = Tensor::from_slice(&[v, 1.0]);
        TraceRecord {
            step,
            phase,
            module: "m".into(),
            tensor: tensor.into(),
            dtype: "f32".into(),
            shape: vec![2],
            fp: tensor_fingerprint(&t).unwrap(),
            values: Some(vec![f64::from(v), 1.0]),
        }
    }

    #[test]
    fn compare_names_the_first_difference() {
        let a = vec![
            rec(0, Phase::Batch, "inputs", 1.0),
            rec(0, Phase::Forward, "output", 2.0),
            rec(1, Phase::Loss, "loss", 3.0),
        ];
        let mut b = a.clone();
        assert_eq!(compare_records(&a, &b), None);
        b[1] = rec(0, Phase::Forward, "output", 2.5);
        b[2] = rec(1, Phase::Loss, "loss", 9.0);
        let d = compare_records(&a, &b).unwrap();
        assert_eq!(
            (d.index, d.step, d.phase, d.tensor.as_str(), d.what),
            (1, 0, Phase::Forward, "output", Difference::Values)
        );
        assert_eq!(d.max_abs_diff, Some(0.5));
        assert!(d
            .to_string()
            .contains("step 0, phase forward, module `m`, tensor `output`"));
        let short = &a[..2];
        let d = compare_records(&a, short).unwrap();
        assert_eq!((d.index, d.what, d.b), (2, Difference::Length, None));
    }

    #[test]
    fn split_param_names() {
        assert_eq!(split_param("block1.conv.weight"), ("block1.conv", "weight"));
        assert_eq!(split_param("w"), ("", "w"));
    }
}
