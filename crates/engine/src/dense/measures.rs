//! What each aggregate of a dense aggregation computes, and how its per-group state grows,
//! merges and becomes a column.
//!
//! Every aggregate the dense path answers is one [`Measure`] of one value per row, taken
//! from the row where its condition holds (`then`) or does not (`otherwise`):
//! `count(*)` counts a constant, `count_if(c)` and `count(*) FILTER (WHERE c)` count a
//! constant where `c` holds, `sum(CASE WHEN c THEN x ELSE 0 END)` sums `x` where `c` holds and
//! `0` elsewhere. The condition is evaluated per dictionary entry when it reads one text column,
//! once per file when it reads partition columns only, else per row.
//!
//! Sums are exact: integers and decimals add up in `i128` and are checked against the result
//! type once, at the end (an overflow is an error, never a wrapped answer); floats add up in
//! `f64` (in another order than DataFusion's, as any parallel sum).

use std::fmt;
use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int32Array, Int64Array, UInt64Array,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Field};
use arrow::error::ArrowError;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

use super::cells::{StateReader, StateWriter};

/// What an aggregate computes from the values it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub(crate) enum Measure {
    /// How many values are not null.
    Count,
    /// How many distinct integers (of an integer column).
    Distinct,
    Sum,
    Min,
    Max,
    Avg,
}

impl Measure {
    fn name(self) -> &'static str {
        match self {
            Measure::Count | Measure::Distinct => "count",
            Measure::Sum => "sum",
            Measure::Min => "min",
            Measure::Max => "max",
            Measure::Avg => "avg",
        }
    }
}

/// How values are read and added up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub(crate) enum Domain {
    /// Integers, dates and timestamps, read as `Int64`.
    Integer,
    /// Decimals, read as this `Decimal128` type.
    Decimal(u8, i8),
    /// Floating point, read as `Float64`.
    Float,
}

impl Domain {
    /// The domain values of type `ty` are read in, for `measure` (dates and timestamps only
    /// order, they do not add up).
    pub(crate) fn of(ty: &DataType, measure: Measure) -> Option<Self> {
        let orders_only = matches!(measure, Measure::Min | Measure::Max | Measure::Count);
        Some(match ty {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => Domain::Integer,
            DataType::Date32 | DataType::Timestamp(..) if orders_only => Domain::Integer,
            DataType::Decimal128(p, s) => Domain::Decimal(*p, *s),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Domain::Float,
            _ => return None,
        })
    }

    /// The Arrow type a column is read as.
    pub(crate) fn read_type(&self) -> DataType {
        match self {
            Domain::Integer => DataType::Int64,
            Domain::Decimal(p, s) => DataType::Decimal128(*p, *s),
            Domain::Float => DataType::Float64,
        }
    }
}

/// Where an aggregate's value for a row comes from.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum Operand {
    /// No value (the row does not count).
    Null,
    /// The same value for every row, in the aggregate's domain (`i128` for integers and
    /// decimals' unscaled values, `f64` for floats).
    Constant(Number),
    /// A column of the table.
    Column(String),
}

impl Operand {
    pub(crate) fn column(&self) -> Option<&String> {
        match self {
            Operand::Column(c) => Some(c),
            _ => None,
        }
    }
}

/// A constant in an aggregate's domain.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    /// `value` as a number of `domain`, if it is a non-null number of that domain's type.
    pub(crate) fn of(value: &ScalarValue, domain: &Domain) -> Option<Self> {
        match domain {
            Domain::Integer => {
                let value = value.cast_to(&DataType::Int64).ok()?;
                match value {
                    ScalarValue::Int64(Some(v)) => Some(Number::Int(i128::from(v))),
                    _ => None,
                }
            }
            Domain::Decimal(p, s) => match value {
                ScalarValue::Decimal128(Some(v), vp, vs) if vp == p && vs == s => {
                    Some(Number::Int(*v))
                }
                _ => None,
            },
            Domain::Float => match value.cast_to(&DataType::Float64).ok()? {
                ScalarValue::Float64(Some(v)) => Some(Number::Float(v)),
                _ => None,
            },
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(v) => write!(f, "{v}"),
            Number::Float(v) => write!(f, "{v}"),
        }
    }
}

/// When an aggregate takes `then` rather than `otherwise`, by what the condition reads.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum Condition {
    /// Partition columns only: one answer per file.
    Partition(Expr),
    /// One text column: one answer per dictionary entry.
    Text(String, Expr),
    /// Other file columns: one answer per row.
    Row(Expr),
}

impl Condition {
    pub(crate) fn expr(&self) -> &Expr {
        match self {
            Condition::Partition(e) | Condition::Text(_, e) | Condition::Row(e) => e,
        }
    }
}

/// One aggregate of a dense aggregation.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) struct Aggregate {
    pub measure: Measure,
    pub domain: Domain,
    pub then: Operand,
    /// The value of rows the condition rejects (with no condition: unused).
    pub otherwise: Operand,
    pub condition: Option<Condition>,
}

impl Aggregate {
    /// True for `count(*)` (or `count` of any constant) without a condition: the group's rows.
    pub(crate) fn counts_rows(&self) -> bool {
        self.measure == Measure::Count
            && self.condition.is_none()
            && matches!(self.then, Operand::Constant(_))
    }

    /// The columns its operands read.
    pub(crate) fn operand_columns(&self) -> impl Iterator<Item = &String> {
        self.then
            .column()
            .into_iter()
            .chain(self.otherwise.column())
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operand = |o: &Operand| match o {
            Operand::Null => "NULL".to_string(),
            Operand::Constant(n) => n.to_string(),
            Operand::Column(c) => c.clone(),
        };
        let distinct = if self.measure == Measure::Distinct {
            "DISTINCT "
        } else {
            ""
        };
        let name = self.measure.name();
        match &self.condition {
            None if self.counts_rows() => write!(f, "count(*)"),
            None => write!(f, "{name}({distinct}{})", operand(&self.then)),
            Some(condition) => write!(
                f,
                "{name}({distinct}CASE WHEN {} THEN {} ELSE {} END)",
                condition.expr(),
                operand(&self.then),
                operand(&self.otherwise)
            ),
        }
    }
}

