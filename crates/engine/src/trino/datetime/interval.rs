//! Trino's interval functions (`functions/datetime.md`, "Interval functions"): `date_add` and
//! `date_diff`, over dates and timestamps, with or without a time zone.
//!
//! Units of a day or more count calendar days and months in the value's own time zone (a day
//! across a DST change is 23 or 25 hours); shorter units count elapsed time. Adding months
//! keeps the day of the month, or the month's last day where it has fewer (Jan 31 + 1 month is
//! Feb 29 in a leap year). Differences count whole units, truncated toward zero.

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDateTime, TimeDelta, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, TimestampMicrosecondArray};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::trino::args::{answer, arrays};

/// The functions of this section.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(DateAdd::new()),
        ScalarUDF::from(DateDiff::new()),
    ]
}

/// The units of Trino's interval functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "millisecond" => Self::Millisecond,
            "second" => Self::Second,
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "quarter" => Self::Quarter,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// The unit as SQL spells it.
    fn name(self) -> &'static str {
        match self {
            Self::Millisecond => "millisecond",
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }

    /// Microseconds in one unit, for the units of fixed length.
    fn micros(self) -> Option<i64> {
        Some(match self {
            Self::Millisecond => 1_000,
            Self::Second => 1_000_000,
            Self::Minute => 60_000_000,
            Self::Hour => 3_600_000_000,
            Self::Day => 86_400_000_000,
            Self::Week => 7 * 86_400_000_000,
            Self::Month | Self::Quarter | Self::Year => return None,
        })
    }

    /// Months in one unit, for the calendar units.
    fn months(self) -> Option<i64> {
        match self {
            Self::Month => Some(1),
            Self::Quarter => Some(3),
            Self::Year => Some(12),
            _ => None,
        }
    }
}

/// The unit named by a function's first argument, which must be a constant.
fn unit_of(function: &str, arg: &ColumnarValue) -> DFResult<Unit> {
    let text = match arg {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(t))
            | ScalarValue::LargeUtf8(Some(t))
            | ScalarValue::Utf8View(Some(t)),
        ) => t,
        _ => return exec_err!("{function}() needs the unit as a constant string, e.g. 'day'"),
    };
    match Unit::parse(text) {
        Some(unit) => Ok(unit),
        None => exec_err!(
            "'{text}' is not a unit of {function}() (millisecond, second, minute, hour, day, week, month, quarter, year)"
        ),
    }
}

/// The day after the last of `day`'s month, minus one: the month's last day (days since epoch).
pub(super) fn last_day_of_month(day: i32) -> Option<i32> {
    let date = Date32Type::to_naive_date_opt(day)?;
    let first = date.with_day(1)?;
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    Some(Date32Type::from_naive_date(last))
}

/// `n` months after `t` (before it, when negative), the day clamped to the month's length.
fn add_months(t: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let months = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        t.checked_add_months(months)
    } else {
        t.checked_sub_months(months)
    }
}

/// `n` units after `t`, a time in its own zone's wall clock (`local`) and in UTC.
fn add(utc: NaiveDateTime, zone: Option<&Tz>, unit: Unit, n: i64) -> Option<NaiveDateTime> {
    if unit < Unit::Day {
        let micros = unit.micros()?.checked_mul(n)?;
        return utc.checked_add_signed(TimeDelta::microseconds(micros));
    }
    let local = to_local(utc, zone);
    let moved = match unit.months() {
        Some(per) => add_months(local, per.checked_mul(n)?)?,
        None => {
            local.checked_add_signed(TimeDelta::microseconds(unit.micros()?.checked_mul(n)?))?
        }
    };
    from_local(moved, zone)
}

/// Whole units from `a` to `b`, truncated toward zero.
fn diff(a: NaiveDateTime, b: NaiveDateTime, zone: Option<&Tz>, unit: Unit) -> Option<i64> {
    if unit < Unit::Day {
        let micros = (b - a).num_microseconds()?;
        return Some(micros / unit.micros()?);
    }
    let (a, b) = (to_local(a, zone), to_local(b, zone));
    let Some(per) = unit.months() else {
        // Days and weeks on the wall clock, so a DST day still counts as one.
        let micros = (b - a).num_microseconds()?;
        return Some(micros / unit.micros()?);
    };
    // Joda's rule, which Trino follows: backwards is minus forwards.
    let (earlier, later, sign) = if b < a { (b, a, -1) } else { (a, b, 1) };
    let mut months = i64::from(later.year() - earlier.year()) * 12 + i64::from(later.month())
        - i64::from(earlier.month());
    // Only whole months count: step back where the last one is not complete.
    if months > 0 && add_months(earlier, months)? > later {
        months -= 1;
    }
    Some(sign * months / per)
}

fn to_local(utc: NaiveDateTime, zone: Option<&Tz>) -> NaiveDateTime {
    zone.map_or(utc, |tz| tz.from_utc_datetime(&utc).naive_local())
}

fn from_local(local: NaiveDateTime, zone: Option<&Tz>) -> Option<NaiveDateTime> {
    match zone {
        None => Some(local),
        Some(tz) => tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.naive_utc()),
    }
}

