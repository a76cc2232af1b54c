//! The [`Dataset`] trait and [`InMemoryDataset`].

use crate::error::{Error, Result};

/// A finite dataset with random access: what a [`crate::Sampler`] indexes into.
pub trait Dataset {
    /// One sample.
    type Item;

    /// The number of samples.
    fn len(&self) -> u64;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index`; [`Error::IndexOutOfRange`] for `index >= len()`, or the
    /// dataset's own error for a sample that cannot be read: an implementation outside
    /// this crate returns its own error type with [`Error::wrap`] ([`Error::Other`]).
    fn get(&self, index: u64) -> Result<Self::Item>;
}

/// A dataset held in a `Vec`; `get` clones the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMemoryDataset<T> {
    items: Vec<T>,
}

impl<T> InMemoryDataset<T> {
    /// A dataset of `items`, in their order.
    pub fn new(items: Vec<T>) -> Self {
        Self { items }
    }

    /// The items.
    pub fn items(&self) -> &[T] {
        &self.items
    }
}

impl<T: Clone> Dataset for InMemoryDataset<T> {
    type Item = T;

    fn len(&self) -> u64 {
        self.items.len() as u64
    }

    fn get(&self, index: u64) -> Result<T> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.items.get(i))
            .cloned()
            .ok_or(Error::IndexOutOfRange {
                index,
                len: self.len(),
            })
    }
}

/// The samples of a dataset in index order, from a given index: a restartable upstream
/// (for [`crate::BufferedShuffle::resume_from_dataset`]).
#[derive(Debug, Clone)]
pub struct DatasetIter<D> {
    dataset: D,
    next: u64,
}

impl<D: Dataset> DatasetIter<D> {
    /// The samples from index 0.
    pub fn new(dataset: D) -> Self {
        Self::from_index(dataset, 0)
    }

    /// The samples from index `start` on.
    pub fn from_index(dataset: D, start: u64) -> Self {
        Self {
            dataset,
            next: start,
        }
    }

    /// The index of the next sample.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset> Iterator for DatasetIter<D> {
    type Item = Result<D::Item>;

    fn next(&mut self) -> Option<Result<D::Item>> {
        if self.next >= self.dataset.len() {
            return None;
        }
        let item = self.dataset.get(self.next);
        self.next += 1;
        Some(item)
    }
}

impl<D: Dataset + ?Sized> Dataset for &D {
    type Item = D::Item;

    fn len(&self) -> u64 {
        (**self).len()
    }

    fn get(&self, index: u64) -> Result<D::Item> {
        (**self).get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_access_and_bounds() {
        let d = InMemoryDataset::new(vec!["a", "b", "c"]);
        assert_eq!(d.len(), 3);
        assert!(!d.is_empty());
        assert_eq!(d.get(1).ok(), Some("b"));
        assert!(matches!(
            d.get(3),
            Err(Error::IndexOutOfRange { index: 3, len: 3 })
        ));
        assert!(matches!(
            d.get(u64::MAX),
            Err(Error::IndexOutOfRange {
                index: u64::MAX,
                len: 3
            })
        ));
    }
}
