//! Values as text, the way Athena's console shows them: timestamps with a space and their
//! fraction, a `timestamp with time zone` as its wall-clock time followed by the zone
//! (`2024-01-02 05:00:00 Asia/Seoul`), arrays as `[1, 2]`, maps as `{a=1, b=2}`.
//!
//! Text formats (CSV, the shell's table) print every column through this; JSON keeps types.

use std::sync::Arc;

use chrono::TimeZone;
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampMicrosecondType};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// How timestamps read in text: Athena's and DuckDB's spelling, not RFC 3339's.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// Arrow's display options for the rest.
pub fn format_options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("NULL")
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
}

/// `batch` with each column arrow cannot print as Athena does turned into text: zoned
/// timestamps, arrays, maps and structs. Other columns are kept as they are.
pub fn textual(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    if !batch.columns().iter().any(|c| needs_text(c.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if needs_text(column.data_type()) {
            fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
            columns.push(as_text(column)?);
        } else {
            fields.push(Arc::clone(field));
            columns.push(Arc::clone(column));
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn needs_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Timestamp(_, Some(_))
            | DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::FixedSizeList(..)
            | DataType::Map(..)
            | DataType::Struct(_)
    )
}

/// Each value of `array` as text (NULL stays NULL).
fn as_text(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let strings: StringArray = (0..array.len())
        .map(|i| {
            (!array.is_null(i))
                .then(|| value_text(array, i))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    Ok(Arc::new(strings))
}

/// Value `i` of `array` (not NULL) as text.
fn value_text(array: &ArrayRef, i: usize) -> Result<String, ArrowError> {
    Ok(match array.data_type() {
        DataType::Timestamp(_, Some(zone)) => {
            let tz: Tz = zone.parse()?;
            let micros = cast(
                &array.slice(i, 1),
                &DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::clone(zone))),
            )?;
            let value = micros.as_primitive::<TimestampMicrosecondType>().value(0);
            let utc = chrono::DateTime::from_timestamp_micros(value)
                .ok_or_else(|| {
                    ArrowError::ComputeError(format!("timestamp {value} is out of range"))
                })?
                .naive_utc();
            let local = tz.from_utc_datetime(&utc).naive_local();
            format!("{} {zone}", local.format(TIMESTAMP_FORMAT))
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let items = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(i),
                DataType::LargeList(_) => array.as_list::<i64>().value(i),
                _ => array.as_fixed_size_list().value(i),
            };
            let parts = (0..items.len())
                .map(|j| item_text(&items, j))
                .collect::<Result<Vec<_>, _>>()?;
            format!("[{}]", parts.join(", "))
        }
        DataType::Map(..) => {
            let entries = array.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let parts = (0..entries.len())
                .map(|j| Ok(format!("{}={}", item_text(keys, j)?, item_text(values, j)?)))
                .collect::<Result<Vec<_>, ArrowError>>()?;
            format!("{{{}}}", parts.join(", "))
        }
        _ => {
            let options = format_options();
            ArrayFormatter::try_new(array.as_ref(), &options)?
                .value(i)
                .to_string()
        }
    })
}

/// An element of an array or map: NULL as `NULL`, nested values the same way as at the top.
fn item_text(array: &ArrayRef, j: usize) -> Result<String, ArrowError> {
    if array.is_null(j) {
        return Ok("NULL".to_string());
    }
    value_text(array, j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ListArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::Int64Type;

    fn texts(array: ArrayRef) -> Vec<String> {
        let text = as_text(&array).unwrap();
        let text = text.as_string::<i32>();
        (0..text.len())
            .map(|i| {
                if text.is_null(i) {
                    "NULL".into()
                } else {
                    text.value(i).into()
                }
            })
            .collect()
    }

    #[test]
    fn zoned_timestamps_show_wall_clock_and_zone() {
        let t = TimestampMillisecondArray::from(vec![Some(0), None]).with_timezone("Asia/Seoul");
        assert_eq!(
            texts(Arc::new(t)),
            ["1970-01-01 09:00:00 Asia/Seoul", "NULL"]
        );
    }

    #[test]
    fn arrays_show_their_items() {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
            None,
        ]);
        assert_eq!(texts(Arc::new(list)), ["[1, NULL, 3]", "[]", "NULL"]);
    }
}
