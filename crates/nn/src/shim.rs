//! The FFI to `shim/determinism.cpp`: the only `unsafe` code in lockstep.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_long, CStr};

use crate::error::{Error, Result};

/// The settings as the C++ side reads them back (see `lockstep_determinism_state`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RawState {
    pub deterministic_algorithms: c_int,
    pub deterministic_warn_only: c_int,
    pub cudnn_deterministic: c_int,
    pub cudnn_benchmark: c_int,
    pub allow_tf32_cublas: c_int,
    pub allow_tf32_cudnn: c_int,
    pub allow_tf32_onednn: c_int,
    pub mkldnn_deterministic: c_int,
    pub fill_uninitialized_memory: c_int,
    pub intra_op_threads: c_int,
    pub has_cuda: c_int,
    pub cuda_devices: c_int,
    pub cuda_started: c_int,
    pub cudart_version: c_long,
    pub cudnn_version: c_long,
}

extern "C" {
    fn lockstep_apply_determinism(
        mode: c_int,
        intra_op_threads: c_int,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn lockstep_read_determinism(out: *mut RawState, err: *mut c_char, err_len: usize) -> c_int;
    fn lockstep_torch_version() -> *const c_char;
    fn lockstep_cpu_capability(buf: *mut c_char, len: usize) -> c_int;
}

const ERR_LEN: usize = 1024;

fn message(buf: &[u8]) -> String {
    CStr::from_bytes_until_nul(buf)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "libtorch reported an error without a message".into())
}

/// Applies the settings of `mode` (0 defaults, 1 strict, 2 warn-only) and, when
/// `threads > 0`, the intra-op thread count.
pub(crate) fn apply(mode: i32, threads: i32) -> Result<()> {
    let mut err = [0u8; ERR_LEN];
    // SAFETY: the buffer is writable for ERR_LEN bytes and the C++ side writes at most
    // err_len bytes, NUL-terminated; it catches every exception.
    let status =
        unsafe { lockstep_apply_determinism(mode, threads, err.as_mut_ptr().cast(), ERR_LEN) };
    if status != 0 {
        return Err(Error::Libtorch {
            during: "applying the determinism settings",
            message: message(&err),
        });
    }
    Ok(())
}

/// Reads the settings back from libtorch.
pub(crate) fn read() -> Result<RawState> {
    let mut state = RawState::default();
    let mut err = [0u8; ERR_LEN];
    // SAFETY: `state` is a valid, writable `#[repr(C)]` mirror of the C struct, and the
    // error buffer is as in `apply`.
    let status = unsafe { lockstep_read_determinism(&mut state, err.as_mut_ptr().cast(), ERR_LEN) };
    if status != 0 {
        return Err(Error::Libtorch {
            during: "reading the determinism settings back",
            message: message(&err),
        });
    }
    Ok(state)
}

/// The libtorch version the shim was compiled against, such as `2.11.0`.
pub(crate) fn torch_version() -> String {
    // SAFETY: the C++ side returns a pointer to a static, NUL-terminated string literal.
    unsafe { CStr::from_ptr(lockstep_torch_version()) }
        .to_string_lossy()
        .into_owned()
}

/// libtorch's name for its CPU dispatch level, such as `AVX2`.
pub(crate) fn cpu_capability() -> Result<String> {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is writable for its length; the C++ side writes at most that
    // many bytes, NUL-terminated, and catches every exception.
    let status = unsafe { lockstep_cpu_capability(buf.as_mut_ptr().cast(), buf.len()) };
    if status != 0 {
        return Err(Error::Libtorch {
            during: "reading the CPU dispatch level",
            message: message(&buf),
        });
    }
    Ok(message(&buf))
}
