//! Counters and sets over integer keys, stored as arrays indexed by `value - base`.
//!
//! Listing and user ids are dense: a day's listings span ~2 M consecutive ids, a month's users
//! ~3.5 M. An array cell per id turns "count views per listing" into an increment and "count
//! distinct users" into setting a bit, with no hashing. A value far outside the range seen so
//! far (or a range too large for the query's budget) turns the structure into a hash map, so
//! answers stay exact whatever the ids are.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use datafusion::common::{DataFusionError, HashMap, HashSet};
use datafusion::error::Result;
use datafusion::execution::memory_pool::MemoryReservation;

/// The widest range one structure covers with an array (cells for counters, bits for sets).
const MAX_SPAN: u64 = 1 << 28;

/// The memory of one dense aggregation, shared by its workers: every array, bitmap and hash
/// map is reserved in DataFusion's memory pool (so `--memory-limit` bounds it with the rest of
/// the query), and arrays also within a budget of their own, past which new ranges use hash
/// maps. A reservation the pool refuses marks the aggregation as over the limit: the structure
/// does not grow, and the workers fail the query at their next [`Budget::check`].
#[derive(Debug)]
pub(crate) struct Budget {
    /// Array bytes left.
    arrays: AtomicI64,
    /// Everything held, in the query's memory pool (`None`: unaccounted, in unit tests).
    pool: Option<Mutex<MemoryReservation>>,
    /// Set once the pool refused a reservation: how many bytes were asked for.
    refused: AtomicUsize,
}

impl Budget {
    /// A budget of `array_bytes` for arrays, accounted nowhere else.
    #[cfg(test)]
    pub(crate) fn new(array_bytes: usize) -> Self {
        Self {
            arrays: AtomicI64::new(i64::try_from(array_bytes).unwrap_or(i64::MAX)),
            pool: None,
            refused: AtomicUsize::new(0),
        }
    }

    /// A budget of `array_bytes` for arrays, everything reserved through `reservation`.
    pub(crate) fn in_pool(array_bytes: usize, reservation: MemoryReservation) -> Self {
        Self {
            arrays: AtomicI64::new(i64::try_from(array_bytes).unwrap_or(i64::MAX)),
            pool: Some(Mutex::new(reservation)),
            refused: AtomicUsize::new(0),
        }
    }

