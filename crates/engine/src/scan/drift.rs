//! Schema drift across a table's files, resolved by column name.
//!
//! Files written over months drift from the table's definition: a column added later is missing
//! from old files (it reads as NULL), a column dropped from the table is still in old files (it
//! is ignored), a writer stored an `int` where the table now says `bigint`. Such a column reads
//! as the table says when no value can change on the way ([`reads_as`]); anything else — a
//! `user_id` stored as strings where the table says `bigint` — is an error naming the file and
//! the column, never a silent cast to NULL (Athena's `HIVE_PARTITION_SCHEMA_MISMATCH`).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result as DFResult;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};

use crate::error::{ColumnTypeMismatch, EngineError};
use crate::types::athena_name;

/// Whether values stored as `stored` read as `declared` without any value changing: the same
/// type up to encoding (dictionaries, string views), a wider integer, float or decimal, any
/// timestamp unit, text from anything that prints exactly, and nested types field by field.
pub(crate) fn reads_as(stored: &DataType, declared: &DataType) -> bool {
    use DataType::*;
    if stored == declared {
        return true;
    }
    match (stored, declared) {
        (Dictionary(_, value), _) => reads_as(value, declared),
        (_, Dictionary(_, value)) => reads_as(stored, value),
        // A column with no value in the file (all NULL, written without a type).
        (Null, _) => true,
        (Boolean, Boolean) => true,
        (s, d) if integer(s).is_some() && integer(d).is_some() => {
            let ((s_signed, s_bits), (d_signed, d_bits)) =
                (integer(s).unwrap(), integer(d).unwrap());
            match (s_signed, d_signed) {
                (true, true) | (false, false) => s_bits <= d_bits,
                (false, true) => s_bits < d_bits,
                (true, false) => false,
            }
        }
        (s, Float32) if integer(s).is_some_and(|(_, bits)| bits <= 16) => true,
        (s, Float64) if integer(s).is_some() => true,
        (Float16, Float32 | Float64) | (Float32, Float64) => true,
        (s, d) if integer(s).is_some() && decimal(d).is_some() => {
            let (precision, scale) = decimal(d).unwrap();
            let digits = match integer(s).unwrap() {
                (_, 8) => 3,
                (_, 16) => 5,
                (_, 32) => 10,
                _ => 20,
            };
            i16::from(precision) - i16::from(scale) >= digits
        }
        (s, d) if decimal(s).is_some() && decimal(d).is_some() => {
            let ((sp, ss), (dp, ds)) = (decimal(s).unwrap(), decimal(d).unwrap());
            ds >= ss && i16::from(dp) - i16::from(ds) >= i16::from(sp) - i16::from(ss)
        }
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        // Old writers store strings as plain binary (Spark's `binaryAsString`); the cast checks
        // that each value is UTF-8 and fails the query if one is not.
        (Binary | LargeBinary | BinaryView, Utf8 | LargeUtf8 | Utf8View) => true,
        (
            Binary | LargeBinary | BinaryView | FixedSizeBinary(_),
            Binary | LargeBinary | BinaryView,
        ) => true,
        // Numbers, booleans and dates print exactly.
        (s, Utf8 | LargeUtf8 | Utf8View)
            if integer(s).is_some() || decimal(s).is_some() || matches!(s, Boolean | Date32) =>
        {
            true
        }
        (Timestamp(..), Timestamp(..)) => true,
        (Date32 | Date64, Date32 | Date64) => true,
        (
            List(s) | LargeList(s) | ListView(s) | FixedSizeList(s, _),
            List(d) | LargeList(d) | ListView(d),
        ) => reads_as(s.data_type(), d.data_type()),
        (Map(s, _), Map(d, _)) => reads_as(s.data_type(), d.data_type()),
        // Struct fields by name: a field missing from the file reads as NULL.
        (Struct(s), Struct(d)) => d.iter().all(|field| {
            s.iter()
                .find(|f| f.name() == field.name())
                .is_none_or(|f| reads_as(f.data_type(), field.data_type()))
        }),
        _ => false,
    }
}

/// `(signed, bits)` of an integer type.
fn integer(ty: &DataType) -> Option<(bool, u8)> {
    use DataType::*;
    Some(match ty {
        Int8 => (true, 8),
        Int16 => (true, 16),
        Int32 => (true, 32),
        Int64 => (true, 64),
        UInt8 => (false, 8),
        UInt16 => (false, 16),
        UInt32 => (false, 32),
        UInt64 => (false, 64),
        _ => return None,
    })
}

