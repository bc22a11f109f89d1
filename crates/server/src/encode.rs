//! Arrow batches as Postgres rows (arrow-pg), text or binary per column as the client asks.
//! Types Postgres has no counterpart for (maps, 256-bit decimals, unions) are sent as text,
//! formatted as the shell prints them.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions as ArrowFormat};
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;

use crate::sqlstate;

/// Whether arrow-pg can send values of `data_type`.
fn sendable(data_type: &DataType) -> bool {
    if arrow_pg::datatypes::into_pg_type(data_type).is_err() {
        return false;
    }
    match data_type {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            sendable(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().all(|f| sendable(f.data_type())),
        DataType::Dictionary(_, value) => sendable(value),
        _ => true,
    }
}

/// The schema as sent: unsendable columns become text.
pub(crate) fn wire_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if sendable(f.data_type()) {
                f.as_ref().clone()
            } else {
                Field::new(f.name(), DataType::Utf8, true)
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The row description of `schema` in `format`.
pub(crate) fn fields(
    schema: &Schema,
    format: &Format,
    options: Option<Arc<FormatOptions>>,
) -> PgWireResult<Vec<FieldInfo>> {
    arrow_pg::datatypes::arrow_schema_to_pg_fields(&wire_schema(schema), format, options)
}

/// `batch` as sent: unsendable columns as text, and timestamps sent as text written the way
/// Postgres writes them (`pg_text`: no trailing zeros in the fraction, none when whole).
pub(crate) fn wire_batch(
    batch: RecordBatch,
    wire: &SchemaRef,
    pg_text: &[bool],
) -> PgWireResult<RecordBatch> {
    if batch.schema().fields() == wire.fields() && !pg_text.iter().any(|t| *t) {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(wire.fields())
        .zip(pg_text)
        .map(|((column, field), pg_text)| {
            if *pg_text {
                timestamps_as_text(column)
            } else if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                as_text(column)
            }
        })
        .collect::<PgWireResult<Vec<_>>>()?;
    let fields: Vec<Field> = wire
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| sqlstate::datafusion(e.into()))
}

/// Timestamps (without a zone) as Postgres's ISO text: `2024-01-01 08:00:00`,
/// `2024-01-01 08:01:35.84134`.
fn timestamps_as_text(column: &ArrayRef) -> PgWireResult<ArrayRef> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{TimeUnit, TimestampMicrosecondType};
    let micros =
        datafusion::arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(|e| sqlstate::datafusion(e.into()))?;
    let micros = micros.as_primitive::<TimestampMicrosecondType>();
    let mut text = StringBuilder::new();
    for i in 0..micros.len() {
        if micros.is_null(i) {
            text.append_null();
            continue;
        }
        let value = micros.value(i);
        match chrono::DateTime::from_timestamp_micros(value) {
            Some(time) => {
                let mut written = time.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
                let fraction = value.rem_euclid(1_000_000);
                if fraction != 0 {
                    let digits = format!("{fraction:06}");
                    written.push('.');
                    written.push_str(digits.trim_end_matches('0'));
                }
                text.append_value(written);
            }
            None => text.append_null(),
        }
    }
    Ok(Arc::new(text.finish()))
}

fn as_text(column: &ArrayRef) -> PgWireResult<ArrayRef> {
    let formatter = ArrayFormatter::try_new(column.as_ref(), &ArrowFormat::default())
        .map_err(|e| sqlstate::datafusion(e.into()))?;
    let mut text = StringBuilder::new();
    for i in 0..column.len() {
        if column.is_null(i) {
            text.append_null();
        } else {
            text.append_value(formatter.value(i).to_string());
        }
    }
    Ok(Arc::new(text.finish()))
}

/// The rows of `batches` as `fields` describe them. The stream ends early with an error when
/// `stop` resolves first (a cancel request); dropping it stops the query.
pub(crate) fn rows<F>(
    schema: &Schema,
    fields: Arc<Vec<FieldInfo>>,
    batches: SendableRecordBatchStream,
    stop: F,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static
where
    F: Future<Output = ()> + Send + 'static,
{
    let wire = wire_schema(schema);
    // Timestamps in text format, when the client asked for ISO dates (the default).
    let pg_text: Vec<bool> = wire
        .fields()
        .iter()
        .zip(fields.iter())
        .map(|(f, info)| {
            matches!(f.data_type(), DataType::Timestamp(_, None))
                && info.format() == FieldFormat::Text
                && info
                    .format_options()
                    .date_style
                    .to_ascii_uppercase()
                    .starts_with("ISO")
        })
        .collect();
    let batches = batches.map(|batch| batch.map_err(sqlstate::datafusion));
    // `None` marks the end of the batches; the cancel, whenever it comes, is an error.
    let batches = batches
        .map(Some)
        .chain(futures::stream::once(async { None }));
    let stopped = futures::stream::once(stop).map(|()| Some(Err(sqlstate::canceled())));
    // Whichever comes first: the end, or the cancel (after which nothing more).
    let batches = futures::stream::select(batches, stopped).take_while_inclusive_ok();
    batches.flat_map(move |batch| {
        let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> = match batch {
            Ok(batch) => match crate::fast_text::rows(&batch, &fields) {
                Some(rows) => Box::new(rows.into_iter().map(Ok)),
                None => match wire_batch(batch, &wire, &pg_text) {
                    Ok(batch) => {
                        arrow_pg::datatypes::encode_recordbatch(Arc::clone(&fields), batch)
                    }
                    Err(error) => Box::new(std::iter::once(Err(error))),
                },
            },
            Err(error) => Box::new(std::iter::once(Err(error))),
        };
        futures::stream::iter(rows)
    })
}

/// Ends a stream of `Option<Result>` after its first error, and at its first `None`.
trait TakeWhileOk<T, E>: Stream<Item = Option<Result<T, E>>> + Sized {
    fn take_while_inclusive_ok(self) -> impl Stream<Item = Result<T, E>> {
        futures::stream::unfold((Box::pin(self), false), |(mut stream, done)| async move {
            if done {
                return None;
            }
            match stream.next().await.flatten() {
                Some(Ok(item)) => Some((Ok(item), (stream, false))),
                Some(Err(error)) => Some((Err(error), (stream, true))),
                None => None,
            }
        })
    }
}

impl<T, E, S: Stream<Item = Option<Result<T, E>>>> TakeWhileOk<T, E> for S {}
