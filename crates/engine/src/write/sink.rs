//! Rows into a table's files: each batch's columns checked and cast to the table's types (a
//! value that does not fit is an error naming the column, never a NULL), split by partition
//! (rows arrive sorted by the partition columns), and written to files that roll over at the
//! table's file size.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use futures::StreamExt;
use minerva_catalog::{Column, Partition, Table, Value};
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt};

use super::files::{ClosedFile, Encoding, OpenFile};
use crate::error::{EngineError, Result, WriteProblem};
use crate::types::athena_name;

/// What a write produced: its files, by partition, and its rows.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub(crate) files: Vec<(Partition, ClosedFile)>,
    pub(crate) rows: u64,
}

/// Where a sink's files go and how they are named.
pub(crate) struct Destination {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The table written (partition prefixes); `None` for an export to `root`.
    pub(crate) table: Option<Arc<Table>>,
    /// The root of an export (unpartitioned, or Hive directories below it).
    pub(crate) root: Path,
    /// How files are named: `minerva-<id>-<n>.<ext>` for a table, `<id>-<n>.<ext>` for an
    /// export (the prefix up to `<n>`), or one file of exactly this name.
    pub(crate) names: Naming,
    pub(crate) now: DateTime<Utc>,
    /// What the error messages call the destination.
    pub(crate) target: String,
}

/// How a sink names its files.
pub(crate) enum Naming {
    /// `<prefix><n>.<ext>`, `n` counting from 0.
    Numbered(String),
    /// One file, so named.
    Exactly(String),
}

/// Writes a stream of rows whose columns are the destination's data columns followed by its
/// partition columns.
pub(crate) struct Sink {
    destination: Destination,
    encoding: Encoding,
    /// Every column written, as declared: data columns, then partition columns.
    declared: Vec<Column>,
    declared_types: Vec<DataType>,
    file_schema: SchemaRef,
    data_columns: usize,
    current: Option<(Partition, OpenFile)>,
    written: Written,
    next_file: usize,
}

impl Sink {
    pub(crate) fn new(
        destination: Destination,
        encoding: Encoding,
        data: Vec<Column>,
        partitions: Vec<Column>,
    ) -> Self {
        let data_columns = data.len();
        let declared: Vec<Column> = data.into_iter().chain(partitions).collect();
        let declared_types: Vec<DataType> = declared
            .iter()
            .map(|c| crate::types::arrow_type(&c.ty))
            .collect();
        let file_schema = Arc::new(Schema::new(
            declared[..data_columns]
                .iter()
                .zip(&declared_types)
                .map(|(c, ty)| datafusion::arrow::datatypes::Field::new(&c.name, ty.clone(), true))
                .collect::<Vec<_>>(),
        ));
        Self {
            destination,
            encoding,
            declared,
            declared_types,
            file_schema,
            data_columns,
            current: None,
            written: Written::default(),
            next_file: 0,
        }
    }

    /// Plans and runs `plan` on `state`, then writes its rows (see [`Sink::write_all`]).
    pub(crate) async fn write_plan(
        self,
        state: &datafusion::execution::SessionState,
        plan: datafusion::logical_expr::LogicalPlan,
    ) -> Result<Written> {
        let mut rows = datafusion::dataframe::DataFrame::new(state.clone(), plan)
            .execute_stream()
            .await?;
        // The query (its sort's merge) runs in a task of its own, so that it produces the next
        // batches while this one encodes: two cores, two stages.
        let mut pipe = RecordBatchReceiverStream::builder(rows.schema(), 4);
        let sender = pipe.tx();
        pipe.spawn(async move {
            while let Some(batch) = rows.next().await {
                if sender.send(batch).await.is_err() {
                    break;
                }
            }
            Ok(())
        });
        self.write_all(pipe.build()).await
    }

