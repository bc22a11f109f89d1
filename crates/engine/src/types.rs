//! Catalog column types as Arrow types, and back.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use minerva_catalog::ColumnType;

/// The Arrow type a column of `ty` has in query results.
///
/// Strings are string views: DataFusion reads Parquet strings as views by default, and filters
/// and groups on them without copying.
pub fn arrow_type(ty: &ColumnType) -> DataType {
    match ty {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::TinyInt => DataType::Int8,
        ColumnType::SmallInt => DataType::Int16,
        ColumnType::Int => DataType::Int32,
        ColumnType::BigInt => DataType::Int64,
        ColumnType::Float => DataType::Float32,
        ColumnType::Double => DataType::Float64,
        ColumnType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
        ColumnType::String => DataType::Utf8View,
        ColumnType::Binary => DataType::BinaryView,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Array(element) => {
            DataType::List(Arc::new(Field::new("element", nested_type(element), true)))
        }
        ColumnType::Map(key, value) => DataType::Map(
            Arc::new(Field::new(
                "key_value",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", nested_type(key), false),
                    Field::new("value", nested_type(value), true),
                ])),
                false,
            )),
            false,
        ),
        ColumnType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|(name, ty)| Field::new(name, nested_type(ty), true))
                .collect(),
        ),
        // `ColumnType` is non-exhaustive: a type added to the catalog must be mapped here.
        #[allow(unreachable_patterns)]
        other => unreachable!("column type {other} has no Arrow mapping"),
    }
}

/// Inside lists, maps and structs strings stay plain `Utf8`: that is how the Parquet, JSON and
/// CSV readers produce nested strings.
fn nested_type(ty: &ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::Binary => DataType::Binary,
        other => arrow_type(other),
    }
}

/// The Athena spelling of an Arrow type, for `DESCRIBE` of columns read from files.
pub fn athena_name(ty: &DataType) -> String {
    match ty {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::UInt8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt16 => "smallint".into(),
        DataType::Int32 | DataType::UInt32 => "int".into(),
        DataType::Int64 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            format!("decimal({p},{s})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Dictionary(_, value) => athena_name(value),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::FixedSizeList(f, _) => {
            format!("array<{}>", athena_name(f.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                athena_name(kv[0].data_type()),
                athena_name(kv[1].data_type())
            ),
            other => other.to_string().to_lowercase(),
        },
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), athena_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string().to_lowercase(),
    }
}

/// The type DataFusion reads a Parquet column as (strings and binaries as views).
pub fn as_read_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
        DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_type_maps_back_to_its_name() {
        for name in [
            "boolean",
            "tinyint",
            "smallint",
            "int",
            "bigint",
            "float",
            "double",
            "decimal(12,3)",
            "string",
            "binary",
            "date",
            "timestamp",
            "array<string>",
            "map<string,array<bigint>>",
            "struct<a:int,b:array<struct<c:string>>>",
        ] {
            let ty: ColumnType = name.parse().unwrap();
            assert_eq!(athena_name(&arrow_type(&ty)), name);
        }
    }
}
