//! The Python extension module `lockstep._lockstep` (re-exported as `lockstep`).
//!
//! Thin bindings over lockstep-seeding, -data, -augment and -postprocess: the same
//! values bit for bit, no behaviour of its own. Heavy calls release the GIL; batch
//! calls run on the Rust (rayon) thread pool. Every error of a Rust crate becomes a
//! Python exception (`lockstep.LockstepError` and its subclasses) naming what was
//! wrong; bad argument types are `TypeError`s naming the argument.
#![deny(missing_docs)]

mod arrays;
mod augment;
mod data;
mod errors;
mod postprocess;
mod seed;

use pyo3::prelude::*;

/// The module: classes and functions of every bound crate.
#[pymodule]
fn _lockstep(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    seed::register(m)?;
    data::register(m)?;
    augment::register(m)?;
    postprocess::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
