//! Trino's time zone functions (`functions/datetime.md`, "Time zone conversion" and "Time zone
//! functions"): `at_timezone` (and so `AT TIME ZONE`), `with_timezone`, `current_timezone`,
//! `timezone_hour`, `timezone_minute`.
//!
//! The session zone is UTC, as in Athena: a `timestamp` without a zone is a UTC time.

use std::sync::Arc;

use chrono::{Offset, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::trino::args::{answer, arrays};
use crate::trino::udf::Simple;

/// The session time zone: Athena's, UTC.
pub(crate) const SESSION_ZONE: &str = "UTC";

/// The functions of this section.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(Zoned::new("at_timezone", Meaning::SameInstant)),
        ScalarUDF::from(Zoned::new("with_timezone", Meaning::SameWallClock)),
        Simple::with_signature(
            "current_timezone",
            Signature::nullary(Volatility::Stable),
            |_| Ok(DataType::Utf8),
            |_, _| {
                Ok(Arc::new(datafusion::arrow::array::StringArray::from(vec![
                    SESSION_ZONE,
                ])))
            },
        )
        .udf(),
        Simple::new(
            "timezone",
            &[1],
            |args| offset_returns(args).map(|_| DataType::Utf8),
            |args, _| {
                // "Returns the timezone identifier from timestamp(p) with time zone."
                let zone = match args[0].data_type() {
                    DataType::Timestamp(_, Some(zone)) => zone.to_string(),
                    _ => String::new(),
                };
                let out: datafusion::arrow::array::StringArray = (0..args[0].len())
                    .map(|i| args[0].is_valid(i).then(|| zone.clone()))
                    .collect();
                Ok(Arc::new(out) as ArrayRef)
            },
        )
        .udf(),
        Simple::new("timezone_hour", &[1], offset_returns, |args, _| {
            offsets(&args[0], |seconds| seconds / 3600)
        })
        .udf(),
        Simple::new("timezone_minute", &[1], offset_returns, |args, _| {
            offsets(&args[0], |seconds| (seconds % 3600) / 60)
        })
        .udf(),
    ]
}

/// What a zone does to a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Meaning {
    /// `at_timezone(timestamp, zone)`: "Converts a timestamp(p) with time zone to a time zone"
    /// — the same instant, shown in `zone`. A timestamp without a zone is read in the session
    /// zone first (Trino: "AT TIME ZONE operator").
    SameInstant,
    /// `with_timezone(timestamp, zone)`: "Returns the timestamp with time zone from timestamp
    /// and zone" — the same wall-clock time, now in `zone`.
    SameWallClock,
}

/// `at_timezone` and `with_timezone`: the answer's zone is the second argument, a constant.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Zoned {
    name: &'static str,
    meaning: Meaning,
    signature: Signature,
}

