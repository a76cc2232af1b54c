//! Key derivation: how a node's 256-bit key follows from its parent's key and one step.
//!
//! This module is the whole definition of the tree's keys, version 1:
//!
//! - root from a `u64` seed `s`: `BLAKE3-derive_key("lockstep-seeding v1 root u64", le64(s))`;
//! - root from 32 bytes `b`: `BLAKE3-derive_key("lockstep-seeding v1 root bytes", b)`;
//! - label child: `BLAKE3-keyed(parent_key, 0x4C ‖ le64(len(label)) ‖ utf8(label))`;
//! - index child: `BLAKE3-keyed(parent_key, 0x49 ‖ le64(i))`.
//!
//! The tag byte and the length prefix keep label `"42"` and index `42` apart, and make
//! the encoding of a step prefix-free. No integer is ever added to a seed.

/// A node's key.
pub type Key = [u8; 32];

const ROOT_U64_CONTEXT: &str = "lockstep-seeding v1 root u64";
const ROOT_BYTES_CONTEXT: &str = "lockstep-seeding v1 root bytes";
const LABEL_TAG: u8 = b'L';
const INDEX_TAG: u8 = b'I';

/// The key of a root made from a `u64` seed.
pub(crate) fn root_from_u64(seed: u64) -> Key {
    blake3::derive_key(ROOT_U64_CONTEXT, &seed.to_le_bytes())
}

/// The key of a root made from 32 bytes of seed material.
pub(crate) fn root_from_bytes(bytes: &[u8; 32]) -> Key {
    blake3::derive_key(ROOT_BYTES_CONTEXT, bytes)
}

/// The key of the child `label` of a node with key `parent`.
pub(crate) fn label_child(parent: &Key, label: &str) -> Key {
    // Labels that fit one BLAKE3 block are hashed from a stack buffer in one call; the
    // message, and so the key, is the same either way.
    const INLINE: usize = 64 - 9;
    let bytes = label.as_bytes();
    if bytes.len() <= INLINE {
        let mut msg = [0u8; 64];
        msg[0] = LABEL_TAG;
        msg[1..9].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        msg[9..9 + bytes.len()].copy_from_slice(bytes);
        return *blake3::keyed_hash(parent, &msg[..9 + bytes.len()]).as_bytes();
    }
    let mut hasher = blake3::Hasher::new_keyed(parent);
    hasher.update(&[LABEL_TAG]);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
    *hasher.finalize().as_bytes()
}

/// The key of the child with index `i` of a node with key `parent`.
pub(crate) fn index_child(parent: &Key, i: u64) -> Key {
    let mut msg = [0u8; 9];
    msg[0] = INDEX_TAG;
    msg[1..].copy_from_slice(&i.to_le_bytes());
    *blake3::keyed_hash(parent, &msg).as_bytes()
}

/// Lower-case hex of a key.
pub fn key_hex(key: &Key) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in key {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Parses 64 hex digits into a key.
pub(crate) fn parse_key_hex(text: &str) -> Option<Key> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut key = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        key[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(key)
}
