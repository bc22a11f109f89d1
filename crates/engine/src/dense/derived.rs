//! Group keys that are expressions of one column: `hour(event_time)`,
//! `date_trunc('day', event_time)`, `lower(region)`, `substr(session_id, 1, 2)`.
//!
//! Each becomes a dictionary the dense path groups on like a text column's, computed as
//! rarely as the expression allows:
//! - of a text column, once per dictionary entry;
//! - of a date or timestamp column, through a function whose value cannot change within a UTC
//!   hour (`hour`, `day`, `date`, `date_trunc('day', …)`, `CAST(… AS DATE)`, …), once per hour
//!   a batch covers (a day's batch: at most 24 evaluations);
//! - else once per row, the results then dictionary-encoded.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int32Array, Int64Array, RecordBatch,
};
use arrow::datatypes::{DataType, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::PhysicalExpr;

/// Functions of a date or timestamp whose value is the same for every instant of a UTC hour
/// (Trino's and DataFusion's names), given their other arguments are literals.
const HOURLY: &[&str] = &[
    "year",
    "quarter",
    "month",
    "week",
    "week_of_year",
    "year_of_week",
    "yow",
    "day",
    "day_of_month",
    "day_of_week",
    "dow",
    "day_of_year",
    "doy",
    "hour",
    "date",
    "to_date",
    "last_day_of_month",
];

/// `date_trunc` units and `date_part` fields that are constant within an hour.
const HOURLY_UNITS: &[&str] = &[
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "dow",
    "isodow",
    "doy",
    "isoyear",
    "millennium",
    "century",
    "decade",
    "day_of_week",
    "day_of_year",
];

/// How often a derived key is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Per {
    /// Once per dictionary entry of a text column.
    Entry,
    /// Once per bucket of the column's values: an hour of a timestamp (in its unit), a day of a
    /// date.
    Bucket(i64),
    /// Once per row.
    Row,
}

/// How a derived key of `column` (of type `ty`) is evaluated, or `None` if the dense path
/// cannot group on it: the expression must be deterministic, read only `column`, and give a
/// type that dictionary-encodes.
pub(crate) fn per(expr: &Expr, column: &str, ty: &DataType, result: &DataType) -> Option<Per> {
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(result.clone()));
    if matches!(expr, Expr::Column(_)) || !arrow::compute::can_cast_types(result, &dictionary) {
        return None;
    }
    Some(match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Per::Entry,
        DataType::Timestamp(unit, zone) if zone.as_deref().is_none_or(is_utc) => {
            let per_hour = match unit {
                TimeUnit::Second => 3_600,
                TimeUnit::Millisecond => 3_600_000,
                TimeUnit::Microsecond => 3_600_000_000,
                TimeUnit::Nanosecond => 3_600_000_000_000,
            };
            if hourly(expr, column) {
                Per::Bucket(per_hour)
            } else {
                Per::Row
            }
        }
        // Any function of a date is one per day.
        DataType::Date32 => Per::Bucket(1),
        DataType::Timestamp(..) => Per::Row,
        _ => return None,
    })
}

fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "utc" | "+00:00" | "Z" | "Etc/UTC")
}

