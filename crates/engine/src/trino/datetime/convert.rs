//! Trino's conversions between times and text or numbers (`functions/datetime.md`: "Date and
//! time functions", "Truncation function", "Java date functions", "MySQL date functions"):
//! `date_parse`, `parse_datetime`, `format_datetime`, `from_iso8601_timestamp`,
//! `from_iso8601_date`, `to_iso8601`, `from_unixtime`, `to_unixtime`, `date_trunc`, and the
//! Teradata functions `to_char`, `to_date`, `to_timestamp` (`functions/teradata.md`).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Float64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use minerva_catalog::DateFormat;

use super::zone::{SESSION_ZONE, zone_name};
use crate::trino::args::{answer, arrays};
use crate::trino::udf::Simple;

/// The functions of this section.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        Simple::new("date_parse", &[2], text_returns(naive_ms()), date_parse).udf(),
        Simple::new(
            "parse_datetime",
            &[2],
            text_returns(utc_ms()),
            parse_datetime,
        )
        .udf(),
        Simple::new(
            "format_datetime",
            &[2],
            time_returns(DataType::Utf8),
            format_datetime,
        )
        .udf(),
        Simple::new(
            "from_iso8601_timestamp",
            &[1],
            text_returns(utc_ms()),
            from_iso8601_timestamp,
        )
        .udf(),
        Simple::new(
            "from_iso8601_date",
            &[1],
            text_returns(DataType::Date32),
            from_iso8601_date,
        )
        .udf(),
        Simple::new("to_iso8601", &[1], time_returns(DataType::Utf8), to_iso8601).udf(),
        Simple::new(
            "to_unixtime",
            &[1],
            time_returns(DataType::Float64),
            to_unixtime,
        )
        .udf(),
        Simple::new(
            "human_readable_seconds",
            &[1],
            |args| match args[0].is_numeric() || args[0].is_null() {
                true => Ok(DataType::Utf8),
                false => plan_err!("human_readable_seconds() takes a number, not {}", args[0]),
            },
            human_readable_seconds,
        )
        .udf(),
        Simple::new(
            "to_milliseconds",
            &[1],
            |args| match &args[0] {
                DataType::Interval(_) | DataType::Duration(_) | DataType::Null => {
                    Ok(DataType::Int64)
                }
                other => plan_err!("to_milliseconds() takes an interval, not {other}"),
            },
            to_milliseconds,
        )
        .udf(),
        Simple::new(
            "to_char",
            &[2],
            time_returns(DataType::Utf8),
            teradata_to_char,
        )
        .udf(),
        Simple::new(
            "to_date",
            &[2],
            text_returns(DataType::Date32),
            |args, _| {
                let times = teradata_parse(args)?;
                let dates = times
                    .into_iter()
                    .map(|t| t.map(|t| days_since_epoch(t.date())));
                Ok(Arc::new(Date32Array::from_iter(dates)))
            },
        )
        .udf(),
        Simple::new(
            "to_timestamp",
            &[2],
            text_returns(naive_ms()),
            |args, returns| millis_array(teradata_parse(args)?, returns),
        )
        .udf(),
        ScalarUDF::from(FromUnixtime::new()),
        ScalarUDF::from(DateTrunc::new()),
    ]
}

fn naive_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn utc_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(SESSION_ZONE.into()))
}

fn is_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
    )
}

/// A return type rule: `ty` when every argument is text.
fn text_returns(ty: DataType) -> crate::trino::udf::Returns {
    // One rule per return type: fn pointers cannot capture, so each is spelled out.
    match ty {
        DataType::Date32 => |args| expect_text(args).map(|_| DataType::Date32),
        DataType::Timestamp(_, None) => |args| expect_text(args).map(|_| naive_ms()),
        _ => |args| expect_text(args).map(|_| utc_ms()),
    }
}

fn expect_text(args: &[DataType]) -> DFResult<()> {
    match args.iter().find(|t| !is_text(t)) {
        Some(other) => plan_err!("takes text, not {other}"),
        None => Ok(()),
    }
}

