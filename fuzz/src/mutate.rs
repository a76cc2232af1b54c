//! Deterministic mutations for the smoke pass: bit flips, truncations, splices,
//! chunk copies and deletions, and interesting numbers dropped into text. Every choice
//! is a draw from a `lockstep-seeding` node, so a failing mutant is named by its path.

use lockstep_seeding::{SeedRng, SeedTree};

/// Tokens that break parsers and numeric checks more often than random bytes.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "-0.0",
    "1e400",
    "1e-320",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "4294967296",
    "NaN",
    "null",
    "[]",
    "{}",
    "\"\"",
    "true",
    "[[[[[[[[",
    "\u{0}",
    "\\",
];

/// A draw below `n` (0 when `n` is 0).
fn below(rng: &mut SeedRng, n: usize) -> usize {
    rng.try_below(n as u64).map_or(0, |v| v as usize)
}

/// One mutant of `input`, with `other` (another corpus entry) for splices.
pub fn mutate(input: &[u8], other: &[u8], node: &SeedTree) -> Vec<u8> {
    let mut rng = node.rng();
    let mut out = input.to_vec();
    // One to four stacked edits, as AFL's havoc stage stacks them.
    for _ in 0..=below(&mut rng, 4) {
        let len = out.len();
        match below(&mut rng, 7) {
            0 if len > 0 => {
                let at = below(&mut rng, len);
                out[at] ^= 1 << below(&mut rng, 8);
            }
            1 => out.truncate(below(&mut rng, len + 1)),
            2 => {
                let keep = below(&mut rng, len + 1);
                let from = below(&mut rng, other.len() + 1);
                out.truncate(keep);
                out.extend_from_slice(&other[from..]);
            }
            3 if len > 0 => {
                let at = below(&mut rng, len);
                out[at] = [0u8, 0xff, 0x7f, 0x80, b'{', b'"', b'9', b'-', b'e', b'.']
                    [below(&mut rng, 10)];
            }
            4 if len > 0 => {
                let start = below(&mut rng, len);
                let end = start + below(&mut rng, (len - start).min(64) + 1);
                let chunk = out[start..end].to_vec();
                let at = below(&mut rng, len + 1);
                out.splice(at..at, chunk);
            }
            5 if len > 0 => {
                let start = below(&mut rng, len);
                let end = start + below(&mut rng, (len - start).min(64) + 1);
                out.drain(start..end);
            }
            _ => {
                // Replace a run of digits (or insert, when there is none) with a token.
                let token = TOKENS[below(&mut rng, TOKENS.len())].as_bytes();
                let at = below(&mut rng, len + 1);
                let end = at + out[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                out.splice(at..end, token.iter().copied());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_are_a_function_of_the_node() {
        let node = SeedTree::from_u64(3).child("m");
        let a = mutate(b"{\"a\": 12345}", b"[1,2,3]", &node);
        assert_eq!(a, mutate(b"{\"a\": 12345}", b"[1,2,3]", &node));
        let differ = (0..32)
            .map(|i| mutate(b"{\"a\": 12345}", b"[1,2,3]", &node.index(i)))
            .filter(|m| m.as_slice() != b"{\"a\": 12345}")
            .count();
        assert!(
            differ > 24,
            "only {differ} of 32 mutants differ from the input"
        );
    }

    #[test]
    fn empty_inputs_mutate_without_panicking() {
        for i in 0..64 {
            let _ = mutate(b"", b"", &SeedTree::from_u64(i));
        }
    }
}