/// One operand's values in one batch.
#[derive(Clone, Copy)]
pub(crate) enum Values<'a> {
    Null,
    /// A column of any type, of which only nulls matter (for counts).
    Any(&'a dyn Array),
    Int(i128),
    Float(f64),
    Ints(&'a Int64Array),
    Decimals(&'a Decimal128Array),
    Floats(&'a Float64Array),
}

impl Values<'_> {
    #[inline(always)]
    pub(crate) fn is_valid(&self, i: usize) -> bool {
        match self {
            Values::Null => false,
            Values::Int(_) | Values::Float(_) => true,
            Values::Any(a) => a.is_valid(i),
            Values::Ints(a) => a.is_valid(i),
            Values::Decimals(a) => a.is_valid(i),
            Values::Floats(a) => a.is_valid(i),
        }
    }

    #[inline(always)]
    fn int(&self, i: usize) -> Option<i128> {
        match self {
            Values::Int(v) => Some(*v),
            Values::Ints(a) => a.is_valid(i).then(|| i128::from(a.value(i))),
            Values::Decimals(a) => a.is_valid(i).then(|| a.value(i)),
            _ => None,
        }
    }

    #[inline(always)]
    fn float(&self, i: usize) -> Option<f64> {
        match self {
            Values::Float(v) => Some(*v),
            Values::Floats(a) => a.is_valid(i).then(|| a.value(i)),
            _ => None,
        }
    }
}

/// Visits the rows of a batch that are counted, each with its group.
pub(crate) trait EachRow {
    fn each(&self, f: impl FnMut(usize, usize));

    /// As `each`, for the rows in `start..end` only.
    fn each_in(&self, start: usize, end: usize, f: impl FnMut(usize, usize));

    /// Where every row is visited and row `i`'s cell is `lanes * slots[i] + i % lanes`: the
    /// slots, `lanes`, and how many rows each slot has.
    fn laned_slots(&self) -> Option<(&[u32], usize, &[u64])> {
        None
    }
}

/// One aggregate's inputs in one batch.
pub(crate) struct Input<'a> {
    /// Rows where the condition holds (`None`: every row, or no condition, or a condition
    /// given per dictionary entry in `entries`).
    pub matched: Option<BooleanBuffer>,
    /// A condition on one text column, per dictionary entry: the column (an index into the
    /// batch's entry columns) and whether each entry (the last: null) passes.
    pub entries: Option<(usize, &'a [bool])>,
    pub then: Values<'a>,
    pub otherwise: Values<'a>,
    /// The range the statistics promise for a `count(DISTINCT)` input.
    pub hint: Option<(i64, i64)>,
}

impl<'a> Input<'a> {
    /// An aggregate's input without a condition (`sum(x)`): every row's value of `then`.
    pub(crate) fn every_row(then: Values<'a>) -> Self {
        Self {
            matched: None,
            entries: None,
            then,
            otherwise: Values::Null,
            hint: None,
        }
    }

    /// Whether row `i` contributes a value (for counts).
    #[inline(always)]
    pub(crate) fn counts(&self, i: usize) -> bool {
        match &self.matched {
            Some(m) if !m.value(i) => self.otherwise.is_valid(i),
            _ => self.then.is_valid(i),
        }
    }

    #[inline(always)]
    fn int(&self, i: usize) -> Option<i128> {
        match &self.matched {
            Some(m) if !m.value(i) => self.otherwise.int(i),
            _ => self.then.int(i),
        }
    }

    #[inline(always)]
    fn float(&self, i: usize) -> Option<f64> {
        match &self.matched {
            Some(m) if !m.value(i) => self.otherwise.float(i),
            _ => self.then.float(i),
        }
    }

    /// The integer rows of a `count(DISTINCT)` whose value is taken: the `then` column where
    /// the condition holds.
    #[inline(always)]
    pub(crate) fn distinct_value(&self, i: usize) -> Option<i64> {
        if let Some(m) = &self.matched
            && !m.value(i)
        {
            return None;
        }
        match &self.then {
            Values::Ints(a) => a.is_valid(i).then(|| a.value(i)),
            _ => None,
        }
    }
}

/// Which aggregates share one stream of values: per aggregate, the earlier aggregate whose
/// per-group state answers it too (`None`: it keeps its own). `sum(price)`, `min(price)`,
/// `max(price)`, `avg(price)` and `count(price)` read the same values under the same
/// condition, so one pass keeps one [`IntCell`] per group for all five.
pub(crate) fn shared_streams(aggregates: &[Aggregate]) -> Vec<Option<usize>> {
    let numeric = |a: &Aggregate| {
        matches!(
            a.measure,
            Measure::Sum | Measure::Min | Measure::Max | Measure::Avg
        )
    };
    let mut leaders: Vec<Option<usize>> = Vec::with_capacity(aggregates.len());
    for (i, aggregate) in aggregates.iter().enumerate() {
        let joins = |leader: &Aggregate| {
            numeric(leader)
                && leader.then == aggregate.then
                && leader.otherwise == aggregate.otherwise
                && leader.condition == aggregate.condition
                // A count only asks which values are null, whatever they read as.
                && ((numeric(aggregate) && leader.domain == aggregate.domain)
                    || (aggregate.measure == Measure::Count && !aggregate.counts_rows()))
        };
        let leader = (0..i).find(|&l| leaders[l].is_none() && joins(&aggregates[l]));
        leaders.push(leader);
    }
    leaders
}

/// Per group, what a stream of integers or decimals (unscaled) added up to: exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct IntCell {
    /// How many values (not nulls) the group took.
    n: u64,
    sum: i128,
    /// `i128::MAX` and `i128::MIN` until the first value: no branch per row.
    min: i128,
    max: i128,
}

impl Default for IntCell {
    fn default() -> Self {
        Self {
            n: 0,
            sum: 0,
            min: i128::MAX,
            max: i128::MIN,
        }
    }
}

impl IntCell {
    /// Adds `v`; the sum only where `EXTREMES` is false.
    #[inline(always)]
    fn add<const EXTREMES: bool>(&mut self, v: i128, wrapped: &mut bool) {
        let (sum, o) = self.sum.overflowing_add(v);
        self.sum = sum;
        *wrapped |= o;
        if EXTREMES {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
    }

    /// Adds `v` `times` times at once.
    #[inline(always)]
    fn add_times(&mut self, v: i128, times: u64, wrapped: &mut bool) {
        match v.checked_mul(i128::from(times)) {
            Some(total) => {
                let (sum, o) = self.sum.overflowing_add(total);
                self.sum = sum;
                *wrapped |= o;
            }
            None => *wrapped = true,
        }
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.n += times;
    }

    /// Adds `v`, an `i64`: its sum cannot pass `i128` before 2^64 values.
    #[inline(always)]
    fn add_i64<const EXTREMES: bool>(&mut self, v: i64) {
        let v = i128::from(v);
        self.sum += v;
        if EXTREMES {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
    }
}

/// Per group, what a stream of floats added up to.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct FloatCell {
    n: u64,
    sum: f64,
    /// Ordered as `f64::total_cmp` orders them; meaningless while `n` is 0.
    min: f64,
    max: f64,
}

impl FloatCell {
    #[inline(always)]
    fn add(&mut self, v: f64) {
        self.sum += v;
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        } else {
            if v.total_cmp(&self.min).is_lt() {
                self.min = v;
            }
            if v.total_cmp(&self.max).is_gt() {
                self.max = v;
            }
        }
        self.n += 1;
    }

    fn absorb(&mut self, other: &FloatCell) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        self.sum += other.sum;
        if other.min.total_cmp(&self.min).is_lt() {
            self.min = other.min;
        }
        if other.max.total_cmp(&self.max).is_gt() {
            self.max = other.max;
        }
        self.n += other.n;
    }
}

