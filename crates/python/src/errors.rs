//! The module's exceptions, and the conversion of each crate's error into one.
//!
//! Every error of a Rust crate arrives as a subclass of `lockstep.LockstepError`
//! (itself a `ValueError`), named after the crate, with the Rust error's message. Bad
//! argument types and shapes are `TypeError`/`ValueError` naming the argument.

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _lockstep,
    LockstepError,
    PyValueError,
    "Base class of every error raised by the Rust crates."
);
create_exception!(
    _lockstep,
    SeedError,
    LockstepError,
    "An error of lockstep-seeding (bad path, bad range, bad serialized node)."
);
create_exception!(
    _lockstep,
    DataError,
    LockstepError,
    "An error of lockstep-data (bad length, rank, state or buffer size)."
);
create_exception!(
    _lockstep,
    AugmentError,
    LockstepError,
    "An error of lockstep-augment (bad op configuration, image, box or parameters)."
);
create_exception!(
    _lockstep,
    PostprocessError,
    LockstepError,
    "An error of lockstep-postprocess (bad threshold, box, score or evaluation input)."
);

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LockstepError", py.get_type::<LockstepError>())?;
    m.add("SeedError", py.get_type::<SeedError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("AugmentError", py.get_type::<AugmentError>())?;
    m.add("PostprocessError", py.get_type::<PostprocessError>())?;
    Ok(())
}

/// `SeedError` for a seeding error, prefixed with what was being done.
pub fn seed(what: &str, e: lockstep_seeding::Error) -> PyErr {
    SeedError::new_err(format!("{what}: {e}"))
}

/// `DataError` for a data error, prefixed with what was being done.
pub fn data(what: &str, e: lockstep_data::Error) -> PyErr {
    DataError::new_err(format!("{what}: {e}"))
}

/// `AugmentError` for an augment error, prefixed with what was being done.
pub fn augment(what: &str, e: lockstep_augment::Error) -> PyErr {
    AugmentError::new_err(format!("{what}: {e}"))
}

/// `PostprocessError` for a postprocess error, prefixed with what was being done.
pub fn postprocess(what: &str, e: lockstep_postprocess::Error) -> PyErr {
    PostprocessError::new_err(format!("{what}: {e}"))
}

/// `ValueError` naming the argument.
pub fn arg(name: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("argument `{name}`: {message}"))
}

/// `TypeError` naming the argument.
pub fn arg_type(name: &str, message: impl std::fmt::Display) -> PyErr {
    PyTypeError::new_err(format!("argument `{name}`: {message}"))
}
