//! [`Batches`]: groups consecutive items into batches.

use crate::error::{to_usize, Error, Result};

/// Consecutive items of `I` in batches of `batch_size`; the last, shorter batch is kept
/// unless `drop_remainder` is set. Deterministic: no randomness.
#[derive(Debug, Clone)]
pub struct Batches<I> {
    inner: I,
    size: usize,
    drop_remainder: bool,
    done: bool,
}

impl<I: Iterator> Batches<I> {
    /// Batches of `batch_size` items of `inner`.
    ///
    /// Errors: [`Error::Zero`] for `batch_size = 0`; [`Error::TooLarge`] if it does not
    /// fit in memory addressing.
    pub fn new(
        inner: impl IntoIterator<IntoIter = I>,
        batch_size: u64,
        drop_remainder: bool,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::Zero { what: "batch size" });
        }
        Ok(Self {
            inner: inner.into_iter(),
            size: to_usize("batch size", batch_size)?,
            drop_remainder,
            done: false,
        })
    }
}

impl<I: Iterator> Iterator for Batches<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Vec<I::Item>> {
        if self.done {
            return None;
        }
        let mut batch = Vec::with_capacity(self.size.min(1 << 16));
        while batch.len() < self.size {
            match self.inner.next() {
                Some(item) => batch.push(item),
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        let keep = batch.len() == self.size || (!batch.is_empty() && !self.drop_remainder);
        keep.then_some(batch)
    }
}

/// `Batches::new(items, batch_size, drop_remainder)`.
pub fn batches<I: IntoIterator>(
    items: I,
    batch_size: u64,
    drop_remainder: bool,
) -> Result<Batches<I::IntoIter>> {
    Batches::new(items, batch_size, drop_remainder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_remainder() {
        let kept: Vec<Vec<u32>> = batches(0..7, 3, false).unwrap().collect();
        assert_eq!(kept, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        let dropped: Vec<Vec<u32>> = batches(0..7, 3, true).unwrap().collect();
        assert_eq!(dropped, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        let exact: Vec<Vec<u32>> = batches(0..6, 3, false).unwrap().collect();
        assert_eq!(exact.len(), 2);
        assert_eq!(batches(0..0, 3, false).unwrap().count(), 0);
        assert_eq!(batches(0..2, 3, true).unwrap().count(), 0);
    }

    #[test]
    fn zero_batch_size_is_an_error() {
        assert!(matches!(
            batches(0..7, 0, false),
            Err(Error::Zero { what: "batch size" })
        ));
    }
}