/// `(precision, scale)` of a decimal type (a negative scale counts as 0).
fn decimal(ty: &DataType) -> Option<(u8, u8)> {
    use DataType::*;
    match ty {
        Decimal32(p, s) | Decimal64(p, s) | Decimal128(p, s) | Decimal256(p, s) => {
            Some((*p, (*s).max(0) as u8))
        }
        _ => None,
    }
}

/// Checks that the column `name`, stored in a file as `stored`, reads as the table's
/// `declared` type.
pub(crate) fn check_column(
    name: &str,
    stored: &DataType,
    declared: &DataType,
) -> Result<(), ColumnTypeMismatch> {
    if reads_as(stored, declared) {
        Ok(())
    } else {
        Err(ColumnTypeMismatch {
            column: name.to_string(),
            stored: athena_name(stored),
            declared: athena_name(declared),
        })
    }
}

/// DataFusion's adapter from each file's columns to the table's, refusing a column the query
/// uses whose stored type does not read as the table's (see [`reads_as`]). Columns are matched
/// by name; missing ones read as NULL, as in DataFusion's default.
#[derive(Debug, Default)]
pub(crate) struct StrictAdapterFactory;

impl StrictAdapterFactory {
    pub(crate) fn shared() -> Arc<dyn PhysicalExprAdapterFactory> {
        Arc::new(Self)
    }
}

impl PhysicalExprAdapterFactory for StrictAdapterFactory {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> DFResult<Arc<dyn PhysicalExprAdapter>> {
        Ok(Arc::new(StrictAdapter {
            inner: DefaultPhysicalExprAdapterFactory.create(
                Arc::clone(&logical_file_schema),
                Arc::clone(&physical_file_schema),
            )?,
            logical: logical_file_schema,
            physical: physical_file_schema,
        }))
    }
}

#[derive(Debug)]
struct StrictAdapter {
    inner: Arc<dyn PhysicalExprAdapter>,
    logical: SchemaRef,
    physical: SchemaRef,
}

impl PhysicalExprAdapter for StrictAdapter {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> DFResult<Arc<dyn PhysicalExpr>> {
        let mut mismatch = None;
        expr.apply(|node| {
            if let Some(column) = node.downcast_ref::<Column>()
                && let Err(found) = check_pair(&self.logical, &self.physical, column.name())
            {
                mismatch = Some(found);
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if let Some(mismatch) = mismatch {
            return Err(EngineError::ColumnType(mismatch).into_datafusion());
        }
        self.inner.rewrite(expr)
    }
}

fn check_pair(logical: &Schema, physical: &Schema, name: &str) -> Result<(), ColumnTypeMismatch> {
    let field = |schema: &Schema| {
        schema
            .field_with_name(name)
            .ok()
            .map(Field::data_type)
            .cloned()
    };
    match (field(logical), field(physical)) {
        (Some(declared), Some(stored)) => check_column(name, &stored, &declared),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;
    use datafusion::arrow::datatypes::TimeUnit;

    #[test]
    fn lossless_changes_read_as_the_table_says() {
        for (stored, declared) in [
            (Int32, Int64),
            (Int8, Int16),
            (UInt32, Int64),
            (UInt8, UInt16),
            (Int32, Float64),
            (Float32, Float64),
            (Int32, Decimal128(12, 2)),
            (Decimal128(10, 2), Decimal128(12, 3)),
            (Utf8, Utf8View),
            (Binary, Utf8),
            (Int64, Utf8),
            (Date32, Utf8),
            (
                Timestamp(TimeUnit::Millisecond, None),
                Timestamp(TimeUnit::Microsecond, None),
            ),
            (Dictionary(Box::new(Int32), Box::new(Utf8)), Utf8),
            (Null, Int64),
        ] {
            assert!(reads_as(&stored, &declared), "{stored} as {declared}");
        }
    }

    #[test]
    fn changes_that_would_lose_or_invent_values_are_refused() {
        for (stored, declared) in [
            (Utf8, Int64),
            (Int64, Int32),
            (UInt64, Int64),
            (Int8, UInt8),
            (Float64, Float32),
            (Float64, Int64),
            (Int64, Decimal128(10, 0)),
            (Decimal128(12, 3), Decimal128(12, 2)),
            (Utf8, Date32),
            (Timestamp(TimeUnit::Microsecond, None), Date32),
            (Boolean, Int64),
            (Utf8, Boolean),
        ] {
            assert!(!reads_as(&stored, &declared), "{stored} as {declared}");
        }
    }

    #[test]
    fn a_mismatch_names_the_column_and_both_types_in_athena_names() {
        let error = check_column("user_id", &Utf8View, &Int64).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column 'user_id' is stored as string, which does not read as the table's bigint"
        );
    }
}