    /// Reserves `bytes` for an array, if both the array budget and the pool allow.
    fn take(&self, bytes: usize) -> bool {
        let signed = i64::try_from(bytes).unwrap_or(i64::MAX);
        if self.arrays.fetch_sub(signed, Ordering::Relaxed) < signed {
            self.arrays.fetch_add(signed, Ordering::Relaxed);
            return false;
        }
        if !self.reserve(bytes, false) {
            self.arrays.fetch_add(signed, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Returns an array's `bytes`.
    fn give(&self, bytes: usize) {
        self.arrays
            .fetch_add(i64::try_from(bytes).unwrap_or(0), Ordering::Relaxed);
        self.release(bytes);
    }

    /// Reserves `bytes` a hash map (or a group, an interned string) needs to grow. False: the
    /// pool refused, and the query will fail at the next [`Budget::check`].
    pub(crate) fn grow(&self, bytes: usize) -> bool {
        self.reserve(bytes, true)
    }

    /// Returns the `bytes` of a structure that is gone.
    pub(crate) fn release(&self, bytes: usize) {
        if let Some(pool) = &self.pool {
            let reservation = pool.lock().expect("memory reservation lock poisoned");
            let held = reservation.size();
            reservation.shrink(bytes.min(held));
        }
    }

    fn reserve(&self, bytes: usize, must: bool) -> bool {
        let Some(pool) = &self.pool else {
            return true;
        };
        let granted = pool
            .lock()
            .expect("memory reservation lock poisoned")
            .try_grow(bytes)
            .is_ok();
        if !granted && must {
            self.refused.fetch_max(bytes.max(1), Ordering::Relaxed);
        }
        granted
    }

    /// Bytes held in the pool.
    pub(crate) fn held(&self) -> usize {
        self.pool.as_ref().map_or(0, |pool| {
            pool.lock()
                .expect("memory reservation lock poisoned")
                .size()
        })
    }

    /// Bytes of arrays still to take.
    #[cfg(test)]
    pub(crate) fn arrays_left(&self) -> i64 {
        self.arrays.load(Ordering::Relaxed)
    }

    /// The size of a reservation the pool refused, if it refused one.
    pub(crate) fn refused(&self) -> Option<usize> {
        match self.refused.load(Ordering::Relaxed) {
            0 => None,
            bytes => Some(bytes),
        }
    }
}

/// Bytes a hash table of `capacity` entries of `entry` bytes takes (hashbrown: buckets at
/// 7/8 load, one control byte each).
pub(crate) fn table_bytes(capacity: usize, entry: usize) -> usize {
    capacity.saturating_mul(8) / 7 * (entry + 1)
}

/// Whether `map` may take one more entry: it has room, or the budget grants its growth.
pub(crate) fn room<K, V>(len: usize, capacity: usize, budget: &Budget) -> bool {
    let entry = std::mem::size_of::<(K, V)>();
    len < capacity
        || budget.grow(
            table_bytes(capacity.saturating_mul(2).max(4), entry) - table_bytes(capacity, entry),
        )
}

/// Adds `count` to `value`'s entry, first reserving the memory the map needs to grow.
fn bump(map: &mut HashMap<i64, u64>, value: i64, count: u64, budget: &Budget) {
    if let Some(entry) = map.get_mut(&value) {
        *entry += count;
    } else if room::<i64, u64>(map.len(), map.capacity(), budget) {
        map.insert(value, count);
    }
}

/// Adds `value` to `set`, first reserving the memory the set needs to grow.
fn put(set: &mut HashSet<i64>, value: i64, budget: &Budget) {
    if set.contains(&value) || !room::<i64, ()>(set.len(), set.capacity(), budget) {
        return;
    }
    set.insert(value);
}

/// The span `[lo, hi]` an array should cover to hold `value` and what it already holds: at
/// least twice as wide as before (so scattered values copy the array a logarithmic number of
/// times), toward `value`, within the file's statistics when they include it. A group that
/// sees a few values keeps a small array; one that sees many reaches the statistics' range in
/// a few steps. `None` if too wide.
fn span(current: Option<(i64, i64)>, value: i64, hint: Option<(i64, i64)>) -> Option<(i64, i64)> {
    let (lo, hi) = current.map_or((value, value), |(l, h)| (l.min(value), h.max(value)));
    let (mut lo, mut hi) = (i128::from(lo), i128::from(hi));
    let before = current.map_or(0, |(l, h)| i128::from(h) - i128::from(l) + 1);
    let width = (hi - lo + 1).max(2 * before).max(64);
    if i128::from(value) < lo + (hi - lo) / 2 || current.is_none() {
        lo = hi - width + 1;
    } else {
        hi = lo + width - 1;
    }
    if let Some((hint_lo, hint_hi)) = hint
        && hint_lo <= value
        && value <= hint_hi
    {
        let needed = current.map_or((value, value), |(l, h)| (l.min(value), h.max(value)));
        let hinted = i128::from(hint_hi) - i128::from(hint_lo) + 1;
        if width * 16 >= hinted {
            // Already a sixteenth of the file's range: the whole range at once.
            (lo, hi) = (i128::from(hint_lo), i128::from(hint_hi));
        }
        lo = lo.max(i128::from(hint_lo)).min(i128::from(needed.0));
        hi = hi.min(i128::from(hint_hi)).max(i128::from(needed.1));
    }
    let lo = lo.max(i128::from(i64::MIN));
    let hi = hi.min(i128::from(i64::MAX));
    ((hi - lo) < MAX_SPAN as i128).then_some((lo as i64, hi as i64))
}

/// How many rows had each integer key (and how many had none).
#[derive(Debug, Default)]
pub(crate) struct Counter {
    base: i64,
    /// Counts of `base + i`; a cell that would pass `u32::MAX` carries into `wide`.
    cells: Vec<u32>,
    /// Counts of values the cells do not cover, and the carries of cells that overflowed.
    wide: HashMap<i64, u64>,
    /// True once the values outgrew an array: every count is in `wide`.
    sparse: bool,
    /// Rows whose key was null.
    pub(crate) nulls: u64,
}

impl Counter {
    /// Adds one row with key `value`; `hint` is the range the current file's statistics
    /// promise, so the array can be sized once.
    #[inline]
    pub(crate) fn add(&mut self, value: i64, hint: Option<(i64, i64)>, budget: &Budget) {
        let i = value.wrapping_sub(self.base) as u64;
        if let Some(cell) = self.cells.get_mut(i as usize) {
            match cell.checked_add(1) {
                Some(n) => *cell = n,
                None => {
                    *cell = 0;
                    bump(&mut self.wide, value, 1 << 32, budget);
                }
            }
        } else {
            self.add_outside(value, hint, budget);
        }
    }

    #[cold]
    fn add_outside(&mut self, value: i64, hint: Option<(i64, i64)>, budget: &Budget) {
        if !self.sparse {
            let current = (!self.cells.is_empty())
                .then(|| (self.base, self.base + self.cells.len() as i64 - 1));
            if let Some((lo, hi)) = span(current, value, hint)
                && self.cover(lo, hi, budget)
            {
                self.cells[(value - self.base) as usize] += 1;
                return;
            }
            self.make_sparse(budget);
        }
        bump(&mut self.wide, value, 1, budget);
    }

    /// Grows the array to cover `[lo, hi]`, if the budget allows.
    fn cover(&mut self, lo: i64, hi: i64, budget: &Budget) -> bool {
        let len = (hi - lo + 1) as usize;
        if !budget.take((len - self.cells.len()) * 4) {
            return false;
        }
        let mut cells = vec![0u32; len];
        if !self.cells.is_empty() {
            let offset = (self.base - lo) as usize;
            cells[offset..offset + self.cells.len()].copy_from_slice(&self.cells);
        }
        self.cells = cells;
        self.base = lo;
        true
    }

    fn make_sparse(&mut self, budget: &Budget) {
        for (i, &count) in self.cells.iter().enumerate() {
            if count > 0 {
                bump(
                    &mut self.wide,
                    self.base + i as i64,
                    u64::from(count),
                    budget,
                );
            }
        }
        budget.give(self.cells.len() * 4);
        self.cells = Vec::new();
        self.sparse = true;
    }

    /// Adds every count of `other` to this one.
    pub(crate) fn absorb(&mut self, other: Counter, budget: &Budget) {
        self.nulls += other.nulls;
        let other_map = table_bytes(other.wide.capacity(), std::mem::size_of::<(i64, u64)>());
        if self.cells.is_empty() && self.wide.is_empty() && !self.sparse {
            // Nothing here yet: take the other's array as it is.
            self.base = other.base;
            self.cells = other.cells;
            self.wide = other.wide;
            self.sparse = other.sparse;
            return;
        }
        if !other.cells.is_empty() {
            let (lo, hi) = (other.base, other.base + other.cells.len() as i64 - 1);
            let fits = !self.sparse
                && if self.cells.is_empty() {
                    self.cover(lo, hi, budget)
                } else {
                    let end = self.base + self.cells.len() as i64 - 1;
                    (self.base <= lo && hi <= end)
                        || self.cover(lo.min(self.base), hi.max(end), budget)
                };
            if fits {
                let offset = (other.base - self.base) as usize;
                for (i, &count) in other.cells.iter().enumerate() {
                    let cell = &mut self.cells[offset + i];
                    let (sum, carry) = cell.overflowing_add(count);
                    *cell = sum;
                    if carry {
                        bump(&mut self.wide, other.base + i as i64, 1 << 32, budget);
                    }
                }
            } else {
                self.make_sparse(budget);
                for (i, &count) in other.cells.iter().enumerate() {
                    if count > 0 {
                        bump(
                            &mut self.wide,
                            other.base + i as i64,
                            u64::from(count),
                            budget,
                        );
                    }
                }
            }
            budget.give(other.cells.len() * 4);
        }
        for (value, count) in other.wide {
            bump(&mut self.wide, value, count, budget);
        }
        budget.release(other_map);
    }

    /// Every key with a nonzero count and its count, ascending, as two columns.
    pub(crate) fn columns(&self) -> (Vec<i64>, Vec<i64>) {
        if !self.wide.is_empty() {
            return self
                .entries()
                .into_iter()
                .map(|(value, count)| (value, count as i64))
                .unzip();
        }
        // The common case, in one pass over the array.
        let mut values = Vec::new();
        let mut counts = Vec::new();
        for (i, &count) in self.cells.iter().enumerate() {
            if count > 0 {
                values.push(self.base + i as i64);
                counts.push(i64::from(count));
            }
        }
        (values, counts)
    }

    /// Every key with a nonzero count, ascending.
    pub(crate) fn entries(&self) -> Vec<(i64, u64)> {
        let mut entries: Vec<(i64, u64)> = self
            .cells
            .iter()
            .enumerate()
            .filter_map(|(i, &count)| {
                let value = self.base + i as i64;
                let carried = self.wide.get(&value).copied().unwrap_or(0);
                let total = u64::from(count) + carried;
                (total > 0).then_some((value, total))
            })
            .collect();
        let end = i128::from(self.base) + self.cells.len() as i128;
        let outside = self
            .wide
            .iter()
            .filter(|&(&value, &count)| {
                count > 0
                    && (self.cells.is_empty() || value < self.base || i128::from(value) >= end)
            })
            .map(|(&value, &count)| (value, count));
        entries.extend(outside);
        entries.sort_unstable_by_key(|&(value, _)| value);
        entries
    }
}

/// A set of integers (nulls are not members: `count(DISTINCT x)` ignores them).
#[derive(Debug, Default)]
pub(crate) struct IntSet {
    base: i64,
    /// Bit `i` set: `base + i` is a member.
    words: Vec<u64>,
    /// Members while the set is sparse; empty while it is an array.
    sparse: Option<HashSet<i64>>,
}

impl IntSet {
    #[inline]
    pub(crate) fn insert(&mut self, value: i64, hint: Option<(i64, i64)>, budget: &Budget) {
        let i = value.wrapping_sub(self.base) as u64;
        if let Some(word) = self.words.get_mut((i >> 6) as usize) {
            *word |= 1 << (i & 63);
        } else {
            self.insert_outside(value, hint, budget);
        }
    }

    #[cold]
    fn insert_outside(&mut self, value: i64, hint: Option<(i64, i64)>, budget: &Budget) {
        if self.sparse.is_none() {
            let current = (!self.words.is_empty()).then(|| (self.base, self.last()));
            if let Some((lo, hi)) = span(current, value, hint)
                && self.cover(lo, hi, budget)
            {
                let i = (value - self.base) as u64;
                self.words[(i >> 6) as usize] |= 1 << (i & 63);
                return;
            }
            self.make_sparse(budget);
        }
        put(self.sparse.get_or_insert_default(), value, budget);
    }

    /// Grows the bitmap to cover `[lo, hi]`, keeping `base` a multiple of 64 apart from the
    /// old one so existing words move whole.
    fn cover(&mut self, lo: i64, hi: i64, budget: &Budget) -> bool {
        let lo = if self.words.is_empty() {
            lo
        } else {
            let below = (i128::from(self.base) - i128::from(lo.min(self.base)) + 63) / 64 * 64;
            match i64::try_from(i128::from(self.base) - below) {
                Ok(lo) => lo,
                Err(_) => return false,
            }
        };
        let words = ((i128::from(hi) - i128::from(lo)) as usize / 64) + 1;
        if !budget.take((words - self.words.len()) * 8) {
            return false;
        }
        let mut new = vec![0u64; words];
        if !self.words.is_empty() {
            let offset = ((self.base - lo) / 64) as usize;
            new[offset..offset + self.words.len()].copy_from_slice(&self.words);
        }
        self.words = new;
        self.base = lo;
        true
    }

    fn make_sparse(&mut self, budget: &Budget) {
        let mut members = HashSet::default();
        self.for_each_dense(|value| put(&mut members, value, budget));
        budget.give(self.words.len() * 8);
        self.words = Vec::new();
        self.sparse = Some(members);
    }

    fn for_each_dense(&self, mut f: impl FnMut(i64)) {
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bit = bits.trailing_zeros() as i64;
                // Bits past i64::MAX are never set, so this cannot overflow.
                f(self.base.wrapping_add(w as i64 * 64 + bit));
                bits &= bits - 1;
            }
        }
    }

    /// The last value the bitmap covers (its last word may reach past `i64::MAX`).
    fn last(&self) -> i64 {
        let last = i128::from(self.base) + self.words.len() as i128 * 64 - 1;
        i64::try_from(last).unwrap_or(i64::MAX)
    }

    /// Every member, ascending.
    pub(crate) fn members(&self) -> Vec<i64> {
        let mut members = Vec::with_capacity(self.len() as usize);
        self.for_each_dense(|value| members.push(value));
        if let Some(sparse) = &self.sparse {
            members.extend(sparse.iter().copied());
            members.sort_unstable();
        }
        members
    }

    /// How many members.
    pub(crate) fn len(&self) -> u64 {
        let dense: u64 = self.words.iter().map(|w| u64::from(w.count_ones())).sum();
        dense + self.sparse.as_ref().map_or(0, |s| s.len() as u64)
    }

    /// Every member of `other` becomes a member of this set.
    pub(crate) fn absorb(&mut self, other: IntSet, budget: &Budget) {
        let other_set = other
            .sparse
            .as_ref()
            .map_or(0, |s| table_bytes(s.capacity(), std::mem::size_of::<i64>()));
        if self.words.is_empty() && self.sparse.is_none() {
            // Nothing here yet: take the other's bitmap as it is.
            *self = other;
            return;
        }
        if !other.words.is_empty() {
            let (lo, hi) = (other.base, other.last());
            let aligned = self.words.is_empty()
                || (i128::from(other.base) - i128::from(self.base)).rem_euclid(64) == 0;
            let fits = self.sparse.is_none()
                && aligned
                && if self.words.is_empty() {
                    self.cover(lo, hi, budget)
                } else {
                    let end = self.last();
                    (self.base <= lo && hi <= end)
                        || self.cover(lo.min(self.base), hi.max(end), budget)
                };
            if fits {
                let offset = ((other.base - self.base) / 64) as usize;
                for (i, &word) in other.words.iter().enumerate() {
                    self.words[offset + i] |= word;
                }
            } else {
                other.for_each_dense(|value| self.insert(value, None, budget));
            }
            budget.give(other.words.len() * 8);
        }
        for value in other.sparse.into_iter().flatten() {
            self.insert(value, None, budget);
        }
        budget.release(other_set);
    }
}

/// A group's state as bytes (little-endian), as a partial aggregation sends it to its merge.
#[derive(Debug, Default)]
pub(crate) struct StateWriter(pub(crate) Vec<u8>);

impl StateWriter {
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn i128(&mut self, v: i128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
}

/// Reads what a [`StateWriter`] wrote; anything short or left over is an error, never a
/// panic (the bytes came over the network).
#[derive(Debug)]
pub(crate) struct StateReader<'a> {
    bytes: &'a [u8],
}

/// The error of a state that does not read back.
pub(crate) fn malformed_state() -> DataFusionError {
    DataFusionError::Internal(
        "a dense aggregation's partial state did not decode (a worker of another version?)"
            .to_string(),
    )
}

impl<'a> StateReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self.bytes.split_at_checked(N).ok_or_else(malformed_state)?;
        self.bytes = rest;
        Ok(head.try_into().expect("split at N"))
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    pub(crate) fn i128(&mut self) -> Result<i128> {
        Ok(i128::from_le_bytes(self.take()?))
    }
    pub(crate) fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    /// A count of items of `item` bytes each, checked against the bytes left.
    fn len(&mut self, item: usize) -> Result<usize> {
        let n = usize::try_from(self.u64()?).map_err(|_| malformed_state())?;
        match n.checked_mul(item) {
            Some(bytes) if bytes <= self.bytes.len() => Ok(n),
            _ => Err(malformed_state()),
        }
    }
    /// Fails unless every byte was read.
    pub(crate) fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(malformed_state())
        }
    }
}

