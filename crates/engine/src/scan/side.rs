//! The two sides of a live table, as their scans see them (see `minerva_catalog::LiveTable`).
//!
//! The batch side is the batch table, scanned as any table. The speed side is the speed table
//! less the objects the batch table's manifest says compactions consumed: that manifest is the
//! query's snapshot of the batch table (`Snapshot`), the same one the batch side's scan reads
//! its files from, so an object is counted on exactly one side whatever commits meanwhile.
//!
//! An event never lands before it happens, so a lower bound on event time is a lower bound on
//! arrival: `event_time >= t` keeps the speed table's arrival partitions from the one holding
//! `t - skew` on. Upper bounds prune nothing there: late events land in later partitions.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, lit};
use minerva_catalog::{ColumnType, DateFormat, Manifest, Table, TimeUnit};

/// What a scan of a table is to a live table, if anything.
#[derive(Debug, Clone)]
pub(crate) enum Side {
    /// The compacted history of live table `live`.
    Batch {
        /// `database.name` of the live table.
        live: String,
        /// Batch columns that hold the day of event time (`[live.set] dt = "date(event_time)"`):
        /// bounds on event time bound them.
        days: Vec<DayOf>,
    },
    /// The raw rows of `live` that no compaction into its batch table consumed.
    Speed(Arc<Speed>),
}

impl Side {
    /// How `EXPLAIN` names the side.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Batch { live, .. } => format!("{live}, batch side"),
            Self::Speed(speed) => format!("{}, speed side", speed.live),
        }
    }
}

/// The speed side of a live table.
#[derive(Debug)]
pub(crate) struct Speed {
    /// `database.name` of the live table.
    pub(crate) live: String,
    /// The batch table, whose manifest says which of the speed table's objects are compacted.
    pub(crate) batch: Arc<Table>,
    /// How event time bounds the arrival partitions, when the live table says.
    pub(crate) arrival: Option<Arrival>,
    /// How old a cached listing of the speed side's partitions may be.
    pub(crate) listing_ttl: Duration,
}

/// The speed table's partition column that holds when its objects landed.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    column: String,
    ty: ColumnType,
    format: DateFormat,
    interval: i64,
    unit: TimeUnit,
    event_time: String,
    skew: chrono::Duration,
}

