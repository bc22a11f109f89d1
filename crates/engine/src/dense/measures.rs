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

use arrow::array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int32Array, Int64Array, UInt64Array,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Field};
use arrow::error::ArrowError;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

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
}

/// One aggregate's inputs in one batch.
pub(crate) struct Input<'a> {
    /// Rows where the condition holds (`None`: every row, or no condition).
    pub matched: Option<BooleanBuffer>,
    pub then: Values<'a>,
    pub otherwise: Values<'a>,
    /// The range the statistics promise for a `count(DISTINCT)` input.
    pub hint: Option<(i64, i64)>,
}

impl Input<'_> {
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

/// Sums, minima, maxima or means of each group, and how many values each took.
#[derive(Debug)]
pub(crate) enum Numbers {
    /// Integers and decimals (unscaled): exact.
    Ints {
        measure: Measure,
        acc: Vec<i128>,
        n: Vec<u64>,
        /// Set once a sum passed `i128`.
        overflow: bool,
    },
    Floats {
        measure: Measure,
        acc: Vec<f64>,
        n: Vec<u64>,
    },
}

impl Numbers {
    pub(crate) fn new(measure: Measure, domain: &Domain) -> Self {
        match domain {
            Domain::Float => Numbers::Floats {
                measure,
                acc: Vec::new(),
                n: Vec::new(),
            },
            _ => Numbers::Ints {
                measure,
                acc: Vec::new(),
                n: Vec::new(),
                overflow: false,
            },
        }
    }

    /// Room for one more group.
    pub(crate) fn push(&mut self) {
        match self {
            Numbers::Ints { acc, n, .. } => {
                acc.push(0);
                n.push(0);
            }
            Numbers::Floats { acc, n, .. } => {
                acc.push(0.0);
                n.push(0);
            }
        }
    }

    /// Bytes one group takes.
    pub(crate) const fn group_bytes() -> usize {
        16 + 8
    }