/// Whether every use of `column` in `expr` is the argument of a function constant within an
/// hour (the rest of the expression may be anything deterministic).
pub(crate) fn hourly(expr: &Expr, column: &str) -> bool {
    let mut bare = false;
    let _ = expr.apply(|e| {
        match e {
            Expr::ScalarFunction(f) if hourly_call(f.name(), &f.args, column) => {
                return Ok(TreeNodeRecursion::Jump);
            }
            Expr::Cast(c) if is_date(c.field.data_type()) && is_column(&c.expr, column) => {
                return Ok(TreeNodeRecursion::Jump);
            }
            Expr::TryCast(c) if is_date(c.field.data_type()) && is_column(&c.expr, column) => {
                return Ok(TreeNodeRecursion::Jump);
            }
            Expr::Column(c) if c.name == column => bare = true,
            _ => {}
        }
        Ok(if bare {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    !bare
}

fn is_date(ty: &DataType) -> bool {
    matches!(ty, DataType::Date32 | DataType::Date64)
}

fn is_column(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Column(c) => c.name == column,
        Expr::Cast(c) if matches!(c.field.data_type(), DataType::Timestamp(..)) => {
            is_column(&c.expr, column)
        }
        _ => false,
    }
}

/// A call whose value is constant within an hour: a function of [`HOURLY`] over the column, or
/// `date_trunc`/`date_part` with an hourly unit literal.
fn hourly_call(name: &str, args: &[Expr], column: &str) -> bool {
    let literal_unit = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Utf8(Some(u)) | ScalarValue::Utf8View(Some(u)), _) => {
            HOURLY_UNITS.contains(&u.to_ascii_lowercase().as_str())
        }
        _ => false,
    };
    match (name, args) {
        ("date_trunc" | "datetrunc" | "date_part" | "datepart", [unit, value]) => {
            literal_unit(unit) && is_column(value, column)
        }
        (name, [value, rest @ ..]) if HOURLY.contains(&name) => {
            is_column(value, column) && rest.iter().all(|e| matches!(e, Expr::Literal(..)))
        }
        _ => false,
    }
}

/// A derived group key, planned.
#[derive(Debug)]
pub(crate) struct DerivedKey {
    /// The column it reads.
    pub column: String,
    /// Over a batch of `column` alone, typed as the table declares it.
    pub expr: Arc<dyn PhysicalExpr>,
    pub schema: SchemaRef,
    pub per: Per,
    /// Its value where the column is null.
    pub null: ScalarValue,
}

impl DerivedKey {
    pub(crate) fn new(
        column: String,
        expr: Arc<dyn PhysicalExpr>,
        schema: SchemaRef,
        per: Per,
    ) -> Result<Self> {
        let nulls = arrow::array::new_null_array(schema.field(0).data_type(), 1);
        let value = evaluate(&expr, &schema, nulls)?;
        let null = ScalarValue::try_from_array(&value, 0)?;
        Ok(Self {
            column,
            expr,
            schema,
            per,
            null,
        })
    }
}

fn evaluate(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &SchemaRef,
    column: ArrayRef,
) -> Result<ArrayRef> {
    let rows = column.len();
    let batch = RecordBatch::try_new(Arc::clone(schema), vec![column])?;
    expr.evaluate(&batch)?.into_array(rows)
}

/// What a worker keeps of a derived key between batches, so that a batch like the last one
/// reuses its dictionary values (and the dense path its codes).
#[derive(Debug, Default)]
pub(crate) struct DerivedCache {
    /// The source dictionary's values (per entry) or the buckets' range, and the values.
    source: Option<(Source, ArrayRef)>,
}

#[derive(Debug)]
enum Source {
    Entries(ArrayRef),
    Buckets(i64, i64),
}

/// `offset / width` for offsets below 2^63, without a division per row: the high half of
/// `offset` times `reciprocal(width)` is the quotient or one less, corrected by one
/// multiplication.
#[inline(always)]
fn bucket(offset: u64, width: u64, reciprocal: u64) -> u64 {
    let q = ((u128::from(offset) * u128::from(reciprocal)) >> 64) as u64;
    q + u64::from(q.wrapping_add(1).wrapping_mul(width) <= offset)
}

/// `floor(2^64 / width)` (for `width` 1: `2^64 - 1`, whose estimates the correction completes).
fn reciprocal(width: u64) -> u64 {
    (u128::from(u64::MAX) + 1)
        .checked_div(u128::from(width))
        .map_or(u64::MAX, |r| u64::try_from(r).unwrap_or(u64::MAX))
}

/// The most buckets one batch is evaluated over before rows are evaluated one by one.
const MAX_BUCKETS: i64 = 4_096;

/// The fewest buckets evaluated at once (aligned to a multiple of it): 64 hours, 64 days.
const WINDOW: i64 = 64;

/// The bucket of each row of `raw` among the buckets `lo..=hi` (of `width`), in one pass;
/// `None` if a row is null or outside them.
fn keys_within(raw: &Int64Array, lo: i64, hi: i64, width: i64) -> Option<Vec<i32>> {
    if raw.null_count() > 0 {
        return None;
    }
    let base = lo.checked_mul(width)?;
    let last = u64::try_from(hi - lo).ok()?;
    let (width, reciprocal) = (u64::try_from(width).ok()?, reciprocal(width as u64));
    // A value below `base` wraps to an offset of 2^63 or more, whose estimate is beyond `last`
    // too; the keys of such rows are thrown away with the rest.
    let mut top = 0u64;
    let keys = raw
        .values()
        .iter()
        .map(|&v| {
            let key = bucket(v.wrapping_sub(base) as u64, width, reciprocal);
            top = top.max(key);
            key as i32
        })
        .collect();
    (top <= last).then_some(keys)
}

impl DerivedKey {
    /// The key's dictionary for a batch, given the column as read: a dictionary for a text
    /// column, the declared type otherwise.
    pub(crate) fn dictionary(
        &self,
        column: &ArrayRef,
        cache: &mut DerivedCache,
    ) -> Result<DictionaryArray<Int32Type>> {
        let declared = self.schema.field(0).data_type();
        match self.per {
            Per::Entry => {
                let dict_type =
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                let dict = if column.data_type() == &dict_type {
                    column.as_dictionary::<Int32Type>().clone()
                } else {
                    arrow::compute::cast(column, &dict_type)?
                        .as_dictionary::<Int32Type>()
                        .clone()
                };
                let values = match &cache.source {
                    Some((Source::Entries(seen), values))
                        if super::groups::same_dictionary(seen, dict.values()) =>
                    {
                        Arc::clone(values)
                    }
                    _ => {
                        let input = arrow::compute::cast(dict.values(), declared)?;
                        let values = evaluate(&self.expr, &self.schema, input)?;
                        cache.source = Some((
                            Source::Entries(Arc::clone(dict.values())),
                            Arc::clone(&values),
                        ));
                        values
                    }
                };
                Ok(DictionaryArray::try_new(dict.keys().clone(), values)?)
            }
            Per::Bucket(width) => match self.buckets(column, width, cache)? {
                Some(dict) => Ok(dict),
                None => self.per_row(column),
            },
            Per::Row => self.per_row(column),
        }
    }

    /// Rows keyed by bucket, and the expression evaluated once per bucket; `None` if the batch
    /// spans too many buckets.
    fn buckets(
        &self,
        column: &ArrayRef,
        width: i64,
        cache: &mut DerivedCache,
    ) -> Result<Option<DictionaryArray<Int32Type>>> {
        let declared = self.schema.field(0).data_type();
        let raw = arrow::compute::cast(column, &DataType::Int64)?;
        let raw = raw.as_primitive::<Int64Type>();
        // Most batches fall in the buckets of the last: one pass, no extremes first.
        if let Some((Source::Buckets(lo, hi), values)) = &cache.source
            && let Some(keys) = keys_within(raw, *lo, *hi, width)
        {
            return Ok(Some(DictionaryArray::try_new(
                Int32Array::new(keys.into(), None),
                Arc::clone(values),
            )?));
        }
        let (Some(min), Some(max)) = (arrow::compute::min(raw), arrow::compute::max(raw)) else {
            // Every row null: all keys are the null slot.
            let keys = Int32Array::new_null(column.len());
            let values = arrow::array::new_null_array(&self.expr.data_type(&self.schema)?, 0);
            return Ok(Some(DictionaryArray::try_new(keys, values)?));
        };
        let (lo, hi) = (min.div_euclid(width), max.div_euclid(width));
        if hi - lo >= MAX_BUCKETS {
            return Ok(None);
        }
        // Evaluated over a window of at least WINDOW buckets, so that the next batches (a
        // day's, later hours of the same day) find theirs already evaluated. If the expression
        // fails on a bucket (`1 / (hour(t) - 5)`), over the batch's span alone, and if it fails
        // there too, per row: an error only where a row holds such a value, as DataFusion's.
        let span = (lo, hi);
        let window_lo = lo - lo.rem_euclid(WINDOW);
        let window = (window_lo, hi.max(window_lo + WINDOW - 1));
        let evaluated = |(lo, hi): (i64, i64)| -> Result<ArrayRef> {
            let starts = Int64Array::from_iter_values((lo..=hi).map(|b| b * width));
            let starts: ArrayRef = match declared {
                DataType::Date32 => {
                    let days = arrow::compute::cast(&starts, &DataType::Int32)?;
                    arrow::compute::cast(&days, declared)?
                }
                _ => arrow::compute::cast(&starts, declared)?,
            };
            evaluate(&self.expr, &self.schema, starts)
        };
        let fits = |(lo, hi): (i64, i64)| {
            hi - lo < MAX_BUCKETS
                && lo.checked_mul(width).is_some()
                && hi
                    .checked_add(1)
                    .and_then(|h| h.checked_mul(width))
                    .is_some()
        };
        let ((lo, hi), values) = match &cache.source {
            Some((Source::Buckets(l, h), values)) if *l <= span.0 && span.1 <= *h => {
                ((*l, *h), Arc::clone(values))
            }
            _ => {
                let tried = |range| fits(range).then(|| evaluated(range).ok()).flatten();
                let (range, values) = match tried(window) {
                    Some(values) => (window, values),
                    None => match tried(span) {
                        Some(values) => (span, values),
                        // Per row: only the values rows hold are evaluated.
                        None => return Ok(None),
                    },
                };
                cache.source = Some((Source::Buckets(range.0, range.1), Arc::clone(&values)));
                (range, values)
            }
        };
        let base = lo * width;
        let last = (hi - lo) as u64;
        let (width, reciprocal) = (width as u64, reciprocal(width as u64));
        // Null rows' values are anything: their keys are kept in range.
        let keys: Vec<i32> = raw
            .values()
            .iter()
            .map(|&v| bucket(v.wrapping_sub(base) as u64, width, reciprocal).min(last) as i32)
            .collect();
        Ok(Some(DictionaryArray::try_new(
            Int32Array::new(keys.into(), raw.nulls().cloned()),
            values,
        )?))
    }

    fn per_row(&self, column: &ArrayRef) -> Result<DictionaryArray<Int32Type>> {
        let declared = self.schema.field(0).data_type();
        let input = if column.data_type() == declared {
            Arc::clone(column)
        } else {
            arrow::compute::cast(column, declared)?
        };
        let values = evaluate(&self.expr, &self.schema, input)?;
        let dict_type = DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(values.data_type().clone()),
        );
        Ok(arrow::compute::cast(&values, &dict_type)?
            .as_dictionary::<Int32Type>()
            .clone())
    }
}