impl Arrival {
    /// Arrival partitions in `column` of type `ty`, projected as dates in `format`, one every
    /// `interval` `unit`s; events timed by `event_time`, whose clock may run `skew` ahead.
    pub(crate) fn new(
        column: &str,
        ty: ColumnType,
        format: DateFormat,
        (interval, unit): (i64, TimeUnit),
        event_time: &str,
        skew: Duration,
    ) -> Self {
        Self {
            column: column.to_string(),
            ty,
            format,
            interval: interval.max(1),
            unit,
            event_time: event_time.to_string(),
            skew: chrono::Duration::from_std(skew).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// Filters on the arrival column that follow from `filters` on event time: `None` when
    /// they bound event time from below nowhere.
    pub(crate) fn filter(&self, filters: &[Expr]) -> Option<Expr> {
        let bound = filters
            .iter()
            .filter_map(|f| lower_bound(f, &self.event_time))
            .max()?;
        let earliest = bound.checked_sub_signed(self.skew)?;
        // The first partition that may hold an arrival at or after `earliest`.
        let first = self
            .unit
            .add(self.unit.truncate(earliest), -(self.interval - 1))?;
        let value = match self.ty {
            ColumnType::Date => ScalarValue::Date32(Some(
                i32::try_from((first.date() - chrono::NaiveDate::default()).num_days()).ok()?,
            )),
            ColumnType::Timestamp => {
                ScalarValue::TimestampMicrosecond(Some(first.and_utc().timestamp_micros()), None)
            }
            ColumnType::String => ScalarValue::Utf8(Some(self.format.format(first))),
            _ => return None,
        };
        Some(Expr::Column(Column::new_unqualified(&self.column)).gt_eq(lit(value)))
    }
}

/// The boundary as `EXPLAIN` shows it: what the batch table's manifest says it consumed of the
/// speed table.
pub(crate) fn watermark(batch_manifest: &Manifest, batch: &Table, speed: &Table) -> String {
    // Every query files it: the count and the two ends only, not a walk of every line.
    let source = speed.qualified_name();
    let dir = |path: &str| path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string();
    let first = batch_manifest.consumed(&source).next().map(dir);
    let last = batch_manifest.consumed(&source).next_back().map(dir);
    let version = batch_manifest.version();
    match (first, last) {
        (Some(first), Some(last)) => format!(
            "{} (manifest version {version}) consumed {} of {source} ({first}/ … {last}/)",
            batch.qualified_name(),
            crate::report::words::plural(batch_manifest.consumed_count(&source) as u64, "object"),
        ),
        _ => format!(
            "{} (manifest version {version}) consumed nothing of {source}",
            batch.qualified_name()
        ),
    }
}

/// A batch column holding the UTC day of event time.
#[derive(Debug, Clone)]
pub(crate) struct DayOf {
    column: String,
    ty: ColumnType,
    event_time: String,
}

impl DayOf {
    /// `column` (of type `ty`: a date, or a string spelled `yyyy-MM-dd`) is the day of
    /// `event_time`.
    pub(crate) fn new(column: &str, ty: ColumnType, event_time: &str) -> Option<Self> {
        matches!(ty, ColumnType::Date | ColumnType::String).then(|| Self {
            column: column.to_string(),
            ty,
            event_time: event_time.to_string(),
        })
    }

    /// Filters on the day column that follow from `filters` on event time.
    pub(crate) fn filters(&self, filters: &[Expr]) -> Vec<Expr> {
        let day = |t: NaiveDateTime| match self.ty {
            ColumnType::Date => lit(ScalarValue::Date32(
                i32::try_from((t.date() - chrono::NaiveDate::default()).num_days()).ok(),
            )),
            _ => lit(t.format("%Y-%m-%d").to_string()),
        };
        let column = || Expr::Column(Column::new_unqualified(&self.column));
        let lower = filters
            .iter()
            .filter_map(|f| lower_bound(f, &self.event_time))
            .max();
        let upper = filters
            .iter()
            .filter_map(|f| upper_bound(f, &self.event_time))
            .min();
        lower
            .map(|t| column().gt_eq(day(t)))
            .into_iter()
            .chain(upper.map(|t| column().lt_eq(day(t))))
            .collect()
    }
}

/// Whether `expr` is the UTC day of `column` (`CAST(event_time AS DATE)`, `date(event_time)`).
pub(crate) fn is_day_of(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Alias(alias) => is_day_of(&alias.expr, column),
        Expr::Cast(cast) => {
            cast.field.data_type() == &datafusion::arrow::datatypes::DataType::Date32
                && matches!(cast.expr.as_ref(), Expr::Column(c) if c.name == column)
        }
        Expr::ScalarFunction(f) => {
            matches!(f.name(), "date" | "to_date")
                && f.args.len() == 1
                && matches!(&f.args[0], Expr::Column(c) if c.name == column)
        }
        _ => false,
    }
}

/// The greatest time `column` may hold for `filter` to be true, if the filter says (only
/// comparisons of the column itself).
fn upper_bound(filter: &Expr, column: &str) -> Option<NaiveDateTime> {
    let is_column = |e: &Expr| matches!(e, Expr::Column(c) if c.name == column);
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (upper_bound(left, column), upper_bound(right, column)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Operator::Or => Some(upper_bound(left, column)?.max(upper_bound(right, column)?)),
            Operator::Lt | Operator::LtEq | Operator::Eq if is_column(left) => time(right),
            Operator::Gt | Operator::GtEq | Operator::Eq if is_column(right) => time(left),
            _ => None,
        },
        Expr::Between(Between {
            expr,
            negated: false,
            high,
            ..
        }) if is_column(expr) => time(high),
        Expr::InList(list) if !list.negated && is_column(&list.expr) => list
            .list
            .iter()
            .map(time)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max(),
        _ => None,
    }
}