/// A date or timestamp argument read as UTC times (microseconds), and how to give answers back
/// in its type.
struct Times {
    micros: TimestampMicrosecondArray,
    zone: Option<Tz>,
    ty: DataType,
}

impl Times {
    fn of(function: &str, array: &ArrayRef) -> DFResult<Self> {
        let ty = array.data_type().clone();
        let zone = match &ty {
            DataType::Date32 | DataType::Date64 | DataType::Null => None,
            DataType::Timestamp(_, None) => None,
            DataType::Timestamp(_, Some(zone)) => Some(zone.parse::<Tz>()?),
            other => return exec_err!("{function}() takes a date or a timestamp, not {other}"),
        };
        // A zoned timestamp's values are UTC: changing only its unit (zone kept) keeps them so.
        // (Arrow reads a zone-less value as wall-clock time when a zone is added.)
        let zone_name = match &ty {
            DataType::Timestamp(_, zone) => zone.clone(),
            _ => None,
        };
        let as_micros = DataType::Timestamp(TimeUnit::Microsecond, zone_name);
        let micros = cast(array, &as_micros)?
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        Ok(Self { micros, zone, ty })
    }

    fn get(&self, i: usize) -> Option<NaiveDateTime> {
        if self.micros.is_null(i) {
            return None;
        }
        chrono::DateTime::from_timestamp_micros(self.micros.value(i)).map(|t| t.naive_utc())
    }

    /// UTC times back in the argument's type (a date stays a date).
    fn answer(&self, times: Vec<Option<NaiveDateTime>>) -> DFResult<ArrayRef> {
        let micros: TimestampMicrosecondArray = times
            .into_iter()
            .map(|t| t.map(|t| t.and_utc().timestamp_micros()))
            .collect();
        // The zone goes on before the unit changes, so the UTC values stay as they are.
        let micros: ArrayRef = match &self.ty {
            DataType::Timestamp(_, Some(zone)) => Arc::new(micros.with_timezone(Arc::clone(zone))),
            _ => Arc::new(micros),
        };
        Ok(match &self.ty {
            DataType::Null => cast(&micros, &DataType::Date32)?,
            ty => cast(&micros, ty)?,
        })
    }
}

/// `date_add(unit, value, timestamp)`: "Adds an interval value of type unit to timestamp.
/// Subtraction can be performed by using a negative value." (Trino: "Interval functions").
/// The answer has the type of `timestamp`; a date takes only units of a day or more.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateAdd {
    signature: Signature,
}

