//! Answers of commands and DDL statements: a few text and flag columns in one batch.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

/// The values of one column of a command's answer.
pub(crate) enum Values {
    /// Text, possibly missing.
    Text(Vec<Option<String>>),
    /// Yes or no.
    Flag(Vec<bool>),
}

/// A command's answer as one batch.
pub(crate) fn batch(columns: Vec<(&str, Values)>) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns
        .into_iter()
        .map(|(name, values)| match values {
            Values::Text(v) => (
                Field::new(name, DataType::Utf8, true),
                Arc::new(StringArray::from(v)) as ArrayRef,
            ),
            Values::Flag(v) => (
                Field::new(name, DataType::Boolean, false),
                Arc::new(BooleanArray::from(v)) as ArrayRef,
            ),
        })
        .unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("columns of equal length")
}

/// A one-row answer: what a statement did.
pub(crate) fn result(message: String) -> RecordBatch {
    batch(vec![("result", Values::Text(vec![Some(message)]))])
}