/// The least time `column` may hold for `filter` to be true, if the filter says.
fn lower_bound(filter: &Expr, column: &str) -> Option<NaiveDateTime> {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (lower_bound(left, column), lower_bound(right, column)) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            Operator::Or => Some(lower_bound(left, column)?.min(lower_bound(right, column)?)),
            Operator::Gt | Operator::GtEq | Operator::Eq if floors(left, column) => time(right),
            Operator::Lt | Operator::LtEq | Operator::Eq if floors(right, column) => time(left),
            _ => None,
        },
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            ..
        }) if floors(expr, column) => time(low),
        Expr::InList(list) if !list.negated && floors(&list.expr, column) => list
            .list
            .iter()
            .map(time)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min(),
        _ => None,
    }
}

/// Whether `expr` is `column`, or a function of it that is never above it (a cast to a date,
/// `date_trunc`): then `expr >= t` implies `column >= t`.
fn floors(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Column(c) => c.name == column,
        Expr::Cast(cast) => {
            matches!(
                cast.field.data_type(),
                datafusion::arrow::datatypes::DataType::Date32
                    | datafusion::arrow::datatypes::DataType::Date64
                    | datafusion::arrow::datatypes::DataType::Timestamp(..)
            ) && floors(&cast.expr, column)
        }
        Expr::TryCast(cast) => {
            matches!(
                cast.field.data_type(),
                datafusion::arrow::datatypes::DataType::Date32
                    | datafusion::arrow::datatypes::DataType::Timestamp(..)
            ) && floors(&cast.expr, column)
        }
        Expr::ScalarFunction(f) => match f.name() {
            "date_trunc" | "datetrunc" => f.args.get(1).is_some_and(|a| floors(a, column)),
            "date" | "to_date" => f.args.len() == 1 && floors(&f.args[0], column),
            _ => false,
        },
        _ => false,
    }
}