/// A return type rule: `ty` when the first argument is a date or timestamp.
fn time_returns(ty: DataType) -> crate::trino::udf::Returns {
    match ty {
        DataType::Float64 => |args| expect_time(args).map(|_| DataType::Float64),
        _ => |args| expect_time(args).map(|_| DataType::Utf8),
    }
}

fn expect_time(args: &[DataType]) -> DFResult<()> {
    match &args[0] {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Null => Ok(()),
        other => plan_err!("takes a date or a timestamp, not {other}"),
    }
}

/// Each value of a text array, or None.
fn texts(array: &ArrayRef) -> DFResult<Vec<Option<String>>> {
    let strings = cast(array, &DataType::Utf8)?;
    Ok(strings
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect())
}

/// A text argument that is one value for every row (a format).
fn constant_text(array: &ArrayRef, what: &str) -> DFResult<Option<String>> {
    let values = texts(array)?;
    let first = values.first().cloned().flatten();
    if values.iter().any(|v| *v != first) {
        return exec_err!("the {what} must be the same for every row");
    }
    Ok(first)
}

/// Each value of a date or timestamp array as local wall-clock time (in its own zone), and the
/// zone when it has one.
fn local_times(array: &ArrayRef) -> DFResult<(Vec<Option<NaiveDateTime>>, Option<Tz>)> {
    let zone = match array.data_type() {
        DataType::Timestamp(_, Some(z)) => Some(z.parse::<Tz>()?),
        _ => None,
    };
    let zone_name = match array.data_type() {
        DataType::Timestamp(_, z) => z.clone(),
        _ => None,
    };
    let micros = cast(
        array,
        &DataType::Timestamp(TimeUnit::Microsecond, zone_name),
    )?;
    let times = micros
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .map(|v| {
            let utc = DateTime::from_timestamp_micros(v?)?.naive_utc();
            Some(match &zone {
                Some(tz) => tz.from_utc_datetime(&utc).naive_local(),
                None => utc,
            })
        })
        .collect();
    Ok((times, zone))
}

fn millis_array(times: Vec<Option<NaiveDateTime>>, ty: &DataType) -> DFResult<ArrayRef> {
    let millis: TimestampMillisecondArray = times
        .into_iter()
        .map(|t| t.map(|t| t.and_utc().timestamp_millis()))
        .collect();
    Ok(match ty {
        DataType::Timestamp(_, Some(zone)) => Arc::new(millis.with_timezone(Arc::clone(zone))),
        _ => Arc::new(millis),
    })
}

/// `date_parse(string, format)`: "Parses string into a timestamp using format" (MySQL
/// specifiers, Trino: "MySQL date functions"). Text that does not match fails the query (NULL
/// inside `try`).
fn date_parse(args: &[ArrayRef], returns: &DataType) -> DFResult<ArrayRef> {
    let Some(format) = constant_text(&args[1], "format")? else {
        return Ok(datafusion::arrow::array::new_null_array(
            returns,
            args[0].len(),
        ));
    };
    let chrono = super::mysql::chrono_format(&format);
    millis_array(read_times(&args[0], &chrono, &format)?, returns)
}

/// Each text of `array` read with chrono format `chrono` (the user's `format`, for errors); text
/// that does not match fails the query (NULL inside `try`).
fn read_times(
    array: &ArrayRef,
    chrono: &str,
    format: &str,
) -> DFResult<Vec<Option<NaiveDateTime>>> {
    texts(array)?
        .into_iter()
        .map(|text| match text {
            None => Ok(None),
            Some(text) => parse_with(&text, chrono)
                .map(Some)
                .ok_or_else(|| invalid(&text, format)),
        })
        .collect()
}

fn invalid(text: &str, format: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!(
        "invalid time '{text}' for format '{format}'"
    ))
}