    /// Writes every row of `stream`; on failure, what was written is deleted (best effort:
    /// anything left is never read, and a later write's clean-up removes it).
    pub(crate) async fn write_all(
        mut self,
        mut stream: SendableRecordBatchStream,
    ) -> Result<Written> {
        let result = async {
            while let Some(batch) = stream.next().await {
                self.push(batch?).await?;
            }
            self.close_current().await
        }
        .await;
        match result {
            Ok(()) => Ok(self.written),
            Err(e) => {
                if let Some((_, file)) = self.current.take() {
                    file.abandon().await;
                }
                let store = Arc::clone(&self.destination.store);
                for (_, file) in &self.written.files {
                    let _ = store.delete(&file.location).await;
                }
                Err(e)
            }
        }
    }

    async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let columns = self.cast(&batch)?;
        self.written.rows += batch.num_rows() as u64;
        if self.declared.len() == self.data_columns {
            let root = self.unpartitioned();
            return self.write_rows(root, &columns, 0, batch.num_rows()).await;
        }
        let keys = &columns[self.data_columns..];
        let ranges = datafusion::arrow::compute::partition(keys)
            .map_err(|e| EngineError::Query(e.into()))?
            .ranges();
        for range in ranges {
            let values = self.partition_values(keys, range.start)?;
            let partition = match &self.current {
                Some((current, _)) if current.values == values => current.clone(),
                _ => self.partition(values)?,
            };
            self.write_rows(partition, &columns, range.start, range.end - range.start)
                .await?;
        }
        Ok(())
    }

    /// The batch's columns as declared; narrowing casts are checked.
    fn cast(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        batch
            .columns()
            .iter()
            .zip(self.declared.iter().zip(&self.declared_types))
            .map(|(array, (column, ty))| {
                if array.data_type() == ty {
                    return Ok(Arc::clone(array));
                }
                cast_with_options(array, ty, &options).map_err(|e| EngineError::Write {
                    target: self.destination.target.clone(),
                    problem: WriteProblem::ValueDoesNotFit {
                        column: column.name.clone(),
                        declared: column.ty.to_string(),
                        message: e.to_string(),
                    },
                })
            })
            .collect()
    }

    fn partition_values(&self, keys: &[ArrayRef], row: usize) -> Result<Vec<Value>> {
        keys.iter()
            .zip(&self.declared[self.data_columns..])
            .map(|(array, column)| {
                let scalar = ScalarValue::try_from_array(array, row).map_err(EngineError::Query)?;
                value_of(&scalar).ok_or_else(|| EngineError::Write {
                    target: self.destination.target.clone(),
                    problem: WriteProblem::PartitionValue {
                        column: column.name.clone(),
                        value: scalar.to_string(),
                    },
                })
            })
            .collect()
    }

    fn unpartitioned(&self) -> Partition {
        Partition {
            values: Vec::new(),
            prefix: self.destination.root.clone(),
        }
    }

    /// Where rows with these partition values go.
    fn partition(&self, values: Vec<Value>) -> Result<Partition> {
        match &self.destination.table {
            Some(table) => Ok(table.write_partition(&values, self.destination.now)?),
            None => {
                let prefix = self.declared[self.data_columns..].iter().zip(&values).fold(
                    self.destination.root.clone(),
                    |prefix, (column, value)| {
                        prefix.join(PathPart::from(format!(
                            "{}={}",
                            column.name,
                            minerva_catalog::hive_escape(&value.to_string())
                        )))
                    },
                );
                Ok(Partition { values, prefix })
            }
        }
    }

    async fn write_rows(
        &mut self,
        partition: Partition,
        columns: &[ArrayRef],
        offset: usize,
        length: usize,
    ) -> Result<()> {
        if self
            .current
            .as_ref()
            .is_some_and(|(current, _)| current.values != partition.values)
        {
            self.close_current().await?;
        }
        if self.current.is_none() {
            let name = match &self.destination.names {
                Naming::Numbered(prefix) => {
                    format!(
                        "{prefix}{:05}.{}",
                        self.next_file,
                        self.encoding.extension()
                    )
                }
                Naming::Exactly(name) => name.clone(),
            };
            self.next_file += 1;
            let location = partition.prefix.clone().join(PathPart::from(name));
            let file = OpenFile::create(
                Arc::clone(&self.destination.store),
                location,
                Arc::clone(&self.file_schema),
                &self.encoding,
            )?;
            self.current = Some((partition, file));
        }
        let data: Vec<ArrayRef> = columns[..self.data_columns]
            .iter()
            .map(|c| c.slice(offset, length))
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.file_schema), data)
            .map_err(|e| EngineError::Query(e.into()))?;
        let (_, file) = self.current.as_mut().expect("a file was opened above");
        file.write(&batch).await?;
        if file.size() >= self.encoding.file_bytes {
            self.close_current().await?;
        }
        Ok(())
    }

    async fn close_current(&mut self) -> Result<()> {
        if let Some((partition, file)) = self.current.take() {
            let closed = file.close().await?;
            self.written.files.push((partition, closed));
            if self.written.files.len() == 1 {
                super::failpoint::pause("first-file").await;
            }
        }
        Ok(())
    }
}

