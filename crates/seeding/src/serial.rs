//! The serialized form of a node, and its checks.
//!
//! ```json
//! {"format":"lockstep-seed-node/1","root":{"u64":42},"path":["train","epoch",3],"key":"…64 hex…"}
//! ```
//!
//! A label step is a JSON string and an index step a JSON number. The key is stored so
//! that a node edited by hand, corrupted, or written by a version with another
//! derivation is refused with [`Error::KeyMismatch`] instead of silently giving other
//! random numbers.
//!
//! A path of more than [`MAX_PATH_DEPTH`] steps is refused with
//! [`Error::PathTooDeep`], by [`SeedTree::from_json`] and by every serde
//! `Deserialize` of a [`SeedTree`] alike. The steps past the limit are skipped, not
//! stored, so decoding costs memory for at most that many steps.

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::derive::{key_hex, parse_key_hex};
use crate::error::{Error, Result};
use crate::path::{render, Segment};
use crate::tree::{Root, SeedTree, MAX_PATH_DEPTH};

/// The format tag of version 1.
const FORMAT: &str = "lockstep-seed-node/1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    format: String,
    root: RawRoot,
    path: RawPath,
    key: String,
}

/// The steps of a path, at most [`MAX_PATH_DEPTH`] of them kept, and how many there
/// were in all.
struct RawPath {
    steps: Vec<RawStep>,
    total: u64,
}

impl Serialize for RawPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.steps.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_seq(RawPathVisitor)
    }
}

struct RawPathVisitor;

impl<'de> Visitor<'de> for RawPathVisitor {
    type Value = RawPath;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of path steps (strings and integers)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<RawPath, A::Error> {
        // The size hint comes from the input: never trust it for an allocation.
        let mut steps = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        let mut total: u64 = 0;
        while steps.len() < MAX_PATH_DEPTH {
            match seq.next_element::<RawStep>()? {
                Some(step) => {
                    steps.push(step);
                    total += 1;
                }
                None => return Ok(RawPath { steps, total }),
            }
        }
        // Past the limit: count the rest without keeping them; the node is refused.
        while seq.next_element::<IgnoredAny>()?.is_some() {
            total = total.saturating_add(1);
        }
        Ok(RawPath { steps, total })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum RawRoot {
    U64(u64),
    Bytes(String),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum RawStep {
    Index(u64),
    Label(String),
}

impl From<&SeedTree> for RawNode {
    fn from(node: &SeedTree) -> Self {
        RawNode {
            format: FORMAT.to_string(),
            root: match node.root() {
                Root::U64(seed) => RawRoot::U64(seed),
                Root::Bytes(bytes) => RawRoot::Bytes(key_hex(&bytes)),
            },
            path: {
                let steps: Vec<RawStep> = node
                    .segments()
                    .into_iter()
                    .map(|step| match step {
                        Segment::Label(label) => RawStep::Label(label.to_string()),
                        Segment::Index(i) => RawStep::Index(i),
                    })
                    .collect();
                RawPath {
                    total: steps.len() as u64,
                    steps,
                }
            },
            key: node.key_hex(),
        }
    }
}

impl TryFrom<RawNode> for SeedTree {
    type Error = Error;

    fn try_from(raw: RawNode) -> Result<Self> {
        if raw.format != FORMAT {
            return Err(Error::Malformed {
                reason: format!("format is `{}`, expected `{FORMAT}`", raw.format),
            });
        }
        let root = match raw.root {
            RawRoot::U64(seed) => SeedTree::from_u64(seed),
            RawRoot::Bytes(hex) => {
                SeedTree::from_bytes(parse_key_hex(&hex).ok_or_else(|| Error::Malformed {
                    reason: format!("root bytes `{hex}` are not 64 hex digits"),
                })?)
            }
        };
        if raw.path.total > MAX_PATH_DEPTH as u64 {
            return Err(Error::PathTooDeep {
                depth: raw.path.total,
                max: MAX_PATH_DEPTH as u64,
            });
        }
        let steps: Vec<Segment> = raw
            .path
            .steps
            .into_iter()
            .map(|step| match step {
                RawStep::Label(label) => Segment::Label(label.into()),
                RawStep::Index(i) => Segment::Index(i),
            })
            .collect();
        let stored = parse_key_hex(&raw.key).ok_or_else(|| Error::Malformed {
            reason: format!("key `{}` is not 64 hex digits", raw.key),
        })?;
        let node = root.follow(&steps);
        if node.key() != stored {
            return Err(Error::KeyMismatch {
                path: render(&steps),
                stored: key_hex(&stored),
                derived: node.key_hex(),
            });
        }
        Ok(node)
    }
}

impl Serialize for SeedTree {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        RawNode::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SeedTree {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let raw = RawNode::deserialize(deserializer)?;
        SeedTree::try_from(raw).map_err(serde::de::Error::custom)
    }
}

impl SeedTree {
    /// This node as JSON, in the form described in this module.
    pub fn to_json(&self) -> String {
        // Plain strings and integers always serialize to a String; a silent empty
        // fallback would hide a broken invariant.
        serde_json::to_string(&RawNode::from(self)).expect("a seed node always serializes")
    }

    /// A node from its JSON form, with a typed error for anything malformed:
    /// [`Error::Malformed`], [`Error::KeyMismatch`], or [`Error::PathTooDeep`] for a
    /// path of more than [`MAX_PATH_DEPTH`] steps.
    pub fn from_json(text: &str) -> Result<Self> {
        let raw: RawNode = serde_json::from_str(text).map_err(|e| Error::Malformed {
            reason: e.to_string(),
        })?;
        SeedTree::try_from(raw)
    }
}
