#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod compare;
mod error;
mod local;
#[cfg(feature = "mpi")]
pub mod mpi;
mod partition;

pub use compare::{differing_ranks, RankDifference};
pub use error::{Error, Result};
pub use local::{Solo, ThreadRank, Threads};
pub use partition::MicroPartition;

use std::time::Duration;

/// How long a collective may wait for its peers before the job is stopped, unless a
/// backend is told otherwise: far above any step of the models here, far below "hung".
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The collective operations data-parallel training needs, over a fixed group of
/// `world` ranks numbered `0..world`.
///
/// Every rank calls the same operations in the same order (as MPI requires). Buffers
/// are bytes, so the layer knows nothing of tensors; the one arithmetic operation,
/// [`Self::all_reduce_sum_f32`], exists only for the fast mode, whose summation order
/// belongs to the backend and is therefore not part of any bitwise promise.
///
/// A backend never waits forever: an operation that cannot finish (a peer died or
/// hangs) ends with [`Error::PeerLost`] or [`Error::Timeout`], or, where the backend
/// cannot cancel it (MPI), stops the job with a message naming the operation.
///
/// ```
/// use lockstep_distributed::{Collective, Solo};
///
/// let solo = Solo;
/// let mut gathered = [0u8; 4];
/// solo.all_gather(&[1, 2, 3, 4], &mut gathered)?;
/// assert_eq!((solo.rank(), solo.world(), gathered), (0, 1, [1, 2, 3, 4]));
/// # Ok::<(), lockstep_distributed::Error>(())
/// ```
pub trait Collective: std::fmt::Debug + Send {
    /// This rank, in `0..world`.
    fn rank(&self) -> u32;

    /// The number of ranks.
    fn world(&self) -> u32;

    /// Every rank's `send` (all of one length), concatenated in rank order into `recv`,
    /// which must hold exactly `world * send.len()` bytes.
    fn all_gather(&self, send: &[u8], recv: &mut [u8]) -> Result<()>;

    /// `root`'s `buf` copied into every rank's `buf` (all of one length).
    fn broadcast(&self, root: u32, buf: &mut [u8]) -> Result<()>;

    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<()>;

    /// The element-wise sum of every rank's `buf`, in place. The order of the sum is
    /// the backend's (MPI's reduction tree): for the fast mode only.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()>;

    /// The backend and its version, for reports (`"MPICH 5.0.2"`, `"in-process"`).
    fn describe(&self) -> String;
}

/// Checks the all-gather contract: `recv` holds `world` copies of `send`'s length.
pub(crate) fn check_gather(world: u32, send: usize, recv: usize) -> Result<()> {
    let want = send
        .checked_mul(world as usize)
        .ok_or(Error::SizeMismatch {
            op: "all_gather",
            expected: usize::MAX,
            got: recv,
        })?;
    if want != recv {
        return Err(Error::SizeMismatch {
            op: "all_gather",
            expected: want,
            got: recv,
        });
    }
    Ok(())
}

/// Checks that `root` is a rank of `world`.
pub(crate) fn check_root(root: u32, world: u32) -> Result<()> {
    if root >= world {
        return Err(Error::InvalidRank { rank: root, world });
    }
    Ok(())
}