/// One batch's `bigint` values per slot lane, added up in 64 bits: no carry chain per row
/// and half the bytes of an [`IntCell`]. A lane's true sum lies between `n * min` and
/// `n * max`; where that range is narrower than 2^64 the wrapped sum tells it exactly
/// ([`Numbers::absorb_narrow`]), and a batch with a wider lane is added again in 128 bits.
///
/// Where no aggregate of the stream asks for extremes, lanes keep only counts and sums: the
/// batch's own range bounds every lane's (one check per batch, not two per row).
#[derive(Debug, Default)]
pub(crate) struct NarrowInts {
    extremes: bool,
    /// Without extremes: the batch's smallest value, the floor of every lane's true sum.
    floor: i64,
    cells: Vec<NarrowCell>,
}

#[derive(Debug, Clone, Copy)]
struct NarrowCell {
    n: u64,
    /// The sum, wrapped at 64 bits.
    sum: i64,
    min: i64,
    max: i64,
}

impl Default for NarrowCell {
    fn default() -> Self {
        Self {
            n: 0,
            sum: 0,
            min: i64::MAX,
            max: i64::MIN,
        }
    }
}

impl NarrowCell {
    #[inline(always)]
    fn add(&mut self, v: i64) {
        self.n += 1;
        self.sum = self.sum.wrapping_add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    #[inline(always)]
    fn add_sum(&mut self, v: i64) {
        self.n += 1;
        self.sum = self.sum.wrapping_add(v);
    }

    /// Whether the wrapped sum tells the true one (see [`NarrowInts`]).
    fn exact(&self) -> bool {
        self.n == 0
            || (i128::from(self.max) - i128::from(self.min)) * i128::from(self.n) < (1i128 << 64)
    }
}

impl NarrowInts {
    /// Prepares `lanes` empty lanes for `numbers`' values; false if they are not `bigint`s.
    pub(crate) fn prepare(&mut self, numbers: &Numbers, lanes: usize) -> bool {
        let Numbers::Ints {
            scale: 0, extremes, ..
        } = numbers
        else {
            return false;
        };
        self.extremes = *extremes;
        if self.cells.len() != lanes {
            self.cells = vec![NarrowCell::default(); lanes];
        }
        true
    }

    /// Adds the value of each row `rows` visits to its lane; false (and the lanes emptied) if
    /// a lane's values lie too far apart for its 64-bit sum to be exact.
    pub(crate) fn update(&mut self, array: &Int64Array, rows: &impl EachRow) -> bool {
        let cells = &mut self.cells;
        if !self.extremes {
            // Over every slot, nulls' too (any number there only widens the range).
            if array.is_empty() {
                return true;
            }
            let Some(floor) = window_floor(array.values()) else {
                return false;
            };
            self.floor = floor;
            if let Some((slots, lanes, slot_rows)) = rows.laned_slots() {
                let space = cells.len() / lanes;
                macro_rules! few {
                    ($($s:literal)*) => {
                        match space {
                            $($s => return add_few_slots::<$s>(array, slots, slot_rows, lanes, cells),)*
                            _ => {}
                        }
                    };
                }
                few!(1 2 3 4 5 6 7 8);
            }
            each_value(
                array,
                rows,
                #[inline(always)]
                |v, g| cells[g].add_sum(v),
            );
            return true;
        }
        each_value(
            array,
            rows,
            #[inline(always)]
            |v, g| cells[g].add(v),
        );
        if self.cells.iter().all(NarrowCell::exact) {
            return true;
        }
        self.cells.fill(NarrowCell::default());
        false
    }

    pub(crate) fn clear(&mut self, lane: usize) {
        self.cells[lane] = NarrowCell::default();
    }
}

/// The floor of a window holding every one of `values` (nulls' slots too) narrow enough that
/// any lane of `n` of them (at most all) sums within `[n * floor, n * floor + 2^64)`, so that its wrapped
/// 64-bit sum tells the true one ([`Numbers::absorb_narrow`]); `None` if they lie too far
/// apart. `values` is not empty.
///
/// First a guess, without a comparison per value (64-bit compares are not in baseline x86-64,
/// so a minimum and maximum would be a scalar loop): a window of width `2^64 / len` around the
/// first value, checked by or-ing every value's wrapped distance above its floor (one pass the
/// compiler vectorizes). Values wider apart than that are measured by their minimum and
/// maximum.
fn window_floor(values: &[i64]) -> Option<i64> {
    let n = values.len() as u128;
    // n values at most, each less than 2^bits above the floor: below n * 2^bits <= 2^64.
    let bits = 64 - n.next_power_of_two().trailing_zeros().min(64);
    let width = 1i128 << bits;
    // The window must not pass i64::MAX: then a wrapped distance below `width` is a true one.
    let guess = (i128::from(values[0]) - width / 2)
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX) - (width - 1)) as i64;
    let spread = (values.iter()).fold(0u64, |acc, &v| acc | v.wrapping_sub(guess) as u64);
    if u128::from(spread) < width as u128 {
        return Some(guess);
    }
    let (low, high) =
        (values.iter()).fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    // A lane of n values sums within [n * low, n * low + n * (high - low)].
    let spread = (i128::from(high) - i128::from(low)) * n as i128;
    (spread < 1i128 << 64).then_some(low)
}

