//! [`Interleave`]: tf.data's `interleave(f, cycle_length, block_length)`, with both
//! lengths explicit.
//!
//! The turn order, from TF's documented semantics and examples:
//! - There are `cycle_length` slots, visited round-robin starting at slot 0.
//! - On its turn, an empty slot opens the next unopened input (when inputs are left)
//!   and reads from it in the same turn; when no inputs are left, the turn passes on.
//! - A turn outputs up to `block_length` consecutive items of the slot's input. When
//!   the input runs out during its turn (also at once, for an empty input), the slot is
//!   emptied and the turn passes to the next slot; the emptied slot opens the next
//!   input on its next turn.
//! - Iteration ends when all inputs are opened and all slots are empty.
//!
//! `cycle_length = 1` is `flat_map`. [`interleave_parallel`] opens inputs on rayon
//! threads and gives exactly the sequential order.

use std::collections::VecDeque;

use rayon::prelude::*;

use crate::error::{to_usize, Error, Result};

/// The largest accepted `cycle_length`: one slot is allocated per cycle position.
pub const MAX_CYCLE_LENGTH: u64 = 1 << 20;

/// The interleaving of the inputs of `O`; see the module documentation.
#[derive(Debug)]
pub struct Interleave<O, S>
where
    O: Iterator<Item = S>,
    S: IntoIterator,
{
    inputs: O,
    slots: Vec<Option<S::IntoIter>>,
    block_length: u64,
    cycle_index: usize,
    block_index: u64,
    end_of_input: bool,
    open: usize,
}

impl<O, S> Interleave<O, S>
where
    O: Iterator<Item = S>,
    S: IntoIterator,
{
    /// Interleaves `inputs` with `cycle_length` slots and blocks of `block_length`.
    ///
    /// Errors: [`Error::Zero`] for a zero length; [`Error::TooLarge`] for
    /// `cycle_length > MAX_CYCLE_LENGTH`.
    pub fn new(
        inputs: impl IntoIterator<IntoIter = O>,
        cycle_length: u64,
        block_length: u64,
    ) -> Result<Self> {
        if cycle_length == 0 {
            return Err(Error::Zero {
                what: "cycle length",
            });
        }
        if block_length == 0 {
            return Err(Error::Zero {
                what: "block length",
            });
        }
        if cycle_length > MAX_CYCLE_LENGTH {
            return Err(Error::TooLarge {
                what: "cycle length",
                value: cycle_length,
                max: MAX_CYCLE_LENGTH,
            });
        }
        let cycle = to_usize("cycle length", cycle_length)?;
        Ok(Self {
            inputs: inputs.into_iter(),
            slots: (0..cycle).map(|_| None).collect(),
            block_length,
            cycle_index: 0,
            block_index: 0,
            end_of_input: false,
            open: 0,
        })
    }

    fn next_turn(&mut self) {
        self.block_index = 0;
        self.cycle_index = (self.cycle_index + 1) % self.slots.len();
    }
}

impl<O, S> Iterator for Interleave<O, S>
where
    O: Iterator<Item = S>,
    S: IntoIterator,
{
    type Item = S::Item;

    fn next(&mut self) -> Option<S::Item> {
        while !self.end_of_input || self.open > 0 {
            let slot = self.slots.get_mut(self.cycle_index)?;
            match slot {
                Some(input) => match input.next() {
                    Some(item) => {
                        self.block_index += 1;
                        if self.block_index == self.block_length {
                            self.next_turn();
                        }
                        return Some(item);
                    }
                    None => {
                        *slot = None;
                        self.open -= 1;
                        self.next_turn();
                    }
                },
                None if !self.end_of_input => match self.inputs.next() {
                    Some(input) => {
                        *slot = Some(input.into_iter());
                        self.open += 1;
                    }
                    None => self.end_of_input = true,
                },
                None => self.next_turn(),
            }
        }
        None
    }
}