impl DateAdd {
    fn new() -> Self {
        Self {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "date_add"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        if !args[1].is_integer() && !args[1].is_null() {
            return plan_err!("date_add() takes an integer value, not {}", args[1]);
        }
        match &args[2] {
            DataType::Null => Ok(DataType::Date32),
            ty @ (DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)) => Ok(ty.clone()),
            ty => plan_err!("date_add() takes a date or a timestamp, not {ty}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let unit = unit_of("date_add", &args.args[0])?;
        let (arrays, scalar) = arrays(&args)?;
        let times = Times::of("date_add", &arrays[2])?;
        if matches!(times.ty, DataType::Date32 | DataType::Date64) && unit < Unit::Day {
            return exec_err!(
                "'{}' is not a valid DATE field: a date takes day, week, month, quarter or year",
                unit.name()
            );
        }
        let values = cast(&arrays[1], &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
        let mut out = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            let moved = match (times.get(i), values.is_valid(i)) {
                (Some(t), true) => Some(
                    add(t, times.zone.as_ref(), unit, values.value(i)).ok_or_else(|| {
                        datafusion::error::DataFusionError::Execution(format!(
                            "date_add(): {} {}s from {t} is out of range",
                            values.value(i),
                            unit.name()
                        ))
                    })?,
                ),
                _ => None,
            };
            out.push(moved);
        }
        answer(times.answer(out)?, scalar)
    }
}

/// `date_diff(unit, timestamp1, timestamp2)`: "Returns timestamp2 - timestamp1 expressed in
/// terms of unit" (Trino: "Interval functions"), in whole units.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateDiff {
    signature: Signature,
}

impl DateDiff {
    fn new() -> Self {
        Self {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        for ty in &args[1..] {
            if !matches!(
                ty,
                DataType::Null | DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
            ) {
                return plan_err!("date_diff() takes dates or timestamps, not {ty}");
            }
        }
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let unit = unit_of("date_diff", &args.args[0])?;
        let (arrays, scalar) = arrays(&args)?;
        let (a, b) = (
            Times::of("date_diff", &arrays[1])?,
            Times::of("date_diff", &arrays[2])?,
        );
        let zone = a.zone.as_ref().or(b.zone.as_ref());
        let diffs: Int64Array = (0..a.micros.len())
            .map(|i| diff(a.get(i)?, b.get(i)?, zone, unit))
            .collect();
        answer(Arc::new(diffs), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn months_clamp_to_the_month_end_both_ways() {
        assert_eq!(
            add(t("2012-10-31 01:00:00"), None, Unit::Month, 1),
            Some(t("2012-11-30 01:00:00"))
        );
        assert_eq!(
            add(t("2012-10-31 01:00:00"), None, Unit::Month, -1),
            Some(t("2012-09-30 01:00:00"))
        );
        assert_eq!(
            add(t("2024-02-29 00:00:00"), None, Unit::Year, 1),
            Some(t("2025-02-28 00:00:00"))
        );
        assert_eq!(
            add(t("2024-01-31 00:00:00"), None, Unit::Quarter, 1),
            Some(t("2024-04-30 00:00:00"))
        );
    }

    #[test]
    fn whole_units_are_counted_toward_zero() {
        let (a, b) = (t("2024-01-31 00:00:00"), t("2024-02-29 00:00:00"));
        assert_eq!(diff(a, b, None, Unit::Month), Some(1));
        assert_eq!(diff(b, a, None, Unit::Month), Some(-1));
        assert_eq!(
            diff(
                t("2024-01-15 00:00:00"),
                t("2024-02-14 23:59:59"),
                None,
                Unit::Month
            ),
            Some(0)
        );
        assert_eq!(
            diff(
                t("2020-01-01 00:00:00"),
                t("2024-12-31 00:00:00"),
                None,
                Unit::Year
            ),
            Some(4)
        );
        assert_eq!(
            diff(
                t("2024-01-01 00:00:00"),
                t("2024-01-01 00:00:59"),
                None,
                Unit::Minute
            ),
            Some(0)
        );
        assert_eq!(
            diff(
                t("2024-01-01 00:01:00"),
                t("2024-01-01 00:00:01"),
                None,
                Unit::Minute
            ),
            Some(0)
        );
    }

    #[test]
    fn days_are_calendar_days_in_the_zone() {
        // America/New_York springs forward on 2024-03-10: that day has 23 hours.
        let zone: Tz = "America/New_York".parse().unwrap();
        let before = t("2024-03-10 05:00:00"); // 00:00 local
        let after = add(before, Some(&zone), Unit::Day, 1).unwrap();
        assert_eq!(after, t("2024-03-11 04:00:00")); // 00:00 local, 23 hours later
        assert_eq!(diff(before, after, Some(&zone), Unit::Day), Some(1));
        assert_eq!(diff(before, after, Some(&zone), Unit::Hour), Some(23));
    }

    /// Through the function itself: a `timestamp with time zone` keeps its zone and its UTC
    /// values, and a day is a calendar day in that zone.
    #[test]
    fn zoned_timestamps_stay_in_their_zone() {
        use datafusion::arrow::array::TimestampMillisecondArray;
        use datafusion::arrow::datatypes::{Field, TimestampMillisecondType};
        use datafusion::config::ConfigOptions;

        // 2024-03-10 00:00 in New York (05:00 UTC), the day the clocks spring forward.
        let midnight = t("2024-03-10 05:00:00").and_utc().timestamp_millis();
        let zoned =
            TimestampMillisecondArray::from(vec![midnight]).with_timezone("America/New_York");
        let ty = zoned.data_type().clone();
        let call = |function: &dyn ScalarUDFImpl, unit: &str, args: Vec<ColumnarValue>| {
            let mut all = vec![ColumnarValue::Scalar(ScalarValue::Utf8(Some(unit.into())))];
            all.extend(args);
            let fields = all
                .iter()
                .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
                .collect();
            let return_type = function
                .return_type(&all.iter().map(ColumnarValue::data_type).collect::<Vec<_>>())
                .unwrap();
            function
                .invoke_with_args(ScalarFunctionArgs {
                    args: all,
                    arg_fields: fields,
                    number_rows: 1,
                    return_field: Arc::new(Field::new("r", return_type, true)),
                    config_options: Arc::new(ConfigOptions::default()),
                })
                .unwrap()
                .to_array(1)
                .unwrap()
        };
        let value = |n: i64| ColumnarValue::Scalar(ScalarValue::Int64(Some(n)));
        let next = call(
            &DateAdd::new(),
            "day",
            vec![value(1), ColumnarValue::Array(Arc::new(zoned.clone()))],
        );
        assert_eq!(next.data_type(), &ty);
        let next_millis = next.as_primitive::<TimestampMillisecondType>().value(0);
        // Midnight of the next day in New York: 04:00 UTC, 23 hours later.
        assert_eq!(
            next_millis,
            t("2024-03-11 04:00:00").and_utc().timestamp_millis()
        );
        let hours = call(
            &DateDiff::new(),
            "hour",
            vec![
                ColumnarValue::Array(Arc::new(zoned)),
                ColumnarValue::Array(next),
            ],
        );
        assert_eq!(hours.as_primitive::<Int64Type>().value(0), 23);
    }

    #[test]
    fn last_days_of_months() {
        use chrono::NaiveDate;
        let day = |s: &str| {
            Date32Type::from_naive_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
        };
        assert_eq!(
            last_day_of_month(day("2024-02-10")),
            Some(day("2024-02-29"))
        );
        assert_eq!(
            last_day_of_month(day("2023-12-31")),
            Some(day("2023-12-31"))
        );
    }
}