/// Adds each row's value to the first lane of its slot, `S` slots in all (see
/// [`EachRow::laned_slots`]; `slot_rows` the rows of each); true. Each slot's wrapped sum is
/// kept in registers over the whole batch, every row compared with every slot, which the
/// compiler vectorizes: no row waits for the previous row's addition to be stored, whatever
/// the order of slots. Nulls are added like values, then taken out, from the sums and from
/// the slots' rows.
fn add_few_slots<const S: usize>(
    array: &Int64Array,
    slots: &[u32],
    slot_rows: &[u64],
    lanes: usize,
    cells: &mut [NarrowCell],
) -> bool {
    let values = array.values();
    debug_assert_eq!(values.len(), slots.len());
    debug_assert_eq!(slot_rows[..S].iter().sum::<u64>(), slots.len() as u64);
    let mut sums = [0i64; S];
    for (&v, &slot) in values.iter().zip(slots) {
        for (k, sum) in sums.iter_mut().enumerate() {
            let hit = i64::from(slot == k as u32);
            *sum = sum.wrapping_add(v & hit.wrapping_neg());
        }
    }
    let mut counts: [u64; S] = std::array::from_fn(|k| slot_rows[k]);
    if let Some(nulls) = array.nulls() {
        let mut take_out = |rows: Range<usize>| {
            for i in rows {
                let slot = slots[i] as usize;
                sums[slot] = sums[slot].wrapping_sub(values[i]);
                counts[slot] -= 1;
            }
        };
        let mut at = 0;
        for (start, end) in nulls.inner().set_slices() {
            take_out(at..start);
            at = end;
        }
        take_out(at..values.len());
    }
    for (k, (sum, n)) in sums.into_iter().zip(counts).enumerate() {
        let cell = &mut cells[lanes * k];
        cell.n += n;
        cell.sum = cell.sum.wrapping_add(sum);
    }
    true
}

/// One stream of values per group: how many, their sum, minimum and maximum, kept in one
/// cell so that every aggregate of the stream (see [`shared_streams`]) is one pass.
#[derive(Debug)]
pub(crate) enum Numbers {
    /// Integers and decimals (unscaled): exact.
    Ints {
        /// The scale of the values (decimals), 0 for integers.
        scale: i8,
        /// Whether minima and maxima are asked for (sums and counts always are kept).
        extremes: bool,
        cells: Vec<IntCell>,
        /// Set once a sum passed `i128`.
        overflow: bool,
    },
    Floats {
        cells: Vec<FloatCell>,
    },
}

impl Numbers {
    pub(crate) fn new(domain: &Domain) -> Self {
        match domain {
            Domain::Float => Numbers::Floats { cells: Vec::new() },
            Domain::Integer | Domain::Decimal(..) => Numbers::Ints {
                scale: match domain {
                    Domain::Decimal(_, scale) => *scale,
                    _ => 0,
                },
                extremes: false,
                cells: Vec::new(),
                overflow: false,
            },
        }
    }

    /// Keeps what `measure` needs too.
    pub(crate) fn answer(&mut self, measure: Measure) {
        if let Numbers::Ints { extremes, .. } = self {
            *extremes |= matches!(measure, Measure::Min | Measure::Max);
        }
    }

    /// Room for one more group.
    pub(crate) fn push(&mut self) {
        match self {
            Numbers::Ints { cells, .. } => cells.push(IntCell::default()),
            Numbers::Floats { cells } => cells.push(FloatCell::default()),
        }
    }

    /// Whether integers or decimals are added up (exactly, in any order).
    pub(crate) fn is_exact(&self) -> bool {
        matches!(self, Numbers::Ints { .. })
    }

    /// `len` empty cells, kept as `self` keeps them.
    pub(crate) fn empty_like(&self, len: usize) -> Self {
        match self {
            Numbers::Ints {
                scale, extremes, ..
            } => Numbers::Ints {
                scale: *scale,
                extremes: *extremes,
                cells: vec![IntCell::default(); len],
                overflow: false,
            },
            Numbers::Floats { .. } => Numbers::Floats {
                cells: vec![FloatCell::default(); len],
            },
        }
    }

    /// How many groups it has cells for.
    pub(crate) fn len(&self) -> usize {
        match self {
            Numbers::Ints { cells, .. } => cells.len(),
            Numbers::Floats { cells } => cells.len(),
        }
    }

    /// Empties cell `g`.
    pub(crate) fn clear(&mut self, g: usize) {
        match self {
            Numbers::Ints { cells, .. } => cells[g] = IntCell::default(),
            Numbers::Floats { cells } => cells[g] = FloatCell::default(),
        }
    }

    /// Adds the integer `v` to group `g` `times` times (rows whose value is a constant).
    pub(crate) fn add_times(&mut self, g: usize, v: i128, times: u64) {
        if let Numbers::Ints {
            cells, overflow, ..
        } = self
        {
            cells[g].add_times(v, times, overflow);
        }
    }

    /// Bytes one group takes.
    pub(crate) const fn group_bytes() -> usize {
        std::mem::size_of::<IntCell>()
    }

    /// Adds the value of each row `rows` visits to its group.
    pub(crate) fn update(&mut self, input: &Input<'_>, rows: &impl EachRow) {
        match self {
            Numbers::Ints {
                extremes: true,
                cells,
                overflow,
                ..
            } => *overflow |= fold_ints::<true>(cells, input, rows),
            Numbers::Ints {
                extremes: false,
                cells,
                overflow,
                ..
            } => *overflow |= fold_ints::<false>(cells, input, rows),
            Numbers::Floats { cells } => rows.each(
                #[inline(always)]
                |i, g| {
                    if let Some(v) = input.float(i) {
                        cells[g].add(v);
                    }
                },
            ),
        }
    }

