//! Steps of a seed path, and their text form `root/train/epoch[3]/augment`.
//!
//! A label step renders as `/label`; an index step renders as `[i]` right after the
//! previous step. Inside a label, the characters `/ [ ] \` are escaped with a backslash,
//! so every path renders to one string and parses back to the same steps.

use std::sync::Arc;

use crate::error::{Error, Result};

/// One segment of a seed path: the step from a node to one of its children.
///
/// (Named `Segment`, not `Step`, so that "step" means an optimizer step everywhere in
/// lockstep.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A named child, as made by [`crate::SeedTree::child`].
    Label(Arc<str>),
    /// A numbered child, as made by [`crate::SeedTree::index`].
    Index(u64),
}

/// Appends the text form of `step` to `out`.
pub(crate) fn render_step(out: &mut String, step: &Segment) {
    match step {
        Segment::Label(label) => {
            out.push('/');
            for c in label.chars() {
                if matches!(c, '/' | '[' | ']' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        Segment::Index(i) => {
            out.push('[');
            out.push_str(&i.to_string());
            out.push(']');
        }
    }
}

/// Renders a whole path, starting with `root`.
pub(crate) fn render(steps: &[Segment]) -> String {
    let mut out = String::from("root");
    for step in steps {
        render_step(&mut out, step);
    }
    out
}

/// Parses a path relative to some node: `train/epoch[3]/augment`, `[7]`, or a full
/// `root/...` form, whose leading `root` is skipped (so a relative path cannot start with
/// a label spelled exactly `root`). The empty string is the node itself.
pub(crate) fn parse(text: &str) -> Result<Vec<Segment>> {
    // A leading `root` followed by `/`, `[` or nothing is the root marker of a full path.
    if let Some(rest) = text.strip_prefix("root") {
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with('[') {
            return parse_from(rest, text);
        }
    }
    if text.starts_with('/') {
        return Err(Error::BadPath {
            path: text.to_string(),
            reason: "a relative path starts with a label or `[`, not `/`".to_string(),
        });
    }
    if text.is_empty() || text.starts_with('[') {
        parse_from(text, text)
    } else {
        parse_from(&format!("/{text}"), text)
    }
}

/// Parses a sequence of `/label` and `[i]` steps.
fn parse_from(text: &str, original: &str) -> Result<Vec<Segment>> {
    let bad = |reason: &str| Error::BadPath {
        path: original.to_string(),
        reason: reason.to_string(),
    };
    let mut steps = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' => {
                let mut label = String::new();
                while let Some(&next) = chars.peek() {
                    match next {
                        '/' | '[' => break,
                        ']' => return Err(bad("unescaped `]` in a label")),
                        '\\' => {
                            chars.next();
                            match chars.next() {
                                Some(escaped @ ('/' | '[' | ']' | '\\')) => label.push(escaped),
                                _ => return Err(bad("a backslash must escape one of / [ ] \\")),
                            }
                        }
                        other => {
                            label.push(other);
                            chars.next();
                        }
                    }
                }
                steps.push(Segment::Label(label.into()));
            }
            '[' => {
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some(d) if d.is_ascii_digit() => digits.push(d),
                        Some(_) => return Err(bad("an index holds decimal digits only")),
                        None => return Err(bad("unclosed `[`")),
                    }
                }
                if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
                    return Err(bad("an index is a decimal number without leading zeros"));
                }
                let i = digits
                    .parse::<u64>()
                    .map_err(|_| bad("index does not fit in u64"))?;
                steps.push(Segment::Index(i));
            }
            _ => return Err(bad("expected `/` or `[`")),
        }
    }
    Ok(steps)
}