/// A partition value from a partition column's scalar; an empty string is Hive's NULL
/// partition, as Hive writes it.
fn value_of(scalar: &ScalarValue) -> Option<Value> {
    if scalar.is_null() {
        return Some(Value::Null);
    }
    Some(match scalar {
        ScalarValue::Boolean(Some(b)) => Value::Boolean(*b),
        ScalarValue::Int8(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::Int16(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::Int32(Some(i)) => Value::Int(i64::from(*i)),
        ScalarValue::Int64(Some(i)) => Value::Int(*i),
        ScalarValue::Date32(Some(days)) => Value::Date(
            chrono::DateTime::from_timestamp(i64::from(*days) * 86_400, 0)?.date_naive(),
        ),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => {
            if s.is_empty() {
                Value::Null
            } else {
                Value::String(s.clone())
            }
        }
        _ => return None,
    })
}

/// Whether a value of type `given` stores in a column declared `declared`: unchanged (the
/// same type up to encoding, a wider number, text from what prints exactly), or an integer
/// narrowed with every value checked. Anything else needs an explicit CAST.
pub(crate) fn storable(given: &DataType, declared: &DataType) -> bool {
    let integer = |t: &DataType| t.is_integer();
    crate::scan::drift::reads_as(given, declared) || (integer(given) && integer(declared))
}

/// The error for a column whose type does not store as declared.
pub(crate) fn type_error(target: &str, column: &Column, given: &DataType) -> EngineError {
    EngineError::Write {
        target: target.to_string(),
        problem: WriteProblem::ColumnType {
            column: column.name.clone(),
            declared: column.ty.to_string(),
            given: athena_name(given),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_store_unchanged_or_checked() {
        use DataType::*;
        assert!(storable(&Int32, &Int64));
        assert!(storable(&Int64, &Int32), "checked per value");
        assert!(storable(&Utf8, &Utf8View));
        assert!(storable(&Int64, &Utf8View));
        assert!(storable(&Null, &Date32));
        assert!(!storable(&Utf8View, &Int64));
        assert!(!storable(&Float64, &Int64));
        assert!(!storable(&Float64, &Float32));
        assert!(!storable(
            &Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            &Date32
        ));
    }

    #[test]
    fn partition_values_of_each_type() {
        assert_eq!(
            value_of(&ScalarValue::Int16(Some(-3))),
            Some(Value::Int(-3))
        );
        assert_eq!(
            value_of(&ScalarValue::Date32(Some(19_758))),
            Some(Value::Date(
                chrono::NaiveDate::from_ymd_opt(2024, 2, 5).unwrap()
            ))
        );
        assert_eq!(
            value_of(&ScalarValue::Utf8View(Some(String::new()))),
            Some(Value::Null)
        );
        assert_eq!(value_of(&ScalarValue::Int64(None)), Some(Value::Null));
        assert_eq!(value_of(&ScalarValue::Float64(Some(1.0))), None);
    }
}