/// `text` read with chrono format `format`: a date and time, or a date alone (midnight), or a
/// time alone (on 1970-01-01, as MySQL does).
fn parse_with(text: &str, format: &str) -> Option<NaiveDateTime> {
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    NaiveDateTime::parse_from_str(text, format)
        .ok()
        // An hour without minutes: chrono wants minutes for a time.
        .or_else(|| {
            NaiveDateTime::parse_from_str(&format!("{text}:00"), &format!("{format}:%M")).ok()
        })
        .or_else(|| {
            let has_time = ["%H", "%-H", "%I", "%-I", "%M", "%S"]
                .iter()
                .any(|spec| format.contains(spec));
            if has_time {
                return None;
            }
            NaiveDate::parse_from_str(text, format)
                .ok()
                .map(midnight)
                // A year and month without a day.
                .or_else(|| {
                    NaiveDate::parse_from_str(&format!("{text}-01"), &format!("{format}-%d"))
                        .ok()
                        .map(midnight)
                })
        })
}

/// `parse_datetime(string, format)`: "Parses string into a timestamp with time zone using
/// format" (Joda patterns, Trino: "Java date functions"), in the session zone.
fn parse_datetime(args: &[ArrayRef], returns: &DataType) -> DFResult<ArrayRef> {
    let Some(pattern) = constant_text(&args[1], "format")? else {
        return Ok(datafusion::arrow::array::new_null_array(
            returns,
            args[0].len(),
        ));
    };
    let format = java_format(&pattern)?;
    let times = texts(&args[0])?
        .into_iter()
        .map(|text| match text {
            None => Ok(None),
            Some(text) => format
                .parse_time(&text)
                .map(Some)
                .ok_or_else(|| invalid(&text, &pattern)),
        })
        .collect::<DFResult<Vec<_>>>()?;
    millis_array(times, returns)
}

fn java_format(pattern: &str) -> DFResult<DateFormat> {
    DateFormat::parse(pattern).map_err(|e| {
        datafusion::error::DataFusionError::Execution(format!("format '{pattern}': {e}"))
    })
}

/// Each date or timestamp of `array`, in its own zone, as `spell` writes it.
fn spell_times(array: &ArrayRef, spell: impl Fn(NaiveDateTime) -> String) -> DFResult<ArrayRef> {
    let (times, _) = local_times(array)?;
    let out: StringArray = times.into_iter().map(|t| t.map(&spell)).collect();
    Ok(Arc::new(out))
}

/// `format_datetime(timestamp, format)`: "Formats timestamp as a string using format" (Joda
/// patterns), in the timestamp's own zone.
fn format_datetime(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let Some(pattern) = constant_text(&args[1], "format")? else {
        return Ok(Arc::new(StringArray::new_null(args[0].len())));
    };
    let format = java_format(&pattern)?;
    spell_times(&args[0], |t| format.format(t))
}

/// `from_iso8601_timestamp(string)`: "Parses the ISO 8601 formatted date string, optionally with
/// time and time zone, into a timestamp(3) with time zone. The time defaults to 00:00:00.000,
/// and the time zone defaults to the session time zone." The answer is shown in UTC (Trino
/// keeps the offset written); the instant is the same.
fn from_iso8601_timestamp(args: &[ArrayRef], returns: &DataType) -> DFResult<ArrayRef> {
    let times = texts(&args[0])?
        .into_iter()
        .map(|text| match text {
            None => Ok(None),
            Some(text) => iso8601_instant(&text)
                .map(Some)
                .ok_or_else(|| invalid(&text, "ISO 8601")),
        })
        .collect::<DFResult<Vec<_>>>()?;
    millis_array(times, returns)
}

/// An ISO 8601 date, optionally with a time and an offset, as a UTC time.
fn iso8601_instant(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let (date, rest) = match text.find('T') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, ""),
    };
    let date = iso8601_date(date)?;
    let (time, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let time = match time.split(':').count() {
        _ if time.is_empty() => NaiveTime::MIN,
        1 => NaiveTime::parse_from_str(&format!("{time}:00"), "%H:%M").ok()?,
        2 => NaiveTime::parse_from_str(time, "%H:%M").ok()?,
        _ => NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?,
    };
    let local = date.and_time(time);
    let offset_seconds = match offset {
        None | Some("Z" | "z") => 0,
        Some(offset) => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let digits: String = offset[1..].chars().filter(char::is_ascii_digit).collect();
            let (h, m) = match digits.len() {
                2 => (digits.parse::<i32>().ok()?, 0),
                4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
                _ => return None,
            };
            sign * (h * 3600 + m * 60)
        }
    };
    Some(local - chrono::TimeDelta::seconds(i64::from(offset_seconds)))
}