/// A literal time as UTC.
fn time(expr: &Expr) -> Option<NaiveDateTime> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    let micros = |v: i64, per_second: i64| {
        DateTime::from_timestamp(v.div_euclid(per_second), 0).map(|t| {
            t.naive_utc()
                + chrono::Duration::nanoseconds(
                    v.rem_euclid(per_second) * (1_000_000_000 / per_second),
                )
        })
    };
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => micros(*v, 1),
        ScalarValue::TimestampMillisecond(Some(v), _) => micros(*v, 1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => micros(*v, 1_000_000),
        ScalarValue::TimestampNanosecond(Some(v), _) => micros(*v, 1_000_000_000),
        ScalarValue::Date32(Some(d)) => chrono::NaiveDate::default()
            .checked_add_signed(chrono::Duration::days(i64::from(*d)))
            .and_then(|d| d.and_hms_opt(0, 0, 0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::col;

    fn hourly() -> Arrival {
        Arrival::new(
            "datehour",
            ColumnType::String,
            DateFormat::parse("yyyy/MM/dd/HH").unwrap(),
            (1, TimeUnit::Hours),
            "event_time",
            Duration::ZERO,
        )
    }

    fn at(text: &str) -> Expr {
        let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        lit(ScalarValue::TimestampMicrosecond(
            Some(t.and_utc().timestamp_micros()),
            None,
        ))
    }

    #[test]
    fn a_lower_bound_on_event_time_keeps_arrivals_from_its_hour_on() {
        let arrival = hourly();
        let shown = |filters: &[Expr]| arrival.filter(filters).map(|f| f.to_string());
        assert_eq!(
            shown(&[col("event_time").gt_eq(at("2024-02-06 10:37:00"))]),
            Some("datehour >= Utf8(\"2024/02/06/10\")".to_string())
        );
        // Both bounds: only the lower one prunes arrivals.
        assert_eq!(
            shown(&[col("event_time")
                .gt_eq(at("2024-02-06 10:00:00"))
                .and(col("event_time").lt(at("2024-02-06 11:00:00")))]),
            Some("datehour >= Utf8(\"2024/02/06/10\")".to_string())
        );
        assert_eq!(
            shown(&[at("2024-02-06 09:00:00").lt_eq(col("event_time"))]),
            Some("datehour >= Utf8(\"2024/02/06/09\")".to_string())
        );
        // An upper bound alone, or a bound on another column, prunes nothing.
        assert_eq!(
            shown(&[col("event_time").lt(at("2024-02-06 11:00:00"))]),
            None
        );
        assert_eq!(shown(&[col("price").gt_eq(lit(3))]), None);
        // OR keeps the earlier bound; a branch without one keeps everything.
        assert_eq!(
            shown(&[col("event_time")
                .gt_eq(at("2024-02-06 10:00:00"))
                .or(col("event_time").eq(at("2024-02-05 23:59:59")))]),
            Some("datehour >= Utf8(\"2024/02/05/23\")".to_string())
        );
        assert_eq!(
            shown(&[col("event_time")
                .gt_eq(at("2024-02-06 10:00:00"))
                .or(col("price").gt(lit(1)))]),
            None
        );
    }

    #[test]
    fn bounds_on_event_time_bound_its_day() {
        let day = DayOf::new("dt", ColumnType::Date, "event_time").unwrap();
        let shown = |filters: &[Expr]| {
            day.filters(filters)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown(&[col("event_time")
                .gt_eq(at("2024-02-06 10:00:00"))
                .and(col("event_time").lt(at("2024-02-06 11:00:00")))]),
            [
                "dt >= Date32(\"2024-02-06\")",
                "dt <= Date32(\"2024-02-06\")"
            ]
        );
        assert_eq!(
            shown(&[col("event_time").lt(at("2024-02-07 00:00:00"))]),
            ["dt <= Date32(\"2024-02-07\")"]
        );
        let text = DayOf::new("dt", ColumnType::String, "event_time").unwrap();
        assert_eq!(
            text.filters(&[col("event_time").gt(at("2024-02-06 10:00:00"))])[0].to_string(),
            "dt >= Utf8(\"2024-02-06\")"
        );
        assert!(DayOf::new("dt", ColumnType::BigInt, "event_time").is_none());
        assert!(shown(&[col("price").gt(lit(1))]).is_empty());
    }

    #[test]
    fn functions_that_floor_event_time_bound_it_too_and_skew_widens() {
        let arrival = hourly();
        let day = lit(ScalarValue::Date32(Some(19_759))); // 2024-02-06
        let as_date = Expr::Cast(datafusion::logical_expr::Cast::new(
            Box::new(col("event_time")),
            datafusion::arrow::datatypes::DataType::Date32,
        ));
        assert_eq!(
            arrival.filter(&[as_date.eq(day)]).map(|f| f.to_string()),
            Some("datehour >= Utf8(\"2024/02/06/00\")".to_string())
        );
        let skewed = Arrival::new(
            "datehour",
            ColumnType::String,
            DateFormat::parse("yyyy/MM/dd/HH").unwrap(),
            (1, TimeUnit::Hours),
            "event_time",
            Duration::from_secs(600),
        );
        assert_eq!(
            skewed
                .filter(&[col("event_time").gt_eq(at("2024-02-06 10:05:00"))])
                .map(|f| f.to_string()),
            Some("datehour >= Utf8(\"2024/02/06/09\")".to_string())
        );
        // Partitions every 2 hours: the one starting before the bound may hold it.
        let two_hourly = Arrival::new(
            "datehour",
            ColumnType::String,
            DateFormat::parse("yyyy/MM/dd/HH").unwrap(),
            (2, TimeUnit::Hours),
            "event_time",
            Duration::ZERO,
        );
        assert_eq!(
            two_hourly
                .filter(&[col("event_time").gt_eq(at("2024-02-06 11:30:00"))])
                .map(|f| f.to_string()),
            Some("datehour >= Utf8(\"2024/02/06/10\")".to_string())
        );
    }
}