    /// Adds the value of each row `rows` visits to its group.
    pub(crate) fn update(&mut self, input: &Input<'_>, rows: &impl EachRow) {
        // The common case, a column without a condition, in loops of its own.
        if let (
            None,
            Values::Ints(array),
            Numbers::Ints {
                measure, acc, n, ..
            },
        ) = (&input.matched, &input.then, &mut *self)
            && matches!(measure, Measure::Min | Measure::Max)
        {
            let values = array.values();
            let nulls = array.nulls();
            let max = *measure == Measure::Max;
            rows.each(|i, g| {
                if nulls.is_none_or(|b| b.is_valid(i)) {
                    let v = i128::from(values[i]);
                    if n[g] == 0 || (max && v > acc[g]) || (!max && v < acc[g]) {
                        acc[g] = v;
                    }
                    n[g] += 1;
                }
            });
            return;
        }
        if let (
            None,
            Values::Ints(array),
            Numbers::Ints {
                measure, acc, n, ..
            },
        ) = (&input.matched, &input.then, &mut *self)
            && matches!(measure, Measure::Sum | Measure::Avg)
        {
            // i64 values: an i128 sum cannot overflow before 2^64 rows.
            let values = array.values();
            match array.nulls() {
                None => rows.each(|i, g| {
                    acc[g] += i128::from(values[i]);
                    n[g] += 1;
                }),
                Some(nulls) => rows.each(|i, g| {
                    if nulls.is_valid(i) {
                        acc[g] += i128::from(values[i]);
                        n[g] += 1;
                    }
                }),
            }
            return;
        }
        // A column where a condition holds, a constant (or nothing) elsewhere:
        // `sum(CASE WHEN c THEN x ELSE 0 END)`, `max(CASE WHEN c THEN x END)`.
        if let (
            Some(matched),
            Values::Ints(array),
            Numbers::Ints {
                measure, acc, n, ..
            },
        ) = (&input.matched, &input.then, &mut *self)
            && let Values::Null | Values::Int(_) = input.otherwise
        {
            let values = array.values();
            let nulls = array.nulls();
            let otherwise = match input.otherwise {
                Values::Int(v) => Some(v),
                _ => None,
            };
            let measure = *measure;
            rows.each(|i, g| {
                let v = if matched.value(i) {
                    if nulls.is_some_and(|b| b.is_null(i)) {
                        return;
                    }
                    i128::from(values[i])
                } else {
                    match otherwise {
                        Some(v) => v,
                        None => return,
                    }
                };
                match measure {
                    Measure::Sum | Measure::Avg => acc[g] += v,
                    Measure::Max if n[g] == 0 || v > acc[g] => acc[g] = v,
                    Measure::Min if n[g] == 0 || v < acc[g] => acc[g] = v,
                    _ => {}
                }
                n[g] += 1;
            });
            return;
        }
        match self {
            Numbers::Ints {
                measure,
                acc,
                n,
                overflow,
            } => {
                let mut wrapped = false;
                match measure {
                    Measure::Sum | Measure::Avg => rows.each(|i, g| {
                        if let Some(v) = input.int(i) {
                            let (sum, o) = acc[g].overflowing_add(v);
                            acc[g] = sum;
                            wrapped |= o;
                            n[g] += 1;
                        }
                    }),
                    Measure::Min => rows.each(|i, g| {
                        if let Some(v) = input.int(i) {
                            if n[g] == 0 || v < acc[g] {
                                acc[g] = v;
                            }
                            n[g] += 1;
                        }
                    }),
                    Measure::Max => rows.each(|i, g| {
                        if let Some(v) = input.int(i) {
                            if n[g] == 0 || v > acc[g] {
                                acc[g] = v;
                            }
                            n[g] += 1;
                        }
                    }),
                    Measure::Count | Measure::Distinct => unreachable!("counts are not numbers"),
                }
                *overflow |= wrapped;
            }
            Numbers::Floats { measure, acc, n } => match measure {
                Measure::Sum | Measure::Avg => rows.each(|i, g| {
                    if let Some(v) = input.float(i) {
                        acc[g] += v;
                        n[g] += 1;
                    }
                }),
                Measure::Min => rows.each(|i, g| {
                    if let Some(v) = input.float(i) {
                        if n[g] == 0 || v.total_cmp(&acc[g]).is_lt() {
                            acc[g] = v;
                        }
                        n[g] += 1;
                    }
                }),
                Measure::Max => rows.each(|i, g| {
                    if let Some(v) = input.float(i) {
                        if n[g] == 0 || v.total_cmp(&acc[g]).is_gt() {
                            acc[g] = v;
                        }
                        n[g] += 1;
                    }
                }),
                Measure::Count | Measure::Distinct => unreachable!("counts are not numbers"),
            },
        }
    }

    /// Merges group `theirs` of `other` into group `ours`.
    pub(crate) fn absorb(&mut self, ours: usize, other: &Numbers, theirs: usize) {
        match (self, other) {
            (
                Numbers::Ints {
                    measure,
                    acc,
                    n,
                    overflow,
                },
                Numbers::Ints {
                    acc: other_acc,
                    n: other_n,
                    overflow: other_overflow,
                    ..
                },
            ) => {
                *overflow |= *other_overflow;
                let (v, m) = (other_acc[theirs], other_n[theirs]);
                if m == 0 {
                    return;
                }
                match measure {
                    Measure::Sum | Measure::Avg => {
                        let (sum, o) = acc[ours].overflowing_add(v);
                        acc[ours] = sum;
                        *overflow |= o;
                    }
                    Measure::Min if n[ours] == 0 || v < acc[ours] => acc[ours] = v,
                    Measure::Max if n[ours] == 0 || v > acc[ours] => acc[ours] = v,
                    _ => {}
                }
                n[ours] += m;
            }
            (
                Numbers::Floats { measure, acc, n },
                Numbers::Floats {
                    acc: other_acc,
                    n: other_n,
                    ..
                },
            ) => {
                let (v, m) = (other_acc[theirs], other_n[theirs]);
                if m == 0 {
                    return;
                }
                match measure {
                    Measure::Sum | Measure::Avg => acc[ours] += v,
                    Measure::Min if n[ours] == 0 || v.total_cmp(&acc[ours]).is_lt() => {
                        acc[ours] = v
                    }
                    Measure::Max if n[ours] == 0 || v.total_cmp(&acc[ours]).is_gt() => {
                        acc[ours] = v
                    }
                    _ => {}
                }
                n[ours] += m;
            }
            _ => unreachable!("workers keep the same kinds of numbers"),
        }
    }