/// `from_iso8601_date(string)`: "Parses the ISO 8601 formatted date string into a date. The
/// date can be a calendar date, a week date using ISO week numbering, or year and day of year
/// combined" (`2020-05-11`, `2020-W10`, `2020-W10-5`, `2020-123`).
fn from_iso8601_date(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let days = texts(&args[0])?
        .into_iter()
        .map(|text| match text {
            None => Ok(None),
            Some(text) => iso8601_date(text.trim())
                .map(|d| Some(days_since_epoch(d)))
                .ok_or_else(|| invalid(&text, "ISO 8601")),
        })
        .collect::<DFResult<Vec<_>>>()?;
    Ok(Arc::new(Date32Array::from(days)))
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")).num_days() as i32
}

fn iso8601_date(text: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = text.split('-').collect();
    let year: i32 = parts.first()?.parse().ok()?;
    match parts.as_slice() {
        [_] => NaiveDate::from_ymd_opt(year, 1, 1),
        [_, week] if week.starts_with('W') => {
            NaiveDate::from_isoywd_opt(year, week[1..].parse().ok()?, chrono::Weekday::Mon)
        }
        [_, week, day] if week.starts_with('W') => {
            let day: u8 = day.parse().ok()?;
            let weekday = chrono::Weekday::try_from(day.checked_sub(1)?).ok()?;
            NaiveDate::from_isoywd_opt(year, week[1..].parse().ok()?, weekday)
        }
        [_, ordinal] if ordinal.len() == 3 => NaiveDate::from_yo_opt(year, ordinal.parse().ok()?),
        [_, month] => NaiveDate::from_ymd_opt(year, month.parse().ok()?, 1),
        [_, month, day] => NaiveDate::from_ymd_opt(year, month.parse().ok()?, day.parse().ok()?),
        _ => None,
    }
}

/// `to_iso8601(x)`: "Formats x as an ISO 8601 string. x can be date, timestamp, or timestamp
/// with time zone." Fractions of a second show the timestamp's precision.
fn to_iso8601(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let array = &args[0];
    // Trino's timestamp(3) shows milliseconds; finer values show as many digits as they need.
    let digits = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => Some(0),
        DataType::Timestamp(..) => Some(3),
        _ => None,
    };
    let (times, zone) = local_times(array)?;
    let utc = local_times(&cast(
        array,
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )?)?
    .0;
    let out: StringArray = times
        .into_iter()
        .zip(utc)
        .map(|(local, utc)| {
            let local = local?;
            let Some(digits) = digits else {
                return Some(local.format("%Y-%m-%d").to_string());
            };
            let mut text = local.format("%Y-%m-%dT%H:%M:%S").to_string();
            if digits > 0 {
                let nanos = local.and_utc().timestamp_subsec_nanos();
                let digits = match nanos {
                    n if n % 1_000_000 == 0 => digits,
                    n if n % 1_000 == 0 => 6,
                    _ => 9,
                };
                let fraction = format!("{nanos:09}");
                text.push('.');
                text.push_str(&fraction[..digits]);
            }
            if let Some(tz) = &zone {
                let seconds = (local - utc?).num_seconds();
                match (tz.to_string().as_str(), seconds) {
                    ("UTC", _) | (_, 0) => text.push('Z'),
                    _ => {
                        let sign = if seconds < 0 { '-' } else { '+' };
                        let s = seconds.abs();
                        text.push_str(&format!("{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60));
                    }
                }
            }
            Some(text)
        })
        .collect();
    Ok(Arc::new(out))
}

/// `human_readable_seconds(double)`: "Formats the double value of seconds into a human readable
/// string containing weeks, days, hours, minutes, and seconds" (whole seconds, rounded).
fn human_readable_seconds(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let seconds = cast(&args[0], &DataType::Float64)?;
    let out: StringArray = seconds
        .as_primitive::<Float64Type>()
        .iter()
        .map(|s| s.map(|s| spell_seconds(s.round() as i64)))
        .collect();
    Ok(Arc::new(out))
}

fn spell_seconds(total: i64) -> String {
    let units = [
        ("week", 604_800),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ];
    let mut rest = total.abs();
    let mut parts = Vec::new();
    for (name, size) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        return "0 seconds".to_string();
    }
    parts.join(", ")
}

