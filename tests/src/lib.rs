//! Cross-crate properties live in `tests/`.
