//! The collective layer's errors.

use std::time::Duration;

/// What went wrong in a collective operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A buffer has the wrong length for the operation.
    #[error("{op}: the receive buffer holds {got} bytes, {expected} expected")]
    SizeMismatch {
        /// The operation.
        op: &'static str,
        /// The length the contract asks for.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A rank outside `0..world` was named.
    #[error("rank {rank} is not in a world of {world}")]
    InvalidRank {
        /// The rank named.
        rank: u32,
        /// The world size.
        world: u32,
    },
    /// A micro-batch partition that cannot be made.
    #[error("cannot split {micro_batches} micro-batches over {world} ranks: {reason}")]
    InvalidPartition {
        /// Micro-batches per step.
        micro_batches: u64,
        /// The world size.
        world: u32,
        /// Why not.
        reason: &'static str,
    },
    /// A peer left the group (its thread ended or its process died) during `op`.
    #[error("rank {rank}: {op} cannot finish: rank {peer} has left the group")]
    PeerLost {
        /// The operation.
        op: &'static str,
        /// This rank.
        rank: u32,
        /// The rank that left (the lowest one, if several did).
        peer: u32,
    },
    /// `op` did not finish within `timeout`: a peer died, hangs, or is far behind.
    #[error("rank {rank}: {op} did not finish within {timeout:?}: a peer rank died or hangs")]
    Timeout {
        /// The operation.
        op: &'static str,
        /// This rank.
        rank: u32,
        /// How long it waited.
        timeout: Duration,
    },
    /// The MPI library could not be started.
    #[error("MPI could not be initialised: {reason}")]
    Init {
        /// Why.
        reason: String,
    },
}

/// The collective layer's result.
pub type Result<T> = std::result::Result<T, Error>;