/// `to_milliseconds(interval)`: "Returns the day-to-second interval as milliseconds."
fn to_milliseconds(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    use datafusion::arrow::datatypes::{IntervalMonthDayNanoType, IntervalUnit};
    let unit = TimeUnit::Nanosecond;
    let nanos: Vec<Option<i64>> = match args[0].data_type() {
        DataType::Interval(_) => {
            let mdn = cast(&args[0], &DataType::Interval(IntervalUnit::MonthDayNano))?;
            mdn.as_primitive::<IntervalMonthDayNanoType>()
                .iter()
                .map(|v| {
                    // A day-to-second interval: months have no fixed length.
                    v.filter(|v| v.months == 0)
                        .map(|v| i64::from(v.days) * 86_400_000_000_000 + v.nanoseconds)
                })
                .collect()
        }
        _ => cast(&args[0], &DataType::Duration(unit))?
            .as_primitive::<datafusion::arrow::datatypes::DurationNanosecondType>()
            .iter()
            .collect(),
    };
    let out: datafusion::arrow::array::Int64Array = nanos
        .into_iter()
        .map(|n| n.map(|n| n / 1_000_000))
        .collect();
    Ok(Arc::new(out))
}

/// A Teradata format (Trino: "Teradata functions") as chrono's: `yyyy yy mm dd hh hh24 mi ss`
/// and the punctuation `- / , . ; :` and spaces; anything else is refused by name.
fn teradata_format(format: &str) -> DFResult<String> {
    const TOKENS: &[(&str, &str)] = &[
        ("yyyy", "%Y"),
        ("hh24", "%H"),
        ("yy", "%y"),
        ("mm", "%m"),
        ("dd", "%d"),
        ("hh", "%I"),
        ("mi", "%M"),
        ("ss", "%S"),
    ];
    let lower = format.to_ascii_lowercase();
    let mut rest = lower.as_str();
    let mut out = String::new();
    'next: while let Some(c) = rest.chars().next() {
        for (token, spec) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(spec);
                rest = after;
                continue 'next;
            }
        }
        if "-/,.;: ".contains(c) {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        return exec_err!(
            "to_char/to_date/to_timestamp(): Teradata format '{format}': '{rest}' is not one of yyyy yy mm dd hh hh24 mi ss or - / , . ; :"
        );
    }
    Ok(out)
}

/// `to_char(timestamp, format)`: "Formats timestamp as a string using format" (Teradata
/// formats; DataFusion's `to_char` takes chrono's).
fn teradata_to_char(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let Some(format) = constant_text(&args[1], "format")? else {
        return Ok(Arc::new(StringArray::new_null(args[0].len())));
    };
    let chrono = teradata_format(&format)?;
    spell_times(&args[0], |t| t.format(&chrono).to_string())
}

/// The text of `to_date(string, format)` and `to_timestamp(string, format)`, read with a
/// Teradata format; text that does not match fails the query.
fn teradata_parse(args: &[ArrayRef]) -> DFResult<Vec<Option<NaiveDateTime>>> {
    let Some(format) = constant_text(&args[1], "format")? else {
        return Ok(vec![None; args[0].len()]);
    };
    let chrono = teradata_format(&format)?;
    read_times(&args[0], &chrono, &format)
}

/// `to_unixtime(timestamp)`: "Returns timestamp as a UNIX timestamp" — seconds, a double.
fn to_unixtime(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let micros = cast(&args[0], &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let out: Float64Array = micros
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .map(|v| v.map(|v| v as f64 / 1e6))
        .collect();
    Ok(Arc::new(out))
}

/// `from_unixtime(unixtime [, zone | , hours, minutes])`: "Returns the UNIX timestamp unixtime
/// as a timestamp with time zone" in the session zone, in `zone`, or at offset `hours:minutes`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FromUnixtime {
    signature: Signature,
}

