//! The MPI backend (feature `mpi`), through rsmpi.
//!
//! Every operation is started non-blocking and polled against a deadline. MPI cannot
//! cancel a collective that a dead peer will never join, so when the deadline passes
//! the rank prints which operation it was waiting for and for how long, and stops the
//! whole job with `MPI_Abort` (exit code [`EXIT_TIMEOUT`]): a bounded stop with a
//! message, never a hang. A peer killed outright is usually noticed sooner: MPICH's
//! launcher (hydra) ends the other ranks of a job one of whose processes died, and
//! names the dead one.

use std::time::{Duration, Instant};

use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::request::{Request, Scope};
use mpi::topology::{Communicator, SimpleCommunicator};

use crate::error::{Error, Result};
use crate::{check_gather, check_root, Collective, DEFAULT_TIMEOUT};

/// The exit code of a rank that stopped the job because a collective timed out.
pub const EXIT_TIMEOUT: i32 = 75;

/// This process's rank in `MPI_COMM_WORLD`. Dropping it finalises MPI.
pub struct Mpi {
    // Field order: the communicator goes before the universe (MPI_Finalize).
    world: SimpleCommunicator,
    _universe: mpi::environment::Universe,
    rank: u32,
    size: u32,
    timeout: Duration,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank)
            .field("world", &self.size)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Mpi {
    /// Initialises MPI (once per process), waiting at most [`DEFAULT_TIMEOUT`] in any
    /// collective.
    pub fn init() -> Result<Self> {
        Self::with_timeout(DEFAULT_TIMEOUT)
    }

    /// Initialises MPI, waiting at most `timeout` in any collective.
    pub fn with_timeout(timeout: Duration) -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| Error::Init {
            reason: "MPI is already initialised in this process".into(),
        })?;
        let world = universe.world();
        let rank = u32::try_from(world.rank()).map_err(|_| Error::Init {
            reason: format!("MPI gave a negative rank {}", world.rank()),
        })?;
        let size = u32::try_from(world.size()).map_err(|_| Error::Init {
            reason: format!("MPI gave a world of {}", world.size()),
        })?;
        Ok(Self {
            world,
            _universe: universe,
            rank,
            size,
            timeout,
        })
    }

    /// Stops every rank of the job with `code` (`MPI_Abort`): for a rank that has hit
    /// an error its peers cannot know about, so that none of them waits for it.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// Polls `request` until it completes, or stops the job at the deadline.
    fn finish<'a, D: ?Sized, S: Scope<'a>>(&self, op: &str, mut request: Request<'a, D, S>) {
        let started = Instant::now();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(pending) => request = pending,
            }
            let waited = started.elapsed();
            if waited >= self.timeout {
                eprintln!(
                    "lockstep-distributed: rank {} of {}: {op} did not finish within {:?}: \
                     a peer rank died or hangs; stopping the job (MPI_Abort, exit code \
                     {EXIT_TIMEOUT})",
                    self.rank, self.size, self.timeout
                );
                self.world.abort(EXIT_TIMEOUT);
            }
            // Yield first (quick collectives, oversubscribed cores), then back off so
            // a rank waiting for a slow peer leaves it the CPU.
            if waited < Duration::from_millis(20) {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

/// MPI counts elements in an `int`.
fn count(op: &'static str, len: usize) -> Result<()> {
    if i32::try_from(len).is_err() {
        return Err(Error::SizeMismatch {
            op,
            expected: i32::MAX as usize,
            got: len,
        });
    }
    Ok(())
}

impl Collective for Mpi {
    fn rank(&self) -> u32 {
        self.rank
    }
    fn world(&self) -> u32 {
        self.size
    }
    fn all_gather(&self, send: &[u8], recv: &mut [u8]) -> Result<()> {
        check_gather(self.size, send.len(), recv.len())?;
        count("all_gather", recv.len())?;
        mpi::request::scope(|scope| {
            let request = self.world.immediate_all_gather_into(scope, send, recv);
            self.finish("all_gather", request);
        });
        Ok(())
    }
    fn broadcast(&self, root: u32, buf: &mut [u8]) -> Result<()> {
        check_root(root, self.size)?;
        count("broadcast", buf.len())?;
        // `root` < size, which MPI gave as an i32.
        let process = self.world.process_at_rank(root as i32);
        mpi::request::scope(|scope| {
            let request = process.immediate_broadcast_into(scope, buf);
            self.finish("broadcast", request);
        });
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        self.finish("barrier", self.world.immediate_barrier());
        Ok(())
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        count("all_reduce", buf.len())?;
        let send = buf.to_vec();
        mpi::request::scope(|scope| {
            let request =
                self.world
                    .immediate_all_reduce_into(scope, &send[..], buf, SystemOperation::sum());
            self.finish("all_reduce", request);
        });
        Ok(())
    }
    fn describe(&self) -> String {
        library_version()
    }
}

/// The MPI library's own version line (`MPI_Get_library_version`), first line only:
/// "MPICH Version:      5.0.2" and the like.
pub fn library_version() -> String {
    let text = mpi::environment::library_version().unwrap_or_else(|_| "unknown MPI".into());
    let first = text.lines().next().unwrap_or("unknown MPI");
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}