impl Counter {
    /// Writes the counts as they are kept (array, carries and sparse counts alike).
    pub(crate) fn encode(&self, out: &mut StateWriter) {
        out.u8(u8::from(self.sparse));
        out.i64(self.base);
        out.len(self.cells.len());
        for &cell in &self.cells {
            out.u32(cell);
        }
        out.u64(self.nulls);
        out.len(self.wide.len());
        for (&value, &count) in &self.wide {
            out.i64(value);
            out.u64(count);
        }
    }

    /// Reads what [`Counter::encode`] wrote, its memory taken from `budget` as counting takes
    /// it (an array where the budget allows, else a map).
    pub(crate) fn decode(input: &mut StateReader<'_>, budget: &Budget) -> Result<Self> {
        let mut counter = Counter::default();
        let sparse = input.u8()? != 0;
        let base = input.i64()?;
        let n = input.len(4)?;
        if n > 0 {
            let hi =
                i64::try_from(i128::from(base) + n as i128 - 1).map_err(|_| malformed_state())?;
            if !sparse && (hi - base) < MAX_SPAN as i64 && counter.cover(base, hi, budget) {
                for cell in counter.cells.iter_mut() {
                    *cell = input.u32()?;
                }
            } else {
                counter.make_sparse(budget);
                for i in 0..n {
                    let count = input.u32()?;
                    if count > 0 {
                        bump(&mut counter.wide, base + i as i64, u64::from(count), budget);
                    }
                }
            }
        }
        if sparse && !counter.sparse {
            counter.make_sparse(budget);
        }
        counter.nulls = input.u64()?;
        for _ in 0..input.len(16)? {
            let (value, count) = (input.i64()?, input.u64()?);
            bump(&mut counter.wide, value, count, budget);
        }
        Ok(counter)
    }
}