    /// Group `g`'s answer, as gathered (`None`: no values, SQL's NULL).
    pub(crate) fn value(&self, g: usize) -> Gathered {
        match self {
            Numbers::Ints {
                measure, acc, n, ..
            } => match (n[g], measure) {
                (0, _) => Gathered::Null,
                (count, Measure::Avg) => Gathered::Float(acc[g] as f64 / count as f64),
                _ => Gathered::Int(acc[g]),
            },
            Numbers::Floats { measure, acc, n } => match (n[g], measure) {
                (0, _) => Gathered::Null,
                (count, Measure::Avg) => Gathered::Float(acc[g] / count as f64),
                _ => Gathered::Float(acc[g]),
            },
        }
    }

    /// Whether a sum passed the range of `i128`.
    pub(crate) fn overflowed(&self) -> bool {
        matches!(self, Numbers::Ints { overflow: true, .. })
    }
}

/// One group's answer to one aggregate, before it becomes a column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gathered {
    Null,
    Int(i128),
    Float(f64),
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
                    Gathered::Null => None,
                })
                .collect();
            std::sync::Arc::new(floats)
        }
        DataType::Decimal128(p, s) => {
            let max = 10i128.checked_pow(u32::from(*p)).unwrap_or(i128::MAX);
            let decimals = ints()
                .map(|v| match v {
                    Some(v) if v.unsigned_abs() >= max.unsigned_abs() => Err(overflow()),
                    v => Ok(v),
                })
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
        fn each(&self, mut f: impl FnMut(usize, usize)) {
            for (i, &g) in self.0.iter().enumerate() {
                f(i, g)
            }
        }
    }

    fn run(measure: Measure, input: &Input<'_>, groups: &[usize]) -> Numbers {
        let mut numbers = Numbers::new(measure, &Domain::Integer);
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
            then: Values::Ints(&x),
            otherwise: Values::Int(0),
            hint: None,
        };
        let numbers = run(Measure::Sum, &input, &[0, 0, 0, 1]);
        assert!(matches!(numbers.value(0), Gathered::Int(5)));
        assert!(matches!(numbers.value(1), Gathered::Int(0)));
        // Without ELSE, a group of unmatched rows has no value: NULL.
        let input = Input {
            otherwise: Values::Null,
            ..input
        };
        let numbers = run(Measure::Max, &input, &[0, 0, 0, 1]);
        assert!(matches!(numbers.value(0), Gathered::Int(5)));
        assert!(matches!(numbers.value(1), Gathered::Null));
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
        let input = Input {
            matched: None,
            then: Values::Ints(&x),
            otherwise: Values::Null,
            hint: None,
        };
        for measure in [Measure::Sum, Measure::Min, Measure::Max, Measure::Avg] {
            let whole = run(measure, &input, &[0, 0, 0, 0, 0]);
            // Worker a's group 0 holds the first two rows, worker b's group 0 the others.
            let a = run(measure, &input, &[0, 0, 1, 1, 1]);
            let b = run(measure, &input, &[1, 1, 0, 0, 0]);
            let mut c = Numbers::new(measure, &Domain::Integer);
            c.push();
            c.absorb(0, &a, 0);
            c.absorb(0, &b, 0);
            let (w, m) = (whole.value(0), c.value(0));
            assert_eq!(format!("{w:?}"), format!("{m:?}"), "{measure:?}");
        }
    }
}
