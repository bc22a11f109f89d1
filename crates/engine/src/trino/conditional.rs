//! Trino's "Conversion functions" and "Conditional expressions" (`functions/conversion.md`,
//! `functions/conditional.md`) beyond what `syntax` rewrites (`if`, `try`) and DataFusion has
//! (`coalesce`, `nullif`, `try_cast`): `typeof`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::logical_expr::ScalarUDF;

use super::udf::Simple;

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        Simple::new(
            "typeof",
            &[1],
            |_| Ok(DataType::Utf8),
            |args: &[ArrayRef], _| {
                let name = trino_type(args[0].data_type());
                Ok(Arc::new(StringArray::from(vec![name; args[0].len()])) as ArrayRef)
            },
        )
        .udf(),
    ]
}

/// `typeof(expr)`: "Returns the name of the type of the provided expression" as Trino names
/// types. (An integer literal is `bigint` here, `integer` in Trino.)
pub(crate) fn trino_type(ty: &DataType) -> String {
    let precision = |unit: &TimeUnit| match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    };
    match ty {
        DataType::Null => "unknown".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::UInt8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt16 => "smallint".into(),
        DataType::Int32 | DataType::UInt32 => "integer".into(),
        DataType::Int64 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "varbinary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Time32(u) | DataType::Time64(u) => format!("time({})", precision(u)),
        DataType::Timestamp(u, None) => format!("timestamp({})", precision(u)),
        DataType::Timestamp(u, Some(_)) => format!("timestamp({}) with time zone", precision(u)),
        DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::YearMonth) => {
            "interval year to month".into()
        }
        DataType::Interval(_) | DataType::Duration(_) => "interval day to second".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("array({})", trino_type(f.data_type()))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map({}, {})",
                trino_type(kv[0].data_type()),
                trino_type(kv[1].data_type())
            ),
            _ => "map".into(),
        },
        DataType::Struct(fields) => format!(
            "row({})",
            fields
                .iter()
                .map(|f| format!("{} {}", f.name(), trino_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Dictionary(_, value) => trino_type(value),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trino_names_types() {
        assert_eq!(trino_type(&DataType::Utf8View), "varchar");
        assert_eq!(
            trino_type(&DataType::Timestamp(
                TimeUnit::Millisecond,
                Some("UTC".into())
            )),
            "timestamp(3) with time zone"
        );
        let list = DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
            "item",
            DataType::Int64,
            true,
        )));
        assert_eq!(trino_type(&list), "array(bigint)");
    }
}
