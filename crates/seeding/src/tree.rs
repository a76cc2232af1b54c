//! [`SeedTree`]: a node of the seed tree, with its key and its path.

use std::fmt;
use std::sync::Arc;

use crate::derive::{self, Key};
use crate::draws::SeedRng;
use crate::error::Result;
use crate::path::{self, Step};

/// Where a tree starts: the user's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// A root made by [`SeedTree::from_u64`].
    U64(u64),
    /// A root made by [`SeedTree::from_bytes`].
    Bytes([u8; 32]),
}

/// A link in the persistent list of steps from the root; children share their
/// parent's list, so deriving a child copies nothing but one link.
#[derive(Debug)]
struct PathLink {
    parent: Option<Arc<PathLink>>,
    step: Step,
}

/// A node of the seed tree: a 256-bit key plus the path that derived it.
///
/// Every random decision in lockstep belongs to a node, such as
/// `root/train/epoch[3]/sample[1234]/augment/flip`. A node's key depends only on the
/// root seed and the steps of its path: not on what else was derived, in which order,
/// or on which thread. Nodes are cheap to clone and `Send + Sync`.
#[derive(Clone)]
pub struct SeedTree {
    root: Root,
    key: Key,
    last: Option<Arc<PathLink>>,
}

impl SeedTree {
    /// The root of the tree for a `u64` seed.
    pub fn from_u64(seed: u64) -> Self {
        Self {
            root: Root::U64(seed),
            key: derive::root_from_u64(seed),
            last: None,
        }
    }

    /// The root of the tree for 32 bytes of seed material.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            root: Root::Bytes(bytes),
            key: derive::root_from_bytes(&bytes),
            last: None,
        }
    }

    /// The child named `label`. Label `"42"` and index `42` give different keys.
    pub fn child(&self, label: &str) -> Self {
        Self {
            root: self.root,
            key: derive::label_child(&self.key, label),
            last: Some(self.link(Step::Label(label.into()))),
        }
    }

    /// The child numbered `i`.
    pub fn index(&self, i: u64) -> Self {
        Self {
            root: self.root,
            key: derive::index_child(&self.key, i),
            last: Some(self.link(Step::Index(i))),
        }
    }

    /// `child(label).index(i)`, rendered `label[i]`: the usual form for epochs, samples
    /// and steps.
    pub fn child_index(&self, label: &str, i: u64) -> Self {
        self.child(label).index(i)
    }

    /// The node at `relative`, a path such as `train/epoch[3]/augment` below this node,
    /// or a full `root/...` path applied to this node's root.
    pub fn descend(&self, relative: &str) -> Result<Self> {
        let steps = path::parse(relative)?;
        let start = if relative.starts_with("root")
            && matches!(relative.as_bytes().get(4), None | Some(b'/') | Some(b'['))
        {
            self.root_node()
        } else {
            self.clone()
        };
        Ok(start.follow(&steps))
    }

    /// The node reached from this one by `steps`, in order.
    pub fn follow(&self, steps: &[Step]) -> Self {
        steps.iter().fold(self.clone(), |node, step| match step {
            Step::Label(label) => node.child(label),
            Step::Index(i) => node.index(*i),
        })
    }

    /// The root node of this node's tree.
    pub fn root_node(&self) -> Self {
        match self.root {
            Root::U64(seed) => Self::from_u64(seed),
            Root::Bytes(bytes) => Self::from_bytes(bytes),
        }
    }

    /// The seed this tree was made from.
    pub fn root(&self) -> Root {
        self.root
    }

    /// This node's 256-bit key.
    pub fn key(&self) -> [u8; 32] {
        self.key
    }

    /// This node's key in lower-case hex.
    pub fn key_hex(&self) -> String {
        derive::key_hex(&self.key)
    }

    /// The steps from the root to this node.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut link = self.last.as_deref();
        while let Some(l) = link {
            steps.push(l.step.clone());
            link = l.parent.as_deref();
        }
        steps.reverse();
        steps
    }

    /// The number of steps from the root.
    pub fn depth(&self) -> usize {
        let mut depth = 0;
        let mut link = self.last.as_deref();
        while let Some(l) = link {
            depth += 1;
            link = l.parent.as_deref();
        }
        depth
    }

    /// The readable path, such as `root/train/epoch[3]/augment`.
    pub fn path(&self) -> String {
        path::render(&self.steps())
    }

    /// A fresh generator over this node's stream: ChaCha12 keyed by this node's key.
    pub fn rng(&self) -> SeedRng {
        SeedRng::from_key(self.key)
    }

    /// The `i`-th `u64` of this node's stream, in O(1) whatever `i` is. It equals the
    /// `i`-th `next_u64()` of a fresh [`SeedTree::rng`].
    pub fn u64_at(&self, i: u64) -> u64 {
        SeedRng::at_u64_position(self.key, i).next_u64_raw()
    }

    /// The `i`-th value as an `f64` in `[0, 1)`: `(u64_at(i) >> 11) · 2⁻⁵³`.
    pub fn f64_at(&self, i: u64) -> f64 {
        crate::draws::unit_f64_from(self.u64_at(i))
    }

    /// The `i`-th value as an `f32` in `[0, 1)`: `(u64_at(i) >> 40) · 2⁻²⁴`.
    pub fn f32_at(&self, i: u64) -> f32 {
        crate::draws::unit_f32_from(self.u64_at(i))
    }

    fn link(&self, step: Step) -> Arc<PathLink> {
        Arc::new(PathLink {
            parent: self.last.clone(),
            step,
        })
    }
}

impl PartialEq for SeedTree {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.root == other.root && self.steps() == other.steps()
    }
}

impl Eq for SeedTree {}

impl fmt::Display for SeedTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl fmt::Debug for SeedTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedTree")
            .field("path", &self.path())
            .field("key", &self.key_hex())
            .finish()
    }
}
