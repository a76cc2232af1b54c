//! In-process backends: [`Solo`] (a world of one) and [`Threads`] (a world of threads
//! in one process, for tests of the world-size invariance without MPI).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::{check_gather, check_root, Collective, DEFAULT_TIMEOUT};

/// A world of one rank: every collective is a copy. Training through it at `M`
/// micro-batches is gradient accumulation, with the same bits as any world dividing
/// `M`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> u32 {
        0
    }
    fn world(&self) -> u32 {
        1
    }
    fn all_gather(&self, send: &[u8], recv: &mut [u8]) -> Result<()> {
        check_gather(1, send.len(), recv.len())?;
        recv.copy_from_slice(send);
        Ok(())
    }
    fn broadcast(&self, root: u32, _buf: &mut [u8]) -> Result<()> {
        check_root(root, 1)
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
    fn all_reduce_sum_f32(&self, _buf: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "in-process (one rank)".into()
    }
}

#[derive(Debug)]
struct State {
    slots: Vec<Vec<u8>>,
    arrived: u32,
    generation: u64,
    /// The lowest rank that has left the group.
    left: Option<u32>,
}

#[derive(Debug)]
struct Shared {
    world: u32,
    timeout: Duration,
    state: Mutex<State>,
    turn: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a rank panicked mid-operation; its slot data is plain
        // bytes, and the panicking rank's drop marks it as gone, so go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A group of `world` ranks in one process, one [`ThreadRank`] per thread. The
/// operations are exact copies in rank order (the all-reduce sums in rank order), so
/// it stands in for MPI in tests. A rank that is dropped leaves the group: the others'
/// next operation fails with [`Error::PeerLost`] instead of waiting.
///
/// ```
/// use lockstep_distributed::{Collective, Threads};
///
/// let ranks = Threads::group(2)?;
/// let gathered: Vec<Vec<u8>> = std::thread::scope(|s| {
///     let handles: Vec<_> = ranks
///         .into_iter()
///         .map(|r| s.spawn(move || {
///             let mut out = [0u8; 2];
///             r.all_gather(&[r.rank() as u8], &mut out).map(|()| out.to_vec())
///         }))
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
/// });
/// assert_eq!(gathered, [vec![0, 1], vec![0, 1]]);
/// # Ok::<(), lockstep_distributed::Error>(())
/// ```
#[derive(Debug)]
pub struct Threads;

impl Threads {
    /// `world` ranks, waiting at most [`DEFAULT_TIMEOUT`] for each other.
    pub fn group(world: u32) -> Result<Vec<ThreadRank>> {
        Self::group_with_timeout(world, DEFAULT_TIMEOUT)
    }

    /// `world` ranks, waiting at most `timeout` for each other.
    pub fn group_with_timeout(world: u32, timeout: Duration) -> Result<Vec<ThreadRank>> {
        if world == 0 {
            return Err(Error::InvalidRank { rank: 0, world });
        }
        let shared = Arc::new(Shared {
            world,
            timeout,
            state: Mutex::new(State {
                slots: vec![Vec::new(); world as usize],
                arrived: 0,
                generation: 0,
                left: None,
            }),
            turn: Condvar::new(),
        });
        Ok((0..world)
            .map(|rank| ThreadRank {
                rank,
                shared: Arc::clone(&shared),
            })
            .collect())
    }
}

/// One rank of a [`Threads`] group.
#[derive(Debug)]
pub struct ThreadRank {
    rank: u32,
    shared: Arc<Shared>,
}

impl ThreadRank {
    /// Waits until every rank has arrived (a barrier that gives up).
    fn rendezvous<'a>(
        &'a self,
        op: &'static str,
        mut state: MutexGuard<'a, State>,
    ) -> Result<MutexGuard<'a, State>> {
        let shared = &*self.shared;
        let generation = state.generation;
        state.arrived += 1;
        if state.arrived == shared.world {
            state.arrived = 0;
            state.generation += 1;
            shared.turn.notify_all();
            return Ok(state);
        }
        let deadline = Instant::now() + shared.timeout;
        loop {
            if state.generation != generation {
                return Ok(state);
            }
            if let Some(peer) = state.left {
                return Err(Error::PeerLost {
                    op,
                    rank: self.rank,
                    peer,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    op,
                    rank: self.rank,
                    timeout: shared.timeout,
                });
            }
            state = shared
                .turn
                .wait_timeout(state, deadline - now)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Puts `send` in this rank's slot, waits for all, reads with `read`, waits again
    /// (so no slot is overwritten before everyone has read it).
    fn exchange(&self, op: &'static str, send: &[u8], read: impl FnOnce(&[Vec<u8>])) -> Result<()> {
        let mut state = self.shared.lock();
        state.slots[self.rank as usize] = send.to_vec();
        let state = self.rendezvous(op, state)?;
        read(&state.slots);
        self.rendezvous(op, state).map(drop)
    }
}

impl Drop for ThreadRank {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.left = Some(state.left.map_or(self.rank, |l| l.min(self.rank)));
        self.shared.turn.notify_all();
    }
}