impl FromUnixtime {
    fn new() -> Self {
        Self {
            signature: Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Any(1),
                    datafusion::logical_expr::TypeSignature::Any(2),
                    datafusion::logical_expr::TypeSignature::Any(3),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for FromUnixtime {
    fn name(&self) -> &str {
        "from_unixtime"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        plan_err!("from_unixtime() is typed from its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DFResult<FieldRef> {
        if !args.arg_fields[0].data_type().is_numeric() && !args.arg_fields[0].data_type().is_null()
        {
            return plan_err!(
                "from_unixtime() takes seconds since 1970 (a number), not {}",
                args.arg_fields[0].data_type()
            );
        }
        let constant = |i: usize| -> DFResult<datafusion::common::ScalarValue> {
            match args.scalar_arguments.get(i) {
                Some(Some(value)) => Ok((*value).clone()),
                _ => plan_err!("from_unixtime(): the zone must be a constant"),
            }
        };
        let zone: Arc<str> = match args.arg_fields.len() {
            1 => SESSION_ZONE.into(),
            2 => match constant(1)?.try_as_str() {
                Some(Some(text)) => zone_name("from_unixtime", text)?,
                _ => return plan_err!("from_unixtime(): the zone must be text"),
            },
            _ => {
                let hours = constant(1)?.cast_to(&DataType::Int64)?;
                let minutes = constant(2)?.cast_to(&DataType::Int64)?;
                let (
                    datafusion::common::ScalarValue::Int64(Some(h)),
                    datafusion::common::ScalarValue::Int64(Some(m)),
                ) = (hours, minutes)
                else {
                    return plan_err!("from_unixtime(): hours and minutes must be numbers");
                };
                let sign = if h < 0 || m < 0 { '-' } else { '+' };
                zone_name(
                    "from_unixtime",
                    &format!("{sign}{:02}:{:02}", h.abs(), m.abs()),
                )?
            }
        };
        Ok(Arc::new(Field::new(
            "from_unixtime",
            DataType::Timestamp(TimeUnit::Millisecond, Some(zone)),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let returns = args.return_field.data_type().clone();
        let (arrays, scalar) = arrays(&args)?;
        let seconds = cast(&arrays[0], &DataType::Float64)?;
        let millis: TimestampMillisecondArray = seconds
            .as_primitive::<Float64Type>()
            .iter()
            .map(|s| s.map(|s| (s * 1000.0).round() as i64))
            .collect();
        let DataType::Timestamp(_, Some(zone)) = returns else {
            return exec_err!("from_unixtime(): no zone in the answer type");
        };
        answer(Arc::new(millis.with_timezone(zone)), scalar)
    }
}

/// `date_trunc(unit, x)`: "Returns x truncated to unit" — a date stays a date (DataFusion's
/// `date_trunc` answers a timestamp), a timestamp keeps its type and is truncated in its zone.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateTrunc {
    signature: Signature,
}

impl DateTrunc {
    fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        "date_trunc"
    }

    fn aliases(&self) -> &[String] {
        &[]
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        if !is_text(&args[0]) {
            return plan_err!("date_trunc(unit, x): the unit is text, not {}", args[0]);
        }
        match &args[1] {
            DataType::Date32 | DataType::Date64 => Ok(DataType::Date32),
            ty @ DataType::Timestamp(..) => Ok(ty.clone()),
            DataType::Null => Ok(DataType::Date32),
            other => plan_err!("date_trunc() takes a date or a timestamp, not {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let returns = args.return_field.data_type().clone();
        let (arrays, scalar) = arrays(&args)?;
        let Some(unit) = constant_text(&arrays[0], "unit")? else {
            return answer(
                datafusion::arrow::array::new_null_array(&returns, arrays[1].len()),
                scalar,
            );
        };
        let unit = unit.to_ascii_lowercase();
        let allowed: &[&str] = match returns {
            DataType::Date32 => &["day", "week", "month", "quarter", "year"],
            _ => &[
                "millisecond",
                "second",
                "minute",
                "hour",
                "day",
                "week",
                "month",
                "quarter",
                "year",
            ],
        };
        if !allowed.contains(&unit.as_str()) {
            return exec_err!(
                "date_trunc(): '{unit}' is not a unit for {returns} (one of {})",
                allowed.join(", ")
            );
        }
        let input = match returns {
            DataType::Date32 => cast(&arrays[1], &DataType::Timestamp(TimeUnit::Second, None))?,
            _ => Arc::clone(&arrays[1]),
        };
        let inner = datafusion::functions::datetime::date_trunc();
        let truncated = inner.invoke_with_args(ScalarFunctionArgs {
            args: vec![
                ColumnarValue::Scalar(datafusion::common::ScalarValue::Utf8(Some(unit))),
                ColumnarValue::Array(Arc::clone(&input)),
            ],
            arg_fields: vec![
                Arc::new(Field::new("unit", DataType::Utf8, true)),
                Arc::new(Field::new("x", input.data_type().clone(), true)),
            ],
            number_rows: input.len(),
            return_field: Arc::new(Field::new("t", input.data_type().clone(), true)),
            config_options: args.config_options,
        })?;
        let out = cast(&truncated.to_array(input.len())?, &returns)?;
        answer(out, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn seconds_are_spelled_as_trino_spells_them() {
        assert_eq!(spell_seconds(96), "1 minute, 36 seconds");
        assert_eq!(spell_seconds(3762), "1 hour, 2 minutes, 42 seconds");
        assert_eq!(
            spell_seconds(56363463),
            "93 weeks, 1 day, 8 hours, 31 minutes, 3 seconds"
        );
        assert_eq!(spell_seconds(0), "0 seconds");
    }

    #[test]
    fn teradata_formats_become_chrono_ones() {
        assert_eq!(
            teradata_format("yyyy-mm-dd hh24:mi:ss").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(teradata_format("DD/MM/YY").unwrap(), "%d/%m/%y");
        assert!(teradata_format("yyyy Q").is_err());
    }

    #[test]
    fn iso8601_instants() {
        assert_eq!(
            iso8601_instant("2020-05-11"),
            Some(t("2020-05-11 00:00:00"))
        );
        assert_eq!(
            iso8601_instant("2020-05-11T11:15:05"),
            Some(t("2020-05-11 11:15:05"))
        );
        assert_eq!(
            iso8601_instant("2020-05-11T11:15:05Z"),
            Some(t("2020-05-11 11:15:05"))
        );
        assert_eq!(
            iso8601_instant("2020-05-11T11:15:05.055+01:00"),
            Some(t("2020-05-11 10:15:05") + chrono::TimeDelta::milliseconds(55))
        );
        assert_eq!(
            iso8601_instant("2020-05-11T11-0130"),
            Some(t("2020-05-11 12:30:00"))
        );
        assert_eq!(iso8601_instant("yesterday"), None);
    }

    #[test]
    fn iso8601_dates_calendar_week_and_ordinal() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(iso8601_date("2020-05-11"), d(2020, 5, 11));
        assert_eq!(iso8601_date("2020-W10"), d(2020, 3, 2));
        assert_eq!(iso8601_date("2020-W10-5"), d(2020, 3, 6));
        assert_eq!(iso8601_date("2020-123"), d(2020, 5, 2));
        assert_eq!(iso8601_date("2020-02-30"), None);
    }

    #[test]
    fn mysql_formats_parse_with_missing_fields() {
        assert_eq!(
            parse_with("2022/10/20/05", "%Y/%m/%d/%H"),
            Some(t("2022-10-20 05:00:00"))
        );
        assert_eq!(
            parse_with("2022-10-20", "%Y-%m-%d"),
            Some(t("2022-10-20 00:00:00"))
        );
        assert_eq!(
            parse_with("2022-10", "%Y-%m"),
            Some(t("2022-10-01 00:00:00"))
        );
        assert_eq!(parse_with("20 Oct", "%Y-%m"), None);
    }
}