/// Opens inputs on rayon threads, `batch` at a time, and hands them on in input order.
#[derive(Debug)]
pub struct ParallelOpen<I, F, T> {
    inputs: I,
    open: F,
    batch: usize,
    ready: VecDeque<Vec<T>>,
}

impl<I, F, T> Iterator for ParallelOpen<I, F, T>
where
    I: Iterator,
    I::Item: Send,
    F: Fn(I::Item) -> Vec<T> + Sync + Send,
    T: Send,
{
    type Item = Vec<T>;

    fn next(&mut self) -> Option<Vec<T>> {
        if self.ready.is_empty() {
            let pending: Vec<I::Item> = self.inputs.by_ref().take(self.batch).collect();
            // `collect` on an indexed parallel iterator keeps input order.
            let opened: Vec<Vec<T>> = pending.into_par_iter().map(&self.open).collect();
            self.ready.extend(opened);
        }
        self.ready.pop_front()
    }
}

/// What [`interleave_parallel`] returns.
pub type ParallelInterleave<I, F, T> = Interleave<ParallelOpen<I, F, T>, Vec<T>>;

/// [`Interleave`] whose inputs are opened by `open` on the current rayon pool,
/// `cycle_length` inputs at a time (each opened input is read into a `Vec`). The output
/// is exactly that of the sequential `Interleave` over `inputs.map(open)`, whatever the
/// number of threads.
pub fn interleave_parallel<I, F, T>(
    inputs: I,
    open: F,
    cycle_length: u64,
    block_length: u64,
) -> Result<ParallelInterleave<I::IntoIter, F, T>>
where
    I: IntoIterator,
    I::Item: Send,
    F: Fn(I::Item) -> Vec<T> + Sync + Send,
    T: Send,
{
    let batch = to_usize("cycle length", cycle_length.min(MAX_CYCLE_LENGTH))?.max(1);
    let opener = ParallelOpen {
        inputs: inputs.into_iter(),
        open,
        batch,
        ready: VecDeque::new(),
    };
    Interleave::new(opener, cycle_length, block_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(inputs: Vec<Vec<u64>>, cycle: u64, block: u64) -> Vec<u64> {
        Interleave::new(inputs, cycle, block).unwrap().collect()
    }

    #[test]
    fn tf_documented_example() {
        // Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6),
        //                                 cycle_length=2, block_length=4)
        let inputs: Vec<Vec<u64>> = (1..6).map(|x| vec![x; 6]).collect();
        assert_eq!(
            run(inputs, 2, 4),
            vec![
                1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5,
                5, 5
            ]
        );
    }

    #[test]
    fn cycle_length_one_is_flat_map() {
        // Dataset.from_tensor_slices([[1, 2, 3], [4, 5, 6], [7, 8, 9]]).flat_map(...)
        let inputs = vec![vec![1u64, 2, 3], vec![4, 5, 6], vec![7, 8, 9]];
        assert_eq!(run(inputs, 1, 1), (1..10).collect::<Vec<_>>());
    }

    #[test]
    fn empty_input_passes_the_turn() {
        // Slot 1 opens an empty input: its turn passes to slot 0; it opens [3] on its
        // next turn.
        let inputs = vec![vec![1u64, 1, 1], vec![], vec![3]];
        assert_eq!(run(inputs, 2, 1), vec![1, 1, 3, 1]);
        assert!(run(vec![vec![], vec![]], 3, 2).is_empty());
    }

    #[test]
    fn typed_errors() {
        let none: Vec<Vec<u64>> = Vec::new();
        assert!(matches!(
            Interleave::new(none.clone(), 0, 1),
            Err(Error::Zero {
                what: "cycle length"
            })
        ));
        assert!(matches!(
            Interleave::new(none.clone(), 1, 0),
            Err(Error::Zero {
                what: "block length"
            })
        ));
        assert!(matches!(
            Interleave::new(none, MAX_CYCLE_LENGTH + 1, 1),
            Err(Error::TooLarge { .. })
        ));
    }
}