impl Zoned {
    fn new(name: &'static str, meaning: Meaning) -> Self {
        Self {
            name,
            meaning,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// A zone as Trino names them (`Asia/Seoul`, `UTC`, `+09:00`), checked.
pub(crate) fn zone_name(function: &str, text: &str) -> DFResult<Arc<str>> {
    let text = text.trim();
    let name = match text.to_ascii_uppercase().as_str() {
        "Z" | "UTC" | "GMT" | "UT" | "ZULU" => "UTC",
        _ => text,
    };
    match name.parse::<Tz>() {
        Ok(_) => Ok(name.into()),
        Err(_) => plan_err!("{function}(): '{text}' is not a time zone (Area/City, UTC or ±hh:mm)"),
    }
}

impl ScalarUDFImpl for Zoned {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        plan_err!("{}() is typed from its arguments", self.name)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DFResult<FieldRef> {
        let unit = match args.arg_fields[0].data_type() {
            DataType::Timestamp(unit, _) => *unit,
            DataType::Date32 | DataType::Date64 | DataType::Null => TimeUnit::Millisecond,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => TimeUnit::Microsecond,
            other => return plan_err!("{}() takes a timestamp, not {other}", self.name),
        };
        if self.meaning == Meaning::SameWallClock
            && matches!(
                args.arg_fields[0].data_type(),
                DataType::Timestamp(_, Some(_))
            )
        {
            return plan_err!(
                "{}() takes a timestamp without a time zone (use at_timezone to change the zone)",
                self.name
            );
        }
        let zone = match args.scalar_arguments.get(1) {
            Some(Some(value)) => match value.try_as_str() {
                Some(Some(text)) => zone_name(self.name, text)?,
                _ => return plan_err!("{}(): the time zone must be text", self.name),
            },
            _ => return plan_err!("{}(): the time zone must be a constant", self.name),
        };
        Ok(Arc::new(Field::new(
            self.name,
            DataType::Timestamp(unit, Some(zone)),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let returns = args.return_field.data_type().clone();
        let (arrays, scalar) = arrays(&args)?;
        let DataType::Timestamp(unit, Some(zone)) = &returns else {
            return exec_err!("{}(): no zone in the answer type", self.name);
        };
        let input = &arrays[0];
        let out: ArrayRef = match (self.meaning, input.data_type()) {
            // The same instant: UTC values kept, zone replaced.
            (Meaning::SameInstant, DataType::Timestamp(_, Some(_))) => {
                let utc = cast(input, &DataType::Timestamp(*unit, Some("UTC".into())))?;
                relabel(&utc, zone)?
            }
            (Meaning::SameInstant, _) => {
                let naive = cast(input, &DataType::Timestamp(*unit, None))?;
                relabel(&naive, zone)?
            }
            // The same wall clock: arrow reads a zone-less value as local time in the new zone.
            (Meaning::SameWallClock, _) => {
                let naive = cast(input, &DataType::Timestamp(*unit, None))?;
                cast(&naive, &returns)?
            }
        };
        answer(out, scalar)
    }
}

/// `array`'s values (UTC instants) under zone `zone`.
fn relabel(array: &ArrayRef, zone: &Arc<str>) -> DFResult<ArrayRef> {
    use datafusion::arrow::datatypes::{
        TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    Ok(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => Arc::new(
            array
                .as_primitive::<TimestampSecondType>()
                .clone()
                .with_timezone(Arc::clone(zone)),
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => Arc::new(
            array
                .as_primitive::<TimestampMillisecondType>()
                .clone()
                .with_timezone(Arc::clone(zone)),
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Arc::new(
            array
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
                .with_timezone(Arc::clone(zone)),
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Arc::new(
            array
                .as_primitive::<TimestampNanosecondType>()
                .clone()
                .with_timezone(Arc::clone(zone)),
        ),
        other => return exec_err!("not a timestamp: {other}"),
    })
}

fn offset_returns(args: &[DataType]) -> DFResult<DataType> {
    match &args[0] {
        DataType::Timestamp(_, Some(_)) | DataType::Null => Ok(DataType::Int64),
        other => plan_err!("takes a timestamp with time zone, not {other}"),
    }
}

/// A part of each value's UTC offset, in its zone at that instant.
fn offsets(array: &ArrayRef, part: fn(i64) -> i64) -> DFResult<ArrayRef> {
    let DataType::Timestamp(_, Some(zone)) = array.data_type() else {
        return Ok(Arc::new(Int64Array::new_null(array.len())));
    };
    let tz: Tz = zone.parse()?;
    let micros = cast(
        array,
        &DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::clone(zone))),
    )?;
    let out: Int64Array = micros
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .map(|v| {
            let utc = chrono::DateTime::from_timestamp_micros(v?)?.naive_utc();
            let seconds = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
            Some(part(i64::from(seconds)))
        })
        .collect();
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_named_as_trino_names_them() {
        assert_eq!(&*zone_name("f", "Asia/Seoul").unwrap(), "Asia/Seoul");
        assert_eq!(&*zone_name("f", "utc").unwrap(), "UTC");
        assert_eq!(&*zone_name("f", "+09:00").unwrap(), "+09:00");
        assert!(zone_name("f", "Mars/Olympus").is_err());
    }
}