    /// Merges lane `lane` of `narrow` (one batch's values) into group `g`.
    pub(crate) fn absorb_narrow(&mut self, g: usize, narrow: &NarrowInts, lane: usize) {
        let c = narrow.cells[lane];
        let Numbers::Ints {
            cells, overflow, ..
        } = self
        else {
            unreachable!("narrow cells are taken for integers only")
        };
        if c.n == 0 {
            return;
        }
        // The true sum is in [floor * n, floor * n + 2^64): the wrapped difference is exact.
        let floor = match narrow.extremes {
            true => c.min,
            false => narrow.floor,
        };
        let low = i128::from(floor) * i128::from(c.n);
        let above = c.sum.wrapping_sub(low as i64) as u64;
        let cell = &mut cells[g];
        let (sum, o) = cell.sum.overflowing_add(low + i128::from(above));
        cell.sum = sum;
        *overflow |= o;
        cell.n += c.n;
        if narrow.extremes {
            cell.min = cell.min.min(i128::from(c.min));
            cell.max = cell.max.max(i128::from(c.max));
        }
    }

    /// Merges group `theirs` of `other` into group `ours`.
    pub(crate) fn absorb(&mut self, ours: usize, other: &Numbers, theirs: usize) {
        match (self, other) {
            (
                Numbers::Ints {
                    cells, overflow, ..
                },
                Numbers::Ints {
                    cells: other_cells,
                    overflow: other_overflow,
                    ..
                },
            ) => {
                let (cell, other) = (&mut cells[ours], &other_cells[theirs]);
                let (sum, o) = cell.sum.overflowing_add(other.sum);
                cell.sum = sum;
                cell.min = cell.min.min(other.min);
                cell.max = cell.max.max(other.max);
                cell.n += other.n;
                *overflow |= o || *other_overflow;
            }
            (
                Numbers::Floats { cells },
                Numbers::Floats {
                    cells: other_cells, ..
                },
            ) => cells[ours].absorb(&other_cells[theirs]),
            _ => unreachable!("workers keep the same kinds of numbers"),
        }
    }

    /// Writes group `g`'s cell (and whether a sum overflowed: it travels with every cell).
    pub(crate) fn encode(&self, g: usize, out: &mut StateWriter) {
        match self {
            Numbers::Ints {
                cells, overflow, ..
            } => {
                let c = &cells[g];
                out.u8(u8::from(*overflow));
                out.u64(c.n);
                out.i128(c.sum);
                out.i128(c.min);
                out.i128(c.max);
            }
            Numbers::Floats { cells } => {
                let c = &cells[g];
                out.u64(c.n);
                out.f64(c.sum);
                out.f64(c.min);
                out.f64(c.max);
            }
        }
    }

    /// Merges a cell [`Numbers::encode`] wrote (of numbers kept as these are) into group `g`.
    pub(crate) fn absorb_encoded(&mut self, g: usize, input: &mut StateReader<'_>) -> Result<()> {
        let theirs = match self {
            Numbers::Ints {
                scale, extremes, ..
            } => {
                let overflow = input.u8()? != 0;
                let cell = IntCell {
                    n: input.u64()?,
                    sum: input.i128()?,
                    min: input.i128()?,
                    max: input.i128()?,
                };
                Numbers::Ints {
                    scale: *scale,
                    extremes: *extremes,
                    cells: vec![cell],
                    overflow,
                }
            }
            Numbers::Floats { .. } => Numbers::Floats {
                cells: vec![FloatCell {
                    n: input.u64()?,
                    sum: input.f64()?,
                    min: input.f64()?,
                    max: input.f64()?,
                }],
            },
        };
        self.absorb(g, &theirs, 0);
        Ok(())
    }

    /// Group `g`'s answer to `measure`, as gathered (`None`: no values, SQL's NULL; a count
    /// is never NULL).
    pub(crate) fn value(&self, g: usize, measure: Measure) -> Gathered {
        let (n, sum, min, max) = match self {
            Numbers::Ints { cells, scale, .. } => {
                let c = &cells[g];
                if measure == Measure::Avg && c.n > 0 {
                    return Gathered::Mean {
                        sum: c.sum,
                        n: c.n,
                        scale: *scale,
                    };
                }
                let int = Gathered::Int;
                (c.n, int(c.sum), int(c.min), int(c.max))
            }
            Numbers::Floats { cells } => {
                let c = &cells[g];
                let float = Gathered::Float;
                (c.n, float(c.sum), float(c.min), float(c.max))
            }
        };
        match (n, measure, sum) {
            (_, Measure::Count | Measure::Distinct, _) => Gathered::Int(i128::from(n)),
            (0, ..) => Gathered::Null,
            (_, Measure::Sum, _) => sum,
            (_, Measure::Min, _) => min,
            (_, Measure::Max, _) => max,
            (_, Measure::Avg, Gathered::Float(s)) => Gathered::Float(s / n as f64),
            (_, Measure::Avg, _) => unreachable!("integer means are answered above"),
        }
    }

    /// Whether a sum passed the range of `i128`.
    pub(crate) fn overflowed(&self) -> bool {
        matches!(self, Numbers::Ints { overflow: true, .. })
    }
}

/// Calls `f(value, group)` for each value (not null) of `array` at a row `rows` visits: runs of
/// values between the nulls, with no test per row.
#[inline(always)]
fn each_value(array: &Int64Array, rows: &impl EachRow, mut f: impl FnMut(i64, usize)) {
    let values = array.values();
    match array.nulls() {
        None => rows.each(
            #[inline(always)]
            |i, g| f(values[i], g),
        ),
        Some(nulls) => {
            for (start, end) in nulls.inner().set_slices() {
                rows.each_in(
                    start,
                    end,
                    #[inline(always)]
                    |i, g| f(values[i], g),
                );
            }
        }
    }
}

/// Adds a batch of integers or decimals to their groups' cells; true if a sum wrapped.
///
/// The common cases get loops of their own: an `i64` column, without a condition or with one
/// and a constant (or nothing) elsewhere (`sum(CASE WHEN c THEN x ELSE 0 END)`,
/// `max(CASE WHEN c THEN x END)`).
fn fold_ints<const EXTREMES: bool>(
    cells: &mut [IntCell],
    input: &Input<'_>,
    rows: &impl EachRow,
) -> bool {
    let mut wrapped = false;
    match (&input.matched, &input.then, &input.otherwise) {
        (None, Values::Ints(array), _) => {
            each_value(
                array,
                rows,
                #[inline(always)]
                |v, g| cells[g].add_i64::<EXTREMES>(v),
            );
        }
        (Some(matched), Values::Ints(array), Values::Null | Values::Int(_)) => {
            let values = array.values();
            let nulls = array.nulls();
            let otherwise = match input.otherwise {
                Values::Int(v) => Some(v),
                _ => None,
            };
            rows.each(
                #[inline(always)]
                |i, g| {
                    if matched.value(i) {
                        if nulls.is_none_or(|b| b.is_valid(i)) {
                            cells[g].add_i64::<EXTREMES>(values[i]);
                        }
                    } else if let Some(v) = otherwise {
                        cells[g].add::<EXTREMES>(v, &mut wrapped);
                    }
                },
            );
        }
        _ => rows.each(
            #[inline(always)]
            |i, g| {
                if let Some(v) = input.int(i) {
                    cells[g].add::<EXTREMES>(v, &mut wrapped);
                }
            },
        ),
    }
    wrapped
}

