//! [`ClassMap`]: COCO's sparse category ids numbered as a model's dense classes.

use lockstep_core::ClassId;

use super::Category;
use crate::error::{Error, Result};

/// COCO category ids numbered densely by ascending id: the smallest id is class 0.
///
/// The numbering depends only on the set of ids, never on their order in the file, so
/// two splits that list the same categories number them alike. Build it once from the
/// training split and use it for every split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    /// Sorted by id; class `k` is `categories[k]`.
    categories: Vec<Category>,
}

impl ClassMap {
    /// The numbering of `categories`: at least one, ids unique, at most `u32::MAX + 1`.
    pub fn new(categories: &[Category]) -> Result<Self> {
        let mut sorted = categories.to_vec();
        sorted.sort_by_key(|c| c.id);
        if sorted.is_empty() || u32::try_from(sorted.len() - 1).is_err() {
            return Err(Error::BadClassMap {
                categories: sorted.len() as u64,
            });
        }
        if let Some(pair) = sorted.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(Error::DuplicateCategory { id: pair[0].id });
        }
        Ok(Self { categories: sorted })
    }

    /// The number of classes.
    pub fn len(&self) -> u64 {
        self.categories.len() as u64
    }

    /// Never true: a map has at least one class.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    /// The class of COCO category `category_id`, if it is one of the map's.
    pub fn class_of(&self, category_id: u64) -> Option<ClassId> {
        let k = self
            .categories
            .binary_search_by_key(&category_id, |c| c.id)
            .ok()?;
        // `new` bounds the length by u32::MAX + 1, so every position fits.
        Some(ClassId(
            u32::try_from(k).expect("class count checked in ClassMap::new"),
        ))
    }

    /// The category of `class`, if the map has that many classes.
    pub fn category(&self, class: ClassId) -> Option<&Category> {
        self.categories.get(class.index())
    }

    /// The categories in class order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(id: u64, name: &str) -> Category {
        Category {
            id,
            name: name.into(),
            supercategory: None,
        }
    }

    #[test]
    fn sparse_ids_are_numbered_by_ascending_id_whatever_the_file_order() {
        let a = ClassMap::new(&[cat(17, "seven"), cat(11, "one"), cat(13, "three")]).unwrap();
        let b = ClassMap::new(&[cat(11, "one"), cat(13, "three"), cat(17, "seven")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.class_of(11), Some(ClassId(0)));
        assert_eq!(a.class_of(13), Some(ClassId(1)));
        assert_eq!(a.class_of(17), Some(ClassId(2)));
        assert_eq!(a.class_of(12), None);
        assert_eq!(a.category(ClassId(2)).unwrap().name, "seven");
        assert!(a.category(ClassId(3)).is_none());
    }

    #[test]
    fn empty_and_repeated_categories_are_refused() {
        assert!(matches!(
            ClassMap::new(&[]),
            Err(Error::BadClassMap { categories: 0 })
        ));
        assert!(matches!(
            ClassMap::new(&[cat(4, "a"), cat(4, "b")]),
            Err(Error::DuplicateCategory { id: 4 })
        ));
    }
}