/// The schema of one column alone.
pub(crate) fn column_schema(schema: &Schema, column: &str) -> Result<SchemaRef> {
    Ok(Arc::new(Schema::new(vec![
        schema.field_with_name(column)?.clone(),
    ])))
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{cast, col, lit};
    use datafusion::prelude::date_trunc;

    use super::*;

    #[test]
    fn functions_constant_within_an_hour_are_told_from_others() {
        let t = || col("t");
        assert!(hourly(&date_trunc(lit("hour"), t()), "t"));
        assert!(hourly(&date_trunc(lit("day"), t()), "t"));
        assert!(!hourly(&date_trunc(lit("minute"), t()), "t"));
        assert!(hourly(&cast(t(), DataType::Date32), "t"));
        assert!(!hourly(&t(), "t"));
        // The column outside an hourly call spoils it.
        let mixed = datafusion::prelude::concat(vec![
            cast(date_trunc(lit("day"), t()), DataType::Utf8),
            cast(t(), DataType::Utf8),
        ]);
        assert!(!hourly(&mixed, "t"));
    }

    proptest::proptest! {
        /// A batch's keys among cached buckets are their quotients when every row lies in
        /// them, and refused (`None`) when one does not: before, after, far away, or null.
        #[test]
        fn keys_within_cached_buckets_are_quotients_or_refused(
            unit in proptest::sample::select(vec![1i64, 3_600, 3_600_000, 3_600_000_000, 3_600_000_000_000]),
            lo in -100_000i64..100_000,
            span in 0i64..100,
            offsets in proptest::collection::vec(-3i64..103, 1..40),
            within in proptest::collection::vec(proptest::num::i64::ANY, 40),
            far in proptest::option::of(proptest::num::i64::ANY),
            null in proptest::bool::ANY,
        ) {
            let hi = lo + span;
            let mut values: Vec<Option<i64>> = offsets
                .iter()
                .zip(&within)
                .map(|(o, w)| Some((lo + o) * unit + w.rem_euclid(unit)))
                .collect();
            if let Some(far) = far {
                values.push(Some(far));
            }
            if null {
                values.push(None);
            }
            let raw = Int64Array::from(values.clone());
            let inside = values.iter().all(|v| {
                v.is_some_and(|v| v.div_euclid(unit) >= lo && v.div_euclid(unit) <= hi)
            });
            match keys_within(&raw, lo, hi, unit) {
                Some(keys) => {
                    proptest::prop_assert!(inside);
                    for (key, v) in keys.iter().zip(&values) {
                        proptest::prop_assert_eq!(
                            i64::from(*key),
                            v.expect("no nulls").div_euclid(unit) - lo
                        );
                    }
                }
                None => proptest::prop_assert!(!inside),
            }
        }

        /// The bucket of an offset is its quotient, at every multiple of an hour in each unit
        /// and around it, up to the most buckets a batch spans.
        #[test]
        fn buckets_are_quotients(
            unit in proptest::sample::select(vec![1u64, 3_600, 3_600_000, 3_600_000_000, 3_600_000_000_000]),
            bucket_index in 0..MAX_BUCKETS as u64,
            within in proptest::prop_oneof![0u64..3, proptest::num::u64::ANY],
        ) {
            let offset = bucket_index * unit + within % unit;
            let r = reciprocal(unit);
            proptest::prop_assert_eq!(bucket(offset, unit, r), offset / unit);
            if offset > 0 {
                proptest::prop_assert_eq!(bucket(offset - 1, unit, r), (offset - 1) / unit);
            }
        }
    }
}