/// One group's answer to one aggregate, before it becomes a column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gathered {
    Null,
    Int(i128),
    Float(f64),
    /// The mean of `n` integers or decimals of `scale` adding up to `sum`: a float, or a
    /// decimal of the result's scale (truncated, as DataFusion's decimal `avg`).
    Mean {
        sum: i128,
        n: u64,
        scale: i8,
    },
}

/// The column of `field`'s type holding `values`; a sum that does not fit the type is an
/// overflow error naming the aggregate, never a wrapped number.
pub(crate) fn column_of(values: &[Gathered], field: &Field) -> Result<ArrayRef> {
    let overflow = || {
        ArrowError::ArithmeticOverflow(format!(
            "{} overflows {}: the exact sum does not fit the result type",
            field.name(),
            field.data_type()
        ))
    };
    let ints = || {
        values.iter().map(|v| match v {
            Gathered::Int(v) => Some(*v),
            _ => None,
        })
    };
    let array: ArrayRef = match field.data_type() {
        DataType::Float64 | DataType::Float32 | DataType::Float16 => {
            let floats: Float64Array = values
                .iter()
                .map(|v| match v {
                    Gathered::Float(f) => Some(*f),
                    Gathered::Int(i) => Some(*i as f64),
                    Gathered::Mean { sum, n, scale: 0 } => Some(*sum as f64 / *n as f64),
                    Gathered::Mean { sum, n, scale } => {
                        Some(*sum as f64 / 10f64.powi(i32::from(*scale)) / *n as f64)
                    }
                    Gathered::Null => None,
                })
                .collect();
            std::sync::Arc::new(floats)
        }
        DataType::Decimal128(p, s) => {
            let max = 10i128.checked_pow(u32::from(*p)).unwrap_or(i128::MAX);
            let decimal = |v: &Gathered| -> std::result::Result<Option<i128>, ArrowError> {
                let v = match *v {
                    Gathered::Null => return Ok(None),
                    Gathered::Int(v) => Some(v),
                    Gathered::Mean { sum, n, scale } => u32::try_from(*s - scale)
                        .ok()
                        .and_then(|up| sum.checked_mul(10i128.checked_pow(up)?))
                        .map(|scaled| scaled / i128::from(n)),
                    Gathered::Float(_) => None,
                };
                match v {
                    Some(v) if v.unsigned_abs() < max.unsigned_abs() => Ok(Some(v)),
                    _ => Err(overflow()),
                }
            };
            let decimals = values
                .iter()
                .map(decimal)
                .collect::<std::result::Result<Decimal128Array, _>>()?;
            std::sync::Arc::new(decimals.with_precision_and_scale(*p, *s)?)
        }
        DataType::UInt64 => std::sync::Arc::new(
            ints()
                .map(|v| v.map(u64::try_from).transpose().map_err(|_| overflow()))
                .collect::<std::result::Result<UInt64Array, _>>()?,
        ),
        DataType::Date32 => {
            let days = ints()
                .map(|v| v.map(i32::try_from).transpose().map_err(|_| overflow()))
                .collect::<std::result::Result<Int32Array, _>>()?;
            arrow::compute::cast(&days, &DataType::Date32)?
        }
        other => {
            let wide = ints()
                .map(|v| v.map(i64::try_from).transpose().map_err(|_| overflow()))
                .collect::<std::result::Result<Int64Array, _>>()?;
            if other == &DataType::Int64 {
                std::sync::Arc::new(wide)
            } else {
                let options = arrow::compute::CastOptions {
                    safe: false,
                    ..Default::default()
                };
                arrow::compute::cast_with_options(&wide, other, &options)?
            }
        }
    };
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(values: &[Option<i64>]) -> Int64Array {
        values.iter().copied().collect()
    }

    struct Visits<'a>(&'a [usize]);

    impl EachRow for Visits<'_> {
        fn each(&self, f: impl FnMut(usize, usize)) {
            self.each_in(0, self.0.len(), f)
        }

        fn each_in(&self, start: usize, end: usize, mut f: impl FnMut(usize, usize)) {
            for (i, &g) in self.0.iter().enumerate().take(end).skip(start) {
                f(i, g)
            }
        }
    }

    /// Where a batch's values start: anywhere, or next to either end of `bigint`.
    fn bases() -> impl proptest::strategy::Strategy<Value = i64> {
        proptest::prop_oneof![
            proptest::num::i64::ANY,
            proptest::strategy::Just(i64::MAX - 1_000),
            proptest::strategy::Just(i64::MIN),
        ]
    }

    /// Rows in slots, `LANES` lanes each, as `dense::groups` visits them, and each slot's rows.
    struct Slotted<'a>(&'a [u32], Vec<u64>);

    impl<'a> Slotted<'a> {
        fn new(slots: &'a [u32], space: usize) -> Self {
            let mut rows = vec![0; space];
            slots.iter().for_each(|&s| rows[s as usize] += 1);
            Self(slots, rows)
        }
    }

    const LANES: usize = 2;

    impl EachRow for Slotted<'_> {
        fn each(&self, f: impl FnMut(usize, usize)) {
            self.each_in(0, self.0.len(), f)
        }

        fn each_in(&self, start: usize, end: usize, mut f: impl FnMut(usize, usize)) {
            for i in start..end {
                f(i, LANES * self.0[i] as usize + i % LANES)
            }
        }

        fn laned_slots(&self) -> Option<(&[u32], usize, &[u64])> {
            Some((self.0, LANES, &self.1))
        }
    }

    proptest::proptest! {
        /// The window a batch's narrow sums rest on holds every value, is narrow enough for
        /// any lane of the batch, and is refused only where no window is.
        #[test]
        fn windows_hold_their_values(
            base in proptest::prop_oneof![bases(), -10i64..10],
            picks in proptest::collection::vec((0u8..5, proptest::num::i64::ANY), 1..40),
        ) {
            let values: Vec<i64> = (picks.iter())
                .map(|&(kind, x)| match kind {
                    0 => base.saturating_add(x.rem_euclid(1_000)),
                    1 => base.saturating_add(x % (1 << 52)),
                    2 => x,
                    // Near either end: a window around one must not wrap around to the other.
                    3 => i64::MIN + x.rem_euclid(1 << 52),
                    _ => i64::MAX - x.rem_euclid(1 << 52),
                })
                .collect();
            let n = values.len() as i128;
            let (low, high) = (values.iter().min().unwrap(), values.iter().max().unwrap());
            match window_floor(&values) {
                Some(floor) => {
                    proptest::prop_assert!(floor <= *low);
                    proptest::prop_assert!(
                        (i128::from(*high) - i128::from(floor)) * n < (1i128 << 64)
                    );
                }
                None => proptest::prop_assert!(
                    (i128::from(*high) - i128::from(*low)) * n >= (1i128 << 64)
                ),
            }
        }

        /// Sums and counts by slot, kept in registers where slots are few (nulls added, then
        /// taken out), answer what wide cells answer row by row, near the ends of `bigint` too.
        #[test]
        fn few_slots_sum_as_rows_do(
            base in bases(),
            rows in proptest::collection::vec(
                (proptest::option::of(0i64..1_000), proptest::num::u32::ANY),
                0..300,
            ),
            space in 1usize..11,
            batches in 1usize..3,
        ) {
            let mut wide = Numbers::new(&Domain::Integer);
            wide.answer(Measure::Sum);
            let mut narrow = Numbers::new(&Domain::Integer);
            narrow.answer(Measure::Sum);
            for _ in 0..space {
                wide.push();
                narrow.push();
            }
            let mut lanes_of = NarrowInts::default();
            let cut = rows.len() / batches;
            for batch in [&rows[..cut], &rows[cut..]] {
                // A null row holds a number near the others (as a writer may leave it).
                let values: Vec<i64> = (batch.iter())
                    .map(|(o, s)| base.saturating_add(o.unwrap_or(i64::from(*s % 1_000))))
                    .collect();
                let valid: Vec<bool> = batch.iter().map(|(o, _)| o.is_some()).collect();
                let slots: Vec<u32> = batch.iter().map(|(_, s)| s % space as u32).collect();
                let array = Int64Array::new(values.into(), Some(valid.into()));
                let input = Input::every_row(Values::Ints(&array));
                let mut cells = wide.empty_like(LANES * space);
                let slotted = Slotted::new(&slots, space);
                cells.update(&input, &slotted);
                proptest::prop_assert!(lanes_of.prepare(&narrow, LANES * space));
                proptest::prop_assert!(lanes_of.update(&array, &slotted));
                for lane in 0..LANES * space {
                    wide.absorb(lane / LANES, &cells, lane);
                    narrow.absorb_narrow(lane / LANES, &lanes_of, lane);
                    lanes_of.clear(lane);
                }
            }
            for g in 0..space {
                for m in [Measure::Sum, Measure::Count] {
                    proptest::prop_assert_eq!(
                        format!("{:?}", narrow.value(g, m)),
                        format!("{:?}", wide.value(g, m))
                    );
                }
            }
        }

        /// Narrow lanes absorbed into groups answer what 128-bit cells answer, wherever the
        /// values lie (near the ends of `bigint` too: the 64-bit sums wrap many times), or
        /// decline the batch when its values are too far apart for 64 bits (per lane with
        /// extremes, over the batch without).
        #[test]
        fn narrow_lanes_agree_with_wide_cells(
            base in proptest::prop_oneof![bases(), -10i64..10],
            offsets in proptest::collection::vec(
                proptest::option::of(proptest::prop_oneof![0i64..1_000, proptest::num::i64::ANY]),
                1..300,
            ),
            lanes in proptest::collection::vec(0usize..6, 300),
            extremes: bool,
        ) {
            let values: Vec<Option<i64>> = offsets
                .iter()
                .map(|o| o.map(|o| base.saturating_add(o)))
                .collect();
            let array = ints(&values);
            let visits = &lanes[..values.len()];
            let measure = if extremes { Measure::Max } else { Measure::Sum };
            let mut wide = Numbers::new(&Domain::Integer);
            wide.answer(measure);
            let mut narrow = Numbers::new(&Domain::Integer);
            narrow.answer(measure);
            for _ in 0..3 {
                wide.push();
                narrow.push();
            }
            let input = Input::every_row(Values::Ints(&array));
            let mut cells = wide.empty_like(6);
            cells.update(&input, &Visits(visits));
            let mut lanes_of = NarrowInts::default();
            proptest::prop_assert!(lanes_of.prepare(&narrow, 6));
            let fits = lanes_of.update(&array, &Visits(visits));
            let exact = (0..6).all(|lane| {
                let lane: Vec<i64> = visits
                    .iter()
                    .zip(&values)
                    .filter(|(g, _)| **g == lane)
                    .filter_map(|(_, v)| *v)
                    .collect();
                match (lane.iter().min(), lane.iter().max()) {
                    (Some(lo), Some(hi)) => {
                        (i128::from(*hi) - i128::from(*lo)) * (lane.len() as i128) < (1i128 << 64)
                    }
                    _ => true,
                }
            });
            // Without extremes, one range for the batch (over every slot, nulls' too): what
            // it takes, lanes take too.
            let batch: Vec<i64> = array.values().to_vec();
            let within = match (batch.iter().min(), batch.iter().max()) {
                (Some(lo), Some(hi)) => {
                    (i128::from(*hi) - i128::from(*lo)) * (values.len() as i128) < (1i128 << 64)
                }
                _ => true,
            };
            proptest::prop_assert_eq!(fits, if extremes { exact } else { within });
            proptest::prop_assert!(!fits || exact);
            for lane in 0..6 {
                wide.absorb(lane / 2, &cells, lane);
                if fits {
                    narrow.absorb_narrow(lane / 2, &lanes_of, lane);
                } else {
                    narrow.absorb(lane / 2, &cells, lane);
                }
            }
            for g in 0..3 {
                for m in [Measure::Sum, Measure::Count, Measure::Max, Measure::Min] {
                    if !extremes && matches!(m, Measure::Max | Measure::Min) {
                        continue;
                    }
                    proptest::prop_assert_eq!(
                        format!("{:?}", narrow.value(g, m)),
                        format!("{:?}", wide.value(g, m))
                    );
                }
            }
        }
    }

    fn run(measure: Measure, input: &Input<'_>, groups: &[usize]) -> Numbers {
        let mut numbers = Numbers::new(&Domain::Integer);
        numbers.answer(measure);
        for _ in 0..=*groups.iter().max().unwrap() {
            numbers.push();
        }
        numbers.update(input, &Visits(groups));
        numbers
    }

    #[test]
    fn conditional_sums_take_then_where_the_condition_holds_and_otherwise_elsewhere() {
        let x = ints(&[Some(5), None, Some(7), Some(100)]);
        let input = Input {
            matched: Some(BooleanBuffer::from(vec![true, true, false, false])),
            entries: None,
            then: Values::Ints(&x),
            otherwise: Values::Int(0),
            hint: None,
        };
        let numbers = run(Measure::Sum, &input, &[0, 0, 0, 1]);
        assert!(matches!(numbers.value(0, Measure::Sum), Gathered::Int(5)));
        assert!(matches!(numbers.value(1, Measure::Sum), Gathered::Int(0)));
        // The null in the matched rows is not a value; both `otherwise` zeros are.
        assert!(matches!(numbers.value(0, Measure::Count), Gathered::Int(2)));
        // Without ELSE, a group of unmatched rows has no value: NULL.
        let input = Input {
            otherwise: Values::Null,
            ..input
        };
        let numbers = run(Measure::Max, &input, &[0, 0, 0, 1]);
        assert!(matches!(numbers.value(0, Measure::Max), Gathered::Int(5)));
        assert!(matches!(numbers.value(1, Measure::Max), Gathered::Null));
        assert!(matches!(numbers.value(1, Measure::Count), Gathered::Int(0)));
    }

    #[test]
    fn sums_are_checked_against_the_result_type_not_wrapped() {
        let field = Field::new("sum(x)", DataType::Int64, true);
        let big = i128::from(i64::MAX) + 1;
        let error = column_of(&[Gathered::Int(big)], &field).unwrap_err();
        assert!(
            error.to_string().contains("sum(x) overflows Int64"),
            "{error}"
        );
        let ok = column_of(&[Gathered::Int(-3), Gathered::Null], &field).unwrap();
        assert_eq!(ok.null_count(), 1);
        let decimal = Field::new("d", DataType::Decimal128(3, 1), true);
        assert!(column_of(&[Gathered::Int(999)], &decimal).is_ok());
        assert!(column_of(&[Gathered::Int(1000)], &decimal).is_err());
    }

    #[test]
    fn merged_workers_agree_with_one_worker() {
        let x = ints(&[Some(3), Some(-2), Some(9), None, Some(4)]);
        let input = Input::every_row(Values::Ints(&x));
        for measure in [Measure::Sum, Measure::Min, Measure::Max, Measure::Avg] {
            let whole = run(measure, &input, &[0, 0, 0, 0, 0]);
            // Worker a's group 0 holds the first two rows, worker b's group 0 the others.
            let a = run(measure, &input, &[0, 0, 1, 1, 1]);
            let b = run(measure, &input, &[1, 1, 0, 0, 0]);
            let mut c = Numbers::new(&Domain::Integer);
            c.answer(measure);
            c.push();
            c.absorb(0, &a, 0);
            c.absorb(0, &b, 0);
            let (w, m) = (whole.value(0, measure), c.value(0, measure));
            assert_eq!(format!("{w:?}"), format!("{m:?}"), "{measure:?}");
        }
    }

    fn aggregate(measure: Measure, then: &str, condition: Option<&str>) -> Aggregate {
        Aggregate {
            measure,
            domain: Domain::Integer,
            then: Operand::Column(then.to_string()),
            otherwise: Operand::Null,
            condition: condition.map(|c| Condition::Row(datafusion::logical_expr::col(c))),
        }
    }

    #[test]
    fn aggregates_of_one_stream_share_it_and_others_keep_their_own() {
        let count_rows = Aggregate {
            then: Operand::Constant(Number::Int(1)),
            ..aggregate(Measure::Count, "x", None)
        };
        let aggregates = [
            aggregate(Measure::Count, "x", None), // before any sum: its own count
            aggregate(Measure::Sum, "x", None),
            aggregate(Measure::Max, "x", None),
            aggregate(Measure::Sum, "y", None),
            aggregate(Measure::Avg, "x", Some("c")), // another condition
            aggregate(Measure::Count, "x", None),
            aggregate(Measure::Min, "y", None),
            aggregate(Measure::Distinct, "x", None),
            count_rows,
            Aggregate {
                domain: Domain::Float,
                ..aggregate(Measure::Min, "x", None)
            },
        ];
        assert_eq!(
            shared_streams(&aggregates),
            [
                None,
                None,
                Some(1),
                None,
                None,
                Some(1),
                Some(3),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn one_stream_answers_every_measure_in_one_pass() {
        let x = ints(&[Some(3), Some(-2), None, Some(i64::MAX), Some(i64::MAX)]);
        let input = Input::every_row(Values::Ints(&x));
        let numbers = run(Measure::Min, &input, &[0, 0, 0, 1, 1]);
        let answers: Vec<String> = [
            Measure::Count,
            Measure::Sum,
            Measure::Min,
            Measure::Max,
            Measure::Avg,
        ]
        .into_iter()
        .flat_map(|m| [numbers.value(0, m), numbers.value(1, m)])
        .map(|v| format!("{v:?}"))
        .collect();
        // Group 1's sum passes i64 and stays exact in i128 (the result type then refuses it).
        let max2 = 2 * i128::from(i64::MAX);
        assert_eq!(
            answers,
            [
                "Int(2)".to_string(),
                "Int(2)".to_string(),
                "Int(1)".to_string(),
                format!("Int({max2})"),
                "Int(-2)".to_string(),
                format!("Int({})", i64::MAX),
                "Int(3)".to_string(),
                format!("Int({})", i64::MAX),
                "Mean { sum: 1, n: 2, scale: 0 }".to_string(),
                format!("Mean {{ sum: {max2}, n: 2, scale: 0 }}"),
            ]
        );
    }
}
