//! Seed-tree JSON and relative paths.

use lockstep_seeding::{RngCore, SeedTree};

use crate::bytes::text;

/// `SeedTree::from_json` (and serde's path to the same type), then a round trip and a
/// few draws; `SeedTree::descend` on the same text as a relative path.
pub fn seed_tree_json(data: &[u8]) {
    let text = text(data);
    if let Ok(node) = SeedTree::from_json(&text) {
        let again = SeedTree::from_json(&node.to_json());
        let again = again.unwrap_or_else(|e| panic!("to_json output does not parse: {e}"));
        assert_eq!(again.key(), node.key(), "round trip changed the key");
        assert_eq!(again.path(), node.path(), "round trip changed the path");
        let _ = node.depth();
        let _ = node.segments();
        let _ = node.rng().next_u64();
        let _ = node.child("fuzz").u64_at(1);
    }
    let _ = serde_json::from_slice::<SeedTree>(data);
    if let Ok(node) = SeedTree::from_u64(0).descend(&text) {
        // `descend` takes a full `root/...` path too, so `path()` leads back.
        let again = SeedTree::from_u64(0).descend(&node.path());
        let again = again.unwrap_or_else(|e| panic!("path() does not descend: {e}"));
        assert_eq!(
            again.key(),
            node.key(),
            "descend(path()) reached another node"
        );
    }
}
