//! [`SeedTree`]: a node of the seed tree, with its key and its path.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::derive::{self, Key};
use crate::draws::SeedRng;
use crate::error::{Error, Result};
use crate::path::{self, Segment};

/// Where a tree starts: the user's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// A root made by [`SeedTree::from_u64`].
    U64(u64),
    /// A root made by [`SeedTree::from_bytes`].
    Bytes([u8; 32]),
}

/// A node's own step as the node stores it: labels of up to [`INLINE_LABEL`] bytes are
/// kept inline, so deriving a labelled child allocates nothing; the public [`Segment`] is
/// made from it when a path is read or a grandchild needs this node's link.
#[derive(Debug, Clone)]
enum OwnStep {
    Index(u64),
    ShortLabel { len: u8, bytes: [u8; INLINE_LABEL] },
    Label(Arc<str>),
}

/// The longest label stored inline.
const INLINE_LABEL: usize = 30;

impl OwnStep {
    fn label(label: &str) -> Self {
        let raw = label.as_bytes();
        if raw.len() <= INLINE_LABEL {
            let mut bytes = [0u8; INLINE_LABEL];
            bytes[..raw.len()].copy_from_slice(raw);
            Self::ShortLabel {
                len: raw.len() as u8,
                bytes,
            }
        } else {
            Self::Label(label.into())
        }
    }

    fn to_step(&self) -> Segment {
        match self {
            Self::Index(i) => Segment::Index(*i),
            // The bytes were copied from a `&str` whole, so they are valid UTF-8.
            Self::ShortLabel { len, bytes } => Segment::Label(
                String::from_utf8_lossy(&bytes[..usize::from(*len)])
                    .as_ref()
                    .into(),
            ),
            Self::Label(label) => Segment::Label(label.clone()),
        }
    }
}

/// The most steps a *decoded* path may have: [`SeedTree::from_json`], every serde
/// `Deserialize` of a [`SeedTree`] (so every sampler state or checkpoint manifest that
/// embeds one) and [`SeedTree::descend`] refuse deeper paths with
/// [`Error::PathTooDeep`]. Real paths are a few dozen steps at most.
///
/// Nodes built in memory with [`SeedTree::child`] and [`SeedTree::index`] have no
/// limit (everything that walks a path, including drop, is iterative), but a node
/// deeper than this serializes to a form that will not load again.
pub const MAX_PATH_DEPTH: usize = 4096;

/// A link in the persistent list of steps from the root; children share their
/// parent's list, so deriving a child copies nothing but one link.
struct PathLink {
    parent: Option<Arc<PathLink>>,
    step: Segment,
}

impl Drop for PathLink {
    /// Unlinks the chain of parents that this link held the last reference to one at a
    /// time: the default drop recurses once per step and overflows the stack on deep
    /// paths.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(link) = next {
            // `into_inner` is `Some` only for the last reference, also under races.
            next = Arc::into_inner(link).and_then(|mut inner| inner.parent.take());
        }
    }
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
    /// The links from the root to this node's parent, shared with its siblings.
    parent: Option<Arc<PathLink>>,
    /// This node's own step; `None` at the root.
    step: Option<OwnStep>,
    /// This node's link, made the first time it has a child, so that many children of
    /// one node share it instead of each allocating a copy.
    link: OnceLock<Option<Arc<PathLink>>>,
}

impl SeedTree {
    /// The root of the tree for a `u64` seed.
    pub fn from_u64(seed: u64) -> Self {
        Self {
            root: Root::U64(seed),
            key: derive::root_from_u64(seed),
            parent: None,
            step: None,
            link: OnceLock::new(),
        }
    }

    /// The root of the tree for 32 bytes of seed material.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            root: Root::Bytes(bytes),
            key: derive::root_from_bytes(&bytes),
            parent: None,
            step: None,
            link: OnceLock::new(),
        }
    }

    /// The child named `label`. Label `"42"` and index `42` give different keys.
    pub fn child(&self, label: &str) -> Self {
        Self {
            root: self.root,
            key: derive::label_child(&self.key, label),
            parent: self.own_link(),
            step: Some(OwnStep::label(label)),
            link: OnceLock::new(),
        }
    }

    /// The child numbered `i`.
    pub fn index(&self, i: u64) -> Self {
        Self {
            root: self.root,
            key: derive::index_child(&self.key, i),
            parent: self.own_link(),
            step: Some(OwnStep::Index(i)),
            link: OnceLock::new(),
        }
    }

    /// `child(label).index(i)`, rendered `label[i]`: the usual form for epochs, samples
    /// and steps.
    pub fn child_index(&self, label: &str, i: u64) -> Self {
        self.child(label).index(i)
    }

    /// The node at `relative`, a path such as `train/epoch[3]/augment` below this node,
    /// or a full `root/...` path applied to this node's root.
    ///
    /// Errors: [`Error::BadPath`] for text that does not parse;
    /// [`Error::PathTooDeep`] when the node reached would be deeper than
    /// [`MAX_PATH_DEPTH`].
    pub fn descend(&self, relative: &str) -> Result<Self> {
        let steps = path::parse(relative)?;
        let start = if relative.starts_with("root")
            && matches!(relative.as_bytes().get(4), None | Some(b'/') | Some(b'['))
        {
            self.root_node()
        } else {
            self.clone()
        };
        let depth = start.depth().saturating_add(steps.len());
        if depth > MAX_PATH_DEPTH {
            return Err(Error::PathTooDeep {
                depth: depth as u64,
                max: MAX_PATH_DEPTH as u64,
            });
        }
        Ok(start.follow(&steps))
    }

    /// The node reached from this one by `segments`, in order.
    pub fn follow(&self, segments: &[Segment]) -> Self {
        segments.iter().fold(self.clone(), |node, step| match step {
            Segment::Label(label) => node.child(label),
            Segment::Index(i) => node.index(*i),
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

    /// The segments of the path from the root to this node.
    pub fn segments(&self) -> Vec<Segment> {
        let mut steps: Vec<Segment> = self.step.iter().map(OwnStep::to_step).collect();
        let mut link = self.parent.as_deref();
        while let Some(l) = link {
            steps.push(l.step.clone());
            link = l.parent.as_deref();
        }
        steps.reverse();
        steps
    }

    /// The number of steps from the root.
    pub fn depth(&self) -> usize {
        let mut depth = usize::from(self.step.is_some());
        let mut link = self.parent.as_deref();
        while let Some(l) = link {
            depth += 1;
            link = l.parent.as_deref();
        }
        depth
    }

    /// The readable path, such as `root/train/epoch[3]/augment`.
    pub fn path(&self) -> String {
        path::render(&self.segments())
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

    /// This node's link in the path list (`None` at the root), made once.
    fn own_link(&self) -> Option<Arc<PathLink>> {
        self.link
            .get_or_init(|| {
                self.step.as_ref().map(|step| {
                    Arc::new(PathLink {
                        parent: self.parent.clone(),
                        step: step.to_step(),
                    })
                })
            })
            .clone()
    }
}

impl PartialEq for SeedTree {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.root == other.root && self.segments() == other.segments()
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
