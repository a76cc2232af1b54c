//! The seed tree of lockstep.
//!
//! Every random decision gets a path, such as
//! `root/train/epoch[3]/sample[1234]/augment/flip`, and a 256-bit key derived by hashing
//! that path with keyed BLAKE3 (see [`derive`] for the exact definition). Seeds are never
//! added together: `(seed s, epoch e + 1)` and `(seed s + 1, epoch e)` are unrelated
//! nodes, unlike `seed + epoch` schemes.
//!
//! ```
//! use lockstep_seeding::SeedTree;
//!
//! let root = SeedTree::from_u64(42);
//! let flip = root.child("train").child_index("epoch", 3).child_index("sample", 1234).child("flip");
//! assert_eq!(flip.path(), "root/train/epoch[3]/sample[1234]/flip");
//! let mut rng = flip.rng();
//! let coin = rng.bernoulli(0.5).unwrap();
//! // The same path always gives the same key and the same draws.
//! assert_eq!(root.descend("train/epoch[3]/sample[1234]/flip").unwrap().rng().bernoulli(0.5).unwrap(), coin);
//! ```
//!
//! # Portability
//!
//! | what | stable across machines | across versions |
//! | --- | --- | --- |
//! | keys ([`SeedTree::key`]) | yes: BLAKE3 is defined bit for bit | yes, within format `v1`; a change is logged as reproducibility-breaking |
//! | `rng()` stream, `u64_at`, `f64_at`, `f32_at` | yes: ChaCha12, pinned `rand_chacha` | yes, as above |
//! | `below`, `bernoulli`, `uniform_*`, `unit_*` | yes: integer code and exactly rounded IEEE operations | yes, as above |
//! | `normal_f64` | yes: `libm` is the same Rust code on every machine | yes while `libm` stays pinned |
//!
//! This crate is the only one in lockstep that names a concrete generator algorithm.
//!
//! # Limits
//!
//! Decoded paths ([`SeedTree::from_json`], every serde `Deserialize` of a [`SeedTree`],
//! [`SeedTree::descend`]) have at most [`MAX_PATH_DEPTH`] steps, else
//! [`Error::PathTooDeep`]; walking and dropping a path of any depth is iterative.
//! [`SeedRng::normal`] accepts only parameters whose every draw is finite
//! ([`NORMAL_MAX_ABS`], [`Error::NormalTooWide`]).
#![deny(missing_docs)]

pub mod derive;
mod draws;
mod error;
pub mod keys;
mod path;
mod serial;
mod tree;

pub use draws::{SeedRng, NORMAL_MAX_ABS};
pub use error::{Error, Result};
pub use keys::{EpochKey, RunKey, SampleKey, StepKey};
pub use path::Step;
pub use rand_core::RngCore;
pub use tree::{Root, SeedTree, MAX_PATH_DEPTH};
