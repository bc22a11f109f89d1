//! What the distinct rows' two ways of holding keys (row format, packed words) share: the
//! parts rows are filed in by hash, and when the table in front of them pays.

/// Buckets per worker, chosen by bits of the hash that the tables do not use (hashbrown takes
/// the low bits for the slot and the top seven for the tag).
pub(super) const PARTS: usize = 256;

pub(super) fn part_of(hash: u64) -> usize {
    (hash >> 48) as usize % PARTS
}

/// When the table in front of a worker's buckets empties, and whether it stays.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrontRule {
    /// Rows it holds before it empties into the buckets (it fits in the cache).
    pub rows: usize,
    /// Rows a worker sees before it decides whether the table pays: it stays if at least a
    /// `hits`th of them were repeats it folded.
    pub probe: usize,
    pub hits: usize,
}

pub(super) const FRONT: FrontRule = FrontRule {
    rows: 16 << 10,
    probe: 1 << 20,
    hits: 10,
};
