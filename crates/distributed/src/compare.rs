//! Telling which ranks disagree, from an all-gather of one fixed-size value per rank.

/// Ranks whose value differs from rank 0's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankDifference {
    /// The ranks whose value differs from rank 0's, in rank order.
    pub ranks: Vec<u32>,
    /// Every rank's value, as lowercase hex, in rank order.
    pub values: Vec<String>,
}

/// Splits `gathered` (the all-gather of one `item`-byte value per rank) and names the
/// ranks whose value differs from rank 0's; `None` when all agree (or `item` is 0 or
/// does not divide the length, which no all-gather produces).
///
/// ```
/// use lockstep_distributed::differing_ranks;
///
/// assert_eq!(differing_ranks(&[7, 7, 7], 1), None);
/// let d = differing_ranks(&[7, 7, 9, 7], 1).unwrap();
/// assert_eq!(d.ranks, [2]);
/// assert_eq!(d.values, ["07", "07", "09", "07"]);
/// ```
pub fn differing_ranks(gathered: &[u8], item: usize) -> Option<RankDifference> {
    if item == 0 || gathered.len() % item != 0 {
        return None;
    }
    let values: Vec<&[u8]> = gathered.chunks_exact(item).collect();
    let first = *values.first()?;
    let ranks: Vec<u32> = (0u32..)
        .zip(&values)
        .filter(|(_, v)| **v != first)
        .map(|(r, _)| r)
        .collect();
    if ranks.is_empty() {
        return None;
    }
    Some(RankDifference {
        ranks,
        values: values
            .iter()
            .map(|v| v.iter().map(|b| format!("{b:02x}")).collect())
            .collect(),
    })
}
