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

use serde::{Deserialize, Serialize};

use crate::derive::{key_hex, parse_key_hex};
use crate::error::{Error, Result};
use crate::path::{render, Step};
use crate::tree::{Root, SeedTree};

/// The format tag of version 1.
const FORMAT: &str = "lockstep-seed-node/1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    format: String,
    root: RawRoot,
    path: Vec<RawStep>,
    key: String,
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
            path: node
                .steps()
                .into_iter()
                .map(|step| match step {
                    Step::Label(label) => RawStep::Label(label.to_string()),
                    Step::Index(i) => RawStep::Index(i),
                })
                .collect(),
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
        let steps: Vec<Step> = raw
            .path
            .into_iter()
            .map(|step| match step {
                RawStep::Label(label) => Step::Label(label.into()),
                RawStep::Index(i) => Step::Index(i),
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
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string(&RawNode::from(self)).unwrap_or_default()
    }

    /// A node from its JSON form, with a typed error for anything malformed.
    pub fn from_json(text: &str) -> Result<Self> {
        let raw: RawNode = serde_json::from_str(text).map_err(|e| Error::Malformed {
            reason: e.to_string(),
        })?;
        SeedTree::try_from(raw)
    }
}
