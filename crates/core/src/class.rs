//! Class ids.

use std::fmt;

/// A class as the model counts it: a dense index in `0..classes`.
///
/// Datasets with sparse ids (COCO's `category_id`) map them to `ClassId`s once, when
/// they are loaded, and keep the map to name classes in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ClassId(pub u32);

impl ClassId {
    /// The id as an index into per-class tables.
    pub const fn index(self) -> usize {
        // u32 → usize is lossless on every platform Rust supports with std.
        self.0 as usize
    }
}

impl From<u32> for ClassId {
    fn from(id: u32) -> Self {
        Self(id)
    }
}

impl From<ClassId> for u32 {
    fn from(id: ClassId) -> Self {
        id.0
    }
}

impl fmt::Display for ClassId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "class {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_convert_index_and_order() {
        assert_eq!(ClassId::from(3u32).index(), 3);
        assert_eq!(u32::from(ClassId(7)), 7);
        assert!(ClassId(1) < ClassId(2));
        assert_eq!(ClassId(5).to_string(), "class 5");
    }
}
