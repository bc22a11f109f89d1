//! Rows in text format for the common column types, written straight from the Arrow arrays
//! into each `DataRow`'s buffer: what large results spend their time on. Values are written
//! as Postgres writes them (`t`/`f`, ISO dates, timestamps without trailing zeros, decimals
//! at their scale); a batch with any other type, or a column asked for in binary, goes
//! through arrow-pg instead.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::messages::data::DataRow;

/// One column, ready to write values from.
enum Column<'a> {
    I8(&'a PrimitiveArray<Int8Type>),
    I16(&'a PrimitiveArray<Int16Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    U8(&'a PrimitiveArray<UInt8Type>),
    U16(&'a PrimitiveArray<UInt16Type>),
    U32(&'a PrimitiveArray<UInt32Type>),
    U64(&'a PrimitiveArray<UInt64Type>),
    Bool(&'a BooleanArray),
    Text(&'a StringArray),
    LargeText(&'a LargeStringArray),
    TextView(&'a StringViewArray),
    /// Dictionary-encoded text: the keys as i64, and the values.
    Dictionary(Vec<Option<i64>>, &'a StringArray),
    Date(&'a Date32Array),
    Timestamp(PrimitiveArray<TimestampMicrosecondType>),
    Decimal(&'a Decimal128Array, i8),
}

impl<'a> Column<'a> {
    fn of(array: &'a ArrayRef) -> Option<Self> {
        Some(match array.data_type() {
            DataType::Int8 => Column::I8(array.as_primitive()),
            DataType::Int16 => Column::I16(array.as_primitive()),
            DataType::Int32 => Column::I32(array.as_primitive()),
            DataType::Int64 => Column::I64(array.as_primitive()),
            DataType::UInt8 => Column::U8(array.as_primitive()),
            DataType::UInt16 => Column::U16(array.as_primitive()),
            DataType::UInt32 => Column::U32(array.as_primitive()),
            DataType::UInt64 => Column::U64(array.as_primitive()),
            DataType::Boolean => Column::Bool(array.as_boolean()),
            DataType::Utf8 => Column::Text(array.as_string()),
            DataType::LargeUtf8 => Column::LargeText(array.as_string()),
            DataType::Utf8View => Column::TextView(array.as_string_view()),
            DataType::Dictionary(key, value) if value.as_ref() == &DataType::Utf8 => {
                let keys = match key.as_ref() {
                    DataType::Int8 => keys::<Int8Type>(array),
                    DataType::Int16 => keys::<Int16Type>(array),
                    DataType::Int32 => keys::<Int32Type>(array),
                    DataType::Int64 => keys::<Int64Type>(array),
                    DataType::UInt8 => keys::<UInt8Type>(array),
                    DataType::UInt16 => keys::<UInt16Type>(array),
                    DataType::UInt32 => keys::<UInt32Type>(array),
                    _ => return None,
                }?;
                let values = dictionary_values(array)?;
                Column::Dictionary(keys, values)
            }
            DataType::Date32 => Column::Date(array.as_primitive()),
            DataType::Timestamp(_, None) => {
                let micros = datafusion::arrow::compute::cast(
                    array,
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                )
                .ok()?;
                Column::Timestamp(micros.as_primitive::<TimestampMicrosecondType>().clone())
            }
            DataType::Decimal128(_, scale) => Column::Decimal(array.as_primitive(), *scale),
            _ => return None,
        })
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Column::I8(a) => a.is_null(row),
            Column::I16(a) => a.is_null(row),
            Column::I32(a) => a.is_null(row),
            Column::I64(a) => a.is_null(row),
            Column::U8(a) => a.is_null(row),
            Column::U16(a) => a.is_null(row),
            Column::U32(a) => a.is_null(row),
            Column::U64(a) => a.is_null(row),
            Column::Bool(a) => a.is_null(row),
            Column::Text(a) => a.is_null(row),
            Column::LargeText(a) => a.is_null(row),
            Column::TextView(a) => a.is_null(row),
            Column::Dictionary(keys, values) => {
                keys[row].is_none_or(|k| values.is_null(k as usize))
            }
            Column::Date(a) => a.is_null(row),
            Column::Timestamp(a) => a.is_null(row),
            Column::Decimal(a, _) => a.is_null(row),
        }
    }

    /// Writes the value at `row` (not null) as Postgres's text.
    fn write(&self, row: usize, out: &mut BytesMut) -> Option<()> {
        match self {
            Column::I8(a) => number(a, row, out),
            Column::I16(a) => number(a, row, out),
            Column::I32(a) => number(a, row, out),
            Column::I64(a) => number(a, row, out),
            Column::U8(a) => number(a, row, out),
            Column::U16(a) => number(a, row, out),
            Column::U32(a) => number(a, row, out),
            Column::U64(a) => number(a, row, out),
            Column::Bool(a) => out.put_u8(if a.value(row) { b't' } else { b'f' }),
            Column::Text(a) => out.put_slice(a.value(row).as_bytes()),
            Column::LargeText(a) => out.put_slice(a.value(row).as_bytes()),
            Column::TextView(a) => out.put_slice(a.value(row).as_bytes()),
            Column::Dictionary(keys, values) => {
                out.put_slice(values.value(keys[row]? as usize).as_bytes())
            }
            Column::Date(a) => write_date(&a.value_as_date(row)?, out)?,
            Column::Timestamp(a) => {
                use chrono::Timelike;
                let value = a.value(row);
                let time = chrono::DateTime::from_timestamp_micros(value)?.naive_utc();
                write_date(&time.date(), out)?;
                out.put_u8(b' ');
                two_digits(time.hour(), out);
                out.put_u8(b':');
                two_digits(time.minute(), out);
                out.put_u8(b':');
                two_digits(time.second(), out);
                let fraction = value.rem_euclid(1_000_000);
                if fraction != 0 {
                    let mut digits = [0u8; 7];
                    digits[0] = b'.';
                    let mut rest = fraction;
                    for i in (1..7).rev() {
                        digits[i] = b'0' + (rest % 10) as u8;
                        rest /= 10;
                    }
                    let end = digits.iter().rposition(|d| *d != b'0').unwrap_or(0) + 1;
                    out.put_slice(&digits[..end]);
                }
            }
            Column::Decimal(a, scale) => {
                let text = <datafusion::arrow::datatypes::Decimal128Type as datafusion::arrow::datatypes::DecimalType>::format_decimal(
                    a.value(row),
                    38,
                    *scale,
                );
                out.put_slice(text.as_bytes());
            }
        }
        Some(())
    }
}

/// `YYYY-MM-DD`, for years 1 to 9999 (others: `None`, the general path writes them).
fn write_date(date: &chrono::NaiveDate, out: &mut BytesMut) -> Option<()> {
    use chrono::Datelike;
    let year = u32::try_from(date.year())
        .ok()
        .filter(|y| (1..=9999).contains(y))?;
    two_digits(year / 100, out);
    two_digits(year % 100, out);
    out.put_u8(b'-');
    two_digits(date.month(), out);
    out.put_u8(b'-');
    two_digits(date.day(), out);
    Some(())
}

fn two_digits(n: u32, out: &mut BytesMut) {
    out.put_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

fn keys<K: datafusion::arrow::datatypes::ArrowDictionaryKeyType>(
    array: &ArrayRef,
) -> Option<Vec<Option<i64>>>
where
    K::Native: TryInto<i64>,
{
    let dictionary = array.as_any().downcast_ref::<DictionaryArray<K>>()?;
    Some(
        dictionary
            .keys()
            .iter()
            .map(|k| k.and_then(|k| k.try_into().ok()))
            .collect(),
    )
}

fn dictionary_values(array: &ArrayRef) -> Option<&StringArray> {
    let dictionary = array.as_any_dictionary_opt()?;
    dictionary.values().as_string_opt::<i32>()
}

fn number<T: ArrowPrimitiveType>(array: &PrimitiveArray<T>, row: usize, out: &mut BytesMut)
where
    T::Native: std::fmt::Display,
{
    let _ = write!(Writer(out), "{}", array.value(row));
}

/// `fmt::Write` into a `BytesMut`.
struct Writer<'a>(&'a mut BytesMut);

impl std::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// The rows of `batch` in text format, when every column is of a type written here and asked
/// for in text; `None` otherwise.
pub(crate) fn rows(batch: &RecordBatch, fields: &[FieldInfo]) -> Option<Vec<DataRow>> {
    if fields.len() != batch.num_columns()
        || fields.iter().any(|f| f.format() != FieldFormat::Text)
        || fields.iter().any(|f| {
            !f.format_options()
                .date_style
                .to_ascii_uppercase()
                .starts_with("ISO")
        })
    {
        return None;
    }
    let columns: Vec<Column> = batch
        .columns()
        .iter()
        .map(Column::of)
        .collect::<Option<_>>()?;
    let field_count = i16::try_from(columns.len()).ok()?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    // One allocation for the batch's rows (each row a slice of it), grown if it falls short.
    let mut out = BytesMut::with_capacity(batch.num_rows() * 16 * columns.len() + 64);
    for row in 0..batch.num_rows() {
        for column in &columns {
            if column.is_null(row) {
                out.put_i32(-1);
                continue;
            }
            let at = out.len();
            out.put_i32(0);
            column.write(row, &mut out)?;
            let length = i32::try_from(out.len() - at - 4).ok()?;
            out[at..at + 4].copy_from_slice(&length.to_be_bytes());
        }
        rows.push(DataRow::new(out.split(), field_count));
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        Int8Array, Int64Array, StringDictionaryBuilder, TimestampMicrosecondArray, UInt64Array,
    };
    use datafusion::arrow::datatypes::{Field, Schema};
    use pgwire::api::portal::Format;

    use super::*;

    /// A batch with every type the fast path writes, nulls in each.
    fn every_type() -> RecordBatch {
        let mut dictionary = StringDictionaryBuilder::<Int32Type>::new();
        dictionary.append_value("서울 강남구");
        dictionary.append_null();
        dictionary.append_value("a,\"b\"");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![Some(-8), None, Some(127)])),
            Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(0), None])),
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), None, Some(1)])),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            Arc::new(StringArray::from(vec![Some("é"), None, Some("")])),
            Arc::new(StringViewArray::from(vec![
                None,
                Some("a long enough string value"),
                Some("x"),
            ])),
            Arc::new(dictionary.finish()),
            Arc::new(Date32Array::from(vec![Some(0), Some(19_782), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_704_067_200_000_000),
                Some(1_704_067_200_123_450),
                None,
            ])),
            Arc::new(
                Decimal128Array::from(vec![Some(1230), None, Some(-5)])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn the_fast_path_writes_what_arrow_pg_writes() {
        let batch = every_type();
        let fields =
            Arc::new(crate::encode::fields(&batch.schema(), &Format::UnifiedText, None).unwrap());
        let fast = rows(&batch, &fields).expect("every column is a fast type");
        // The general path, one column at a time (so that the fast one stays out of it).
        let columns: Vec<Vec<DataRow>> = (0..batch.num_columns())
            .map(|column| {
                let one = batch.project(&[column]).unwrap();
                let wire = crate::encode::wire_schema(&one.schema());
                let pg_text = [matches!(
                    one.column(0).data_type(),
                    DataType::Timestamp(_, None)
                )];
                let sent = crate::encode::wire_batch(one, &wire, &pg_text).unwrap();
                arrow_pg::datatypes::encode_recordbatch(
                    Arc::new(vec![fields[column].clone()]),
                    sent,
                )
                .map(|r| r.unwrap())
                .collect()
            })
            .collect();
        let slow: Vec<DataRow> = (0..batch.num_rows())
            .map(|row| {
                let mut data = BytesMut::new();
                for column in &columns {
                    data.extend_from_slice(&column[row].data);
                }
                DataRow::new(data, batch.num_columns() as i16)
            })
            .collect();
        assert_eq!(fast.len(), slow.len());
        for (row, (fast, slow)) in fast.iter().zip(&slow).enumerate() {
            assert_eq!(fast, slow, "row {row}");
        }
    }

    #[test]
    fn binary_columns_and_other_types_take_the_general_path() {
        let batch = every_type();
        let binary = crate::encode::fields(&batch.schema(), &Format::UnifiedBinary, None).unwrap();
        assert!(rows(&batch, &binary).is_none());
        let floats = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("f", DataType::Float64, true)])),
            vec![Arc::new(datafusion::arrow::array::Float64Array::from(
                vec![1.5],
            ))],
        )
        .unwrap();
        let text = crate::encode::fields(&floats.schema(), &Format::UnifiedText, None).unwrap();
        assert!(rows(&floats, &text).is_none());
    }
}