impl Collective for ThreadRank {
    fn rank(&self) -> u32 {
        self.rank
    }
    fn world(&self) -> u32 {
        self.shared.world
    }
    fn all_gather(&self, send: &[u8], recv: &mut [u8]) -> Result<()> {
        check_gather(self.shared.world, send.len(), recv.len())?;
        let mut sizes_ok = true;
        self.exchange("all_gather", send, |slots| {
            sizes_ok = slots.iter().all(|s| s.len() == send.len());
            if sizes_ok {
                for (chunk, slot) in recv.chunks_exact_mut(send.len().max(1)).zip(slots) {
                    chunk.copy_from_slice(slot);
                }
            }
        })?;
        if !sizes_ok {
            return Err(Error::SizeMismatch {
                op: "all_gather (ranks sent different lengths)",
                expected: recv.len(),
                got: send.len(),
            });
        }
        Ok(())
    }
    fn broadcast(&self, root: u32, buf: &mut [u8]) -> Result<()> {
        check_root(root, self.shared.world)?;
        let send = if root == self.rank {
            buf.to_vec()
        } else {
            Vec::new()
        };
        let mut got = None;
        self.exchange("broadcast", &send, |slots| {
            got = Some(slots[root as usize].clone());
        })?;
        let got = got.unwrap_or_default();
        if got.len() != buf.len() {
            return Err(Error::SizeMismatch {
                op: "broadcast",
                expected: buf.len(),
                got: got.len(),
            });
        }
        buf.copy_from_slice(&got);
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        self.exchange("barrier", &[], |_| {})
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        let send: Vec<u8> = buf.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut recv = vec![0u8; send.len() * self.shared.world as usize];
        self.all_gather(&send, &mut recv)?;
        for (i, v) in buf.iter_mut().enumerate() {
            let mut acc = 0f32;
            for r in 0..self.shared.world as usize {
                let at = r * send.len() + 4 * i;
                let mut b = [0u8; 4];
                b.copy_from_slice(&recv[at..at + 4]);
                acc = if r == 0 {
                    f32::from_le_bytes(b)
                } else {
                    acc + f32::from_le_bytes(b)
                };
            }
            *v = acc;
        }
        Ok(())
    }
    fn describe(&self) -> String {
        format!("in-process ({} threads)", self.shared.world)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_threads<T: Send>(ranks: Vec<ThreadRank>, f: impl Fn(ThreadRank) -> T + Sync) -> Vec<T> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ranks.into_iter().map(|r| s.spawn(|| f(r))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn gather_broadcast_reduce_in_rank_order() {
        let out = on_threads(Threads::group(3).unwrap(), |r| {
            let mut g = [0u8; 6];
            r.all_gather(&[r.rank() as u8, 9], &mut g).unwrap();
            let mut b = [r.rank() as u8; 2];
            r.broadcast(2, &mut b).unwrap();
            let mut s = [r.rank() as f32 + 0.5];
            r.all_reduce_sum_f32(&mut s).unwrap();
            r.barrier().unwrap();
            (g, b, s[0])
        });
        for (g, b, s) in out {
            assert_eq!(g, [0, 9, 1, 9, 2, 9]);
            assert_eq!(b, [2, 2]);
            assert_eq!(s, 4.5);
        }
    }

    #[test]
    fn a_rank_that_leaves_makes_the_others_fail_not_hang() {
        let out = on_threads(Threads::group(2).unwrap(), |r| {
            if r.rank() == 1 {
                drop(r);
                return None;
            }
            Some(r.barrier())
        });
        match &out[0] {
            Some(Err(Error::PeerLost {
                rank: 0, peer: 1, ..
            })) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rank_that_never_arrives_times_out() {
        let mut ranks = Threads::group_with_timeout(2, Duration::from_millis(50)).unwrap();
        let _absent = ranks.pop();
        let r0 = ranks.pop().unwrap();
        assert!(matches!(r0.barrier(), Err(Error::Timeout { rank: 0, .. })));
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert!(matches!(
            Solo.all_gather(&[1, 2], &mut [0; 3]),
            Err(Error::SizeMismatch {
                expected: 2,
                got: 3,
                ..
            })
        ));
        assert!(Solo.broadcast(1, &mut []).is_err());
    }
}