impl IntSet {
    /// Writes the members as they are kept (a bitmap or a set).
    pub(crate) fn encode(&self, out: &mut StateWriter) {
        out.i64(self.base);
        out.len(self.words.len());
        for &word in &self.words {
            out.u64(word);
        }
        match &self.sparse {
            None => out.u8(0),
            Some(members) => {
                out.u8(1);
                out.len(members.len());
                for &member in members {
                    out.i64(member);
                }
            }
        }
    }

    /// Reads what [`IntSet::encode`] wrote, its memory taken from `budget` as inserting takes
    /// it (a bitmap where the budget allows, else a set).
    pub(crate) fn decode(input: &mut StateReader<'_>, budget: &Budget) -> Result<Self> {
        let mut set = IntSet::default();
        let base = input.i64()?;
        let n = input.len(8)?;
        let words = (0..n).map(|_| input.u64()).collect::<Result<Vec<u64>>>()?;
        let theirs = IntSet {
            base,
            words,
            sparse: None,
        };
        if n > 0 {
            let (lo, hi) = (base, theirs.last());
            if (i128::from(hi) - i128::from(lo)) < MAX_SPAN as i128
                && set.cover(lo, hi, budget)
                && set.words.len() == n
            {
                set.words.copy_from_slice(&theirs.words);
            } else {
                theirs.for_each_dense(|value| set.insert(value, None, budget));
            }
        }
        if input.u8()? != 0 {
            let members = input.len(8)?;
            if set.sparse.is_none() && !set.words.is_empty() {
                set.make_sparse(budget);
            }
            let sparse = set.sparse.get_or_insert_default();
            for _ in 0..members {
                put(sparse, input.i64()?, budget);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget::new(1 << 30)
    }

    #[test]
    fn counter_counts_in_an_array_sized_by_the_hint() {
        let budget = budget();
        let mut counter = Counter::default();
        for v in [10, 12, 10, 19] {
            counter.add(v, Some((10, 19)), &budget);
        }
        assert_eq!(counter.cells.len(), 10);
        // Far from the hint's range, arrays grow geometrically, not to the whole range at once.
        let mut small = Counter::default();
        small.add(500, Some((0, 1 << 26)), &budget);
        assert!(small.cells.len() <= 64, "{}", small.cells.len());
        for v in (0..100_000).step_by(97) {
            small.add(v, None, &budget);
        }
        assert!(small.cells.len() < 400_000);
        assert_eq!(counter.entries(), [(10, 2), (12, 1), (19, 1)]);
    }

    #[test]
    fn counter_grows_both_ways_and_turns_sparse_when_too_wide() {
        let budget = budget();
        let mut counter = Counter::default();
        counter.add(100, None, &budget);
        counter.add(90, None, &budget);
        counter.add(105, None, &budget);
        assert!(!counter.sparse);
        counter.add(i64::MAX, None, &budget);
        counter.add(i64::MIN, None, &budget);
        assert!(counter.sparse && counter.cells.is_empty());
        assert_eq!(
            counter.entries(),
            [(i64::MIN, 1), (90, 1), (100, 1), (105, 1), (i64::MAX, 1)]
        );
    }

    #[test]
    fn counter_carries_past_u32() {
        let budget = budget();
        let mut counter = Counter::default();
        counter.add(5, None, &budget);
        let at = (5 - counter.base) as usize;
        counter.cells[at] = u32::MAX;
        counter.add(5, None, &budget);
        counter.add(5, None, &budget);
        assert_eq!(counter.entries(), [(5, (1 << 32) + 1)]);
        let mut other = Counter::default();
        other.add(5, None, &budget);
        let at = (5 - other.base) as usize;
        other.cells[at] = u32::MAX;
        counter.absorb(other, &budget);
        assert_eq!(
            counter.entries(),
            [(5, (1 << 32) + 1 + u64::from(u32::MAX))]
        );
    }

    #[test]
    fn counters_merge_across_ranges_and_kinds() {
        let budget = budget();
        let (mut a, mut b, mut c) = (Counter::default(), Counter::default(), Counter::default());
        a.add(1, None, &budget);
        b.add(1000, None, &budget);
        b.add(1, None, &budget);
        b.nulls = 3;
        c.add(i64::MIN, None, &budget);
        c.add(i64::MAX, None, &budget);
        a.absorb(b, &budget);
        assert_eq!(a.entries(), [(1, 2), (1000, 1)]);
        a.absorb(c, &budget);
        assert_eq!(
            a.entries(),
            [(i64::MIN, 1), (1, 2), (1000, 1), (i64::MAX, 1)]
        );
        assert_eq!(a.nulls, 3);
    }

    #[test]
    fn an_exhausted_budget_means_hash_maps_not_errors() {
        let budget = Budget::new(16);
        let mut counter = Counter::default();
        counter.add(0, Some((0, 1000)), &budget);
        counter.add(500, None, &budget);
        assert!(counter.cells.len() <= 4);
        assert_eq!(counter.entries(), [(0, 1), (500, 1)]);
        let mut set = IntSet::default();
        set.insert(0, Some((0, 1 << 20)), &budget);
        set.insert(1 << 20, None, &budget);
        assert_eq!(set.members(), [0, 1 << 20]);
    }

    #[test]
    fn counters_and_sets_travel_as_they_are_kept() {
        let budget = budget();
        // An array with a cell carried past u32, a sparse counter, nulls.
        let mut array = Counter::default();
        for v in [5, 6, 6, 9] {
            array.add(v, Some((0, 20)), &budget);
        }
        array.cells[1] = u32::MAX;
        array.add(6, None, &budget);
        array.nulls = 3;
        let mut sparse = Counter::default();
        for v in [i64::MIN, 0, i64::MAX, 0] {
            sparse.add(v, None, &budget);
        }
        for counter in [array, sparse, Counter::default()] {
            let mut out = StateWriter::default();
            counter.encode(&mut out);
            let mut input = StateReader::new(&out.0);
            let back = Counter::decode(&mut input, &budget).unwrap();
            input.finish().unwrap();
            assert_eq!(back.entries(), counter.entries());
            assert_eq!(back.nulls, counter.nulls);
        }
        let mut bitmap = IntSet::default();
        for v in [70, 3, 64, 1000] {
            bitmap.insert(v, Some((0, 2000)), &budget);
        }
        let mut scattered = IntSet::default();
        for v in [i64::MIN, -1, i64::MAX] {
            scattered.insert(v, None, &budget);
        }
        for set in [bitmap, scattered, IntSet::default()] {
            let mut out = StateWriter::default();
            set.encode(&mut out);
            let mut input = StateReader::new(&out.0);
            let back = IntSet::decode(&mut input, &budget).unwrap();
            input.finish().unwrap();
            assert_eq!(back.members(), set.members());
        }
        // Short, long or garbage bytes are errors, never a panic.
        let mut out = StateWriter::default();
        IntSet::default().encode(&mut out);
        for bytes in [&out.0[..3], &[0xff; 40][..]] {
            let mut input = StateReader::new(bytes);
            assert!(IntSet::decode(&mut input, &budget).is_err() || input.finish().is_err());
            let mut input = StateReader::new(bytes);
            assert!(Counter::decode(&mut input, &budget).is_err() || input.finish().is_err());
        }
    }

    #[test]
    fn sets_are_bitmaps_that_merge_exactly() {
        let budget = budget();
        let (mut a, mut b) = (IntSet::default(), IntSet::default());
        for v in [3, 70, 3, 64] {
            a.insert(v, None, &budget);
        }
        for v in [-5, 70, 1 << 20] {
            b.insert(v, None, &budget);
        }
        assert!(a.sparse.is_none() && b.sparse.is_none());
        a.absorb(b, &budget);
        assert_eq!(a.members(), [-5, 3, 64, 70, 1 << 20]);
        assert_eq!(a.len(), 5);
        let mut far = IntSet::default();
        far.insert(i64::MAX, None, &budget);
        far.insert(i64::MIN, None, &budget);
        a.absorb(far, &budget);
        assert_eq!(a.len(), 7);
        assert_eq!(a.members()[0], i64::MIN);
    }
}
