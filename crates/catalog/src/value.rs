//! Typed partition values, parsed from and spelled into partition directory names.

use std::fmt;

use chrono::NaiveDate;

use crate::types::ColumnType;

/// One partition column's value for one partition. `Null` is Hive's `__HIVE_DEFAULT_PARTITION__`.
///
/// Values of one column always share a variant, so the derived order is the natural order of
/// the column's type (with `Null` first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean column's value.
    Boolean(bool),
    /// Any integer column's value.
    Int(i64),
    /// A date column's value.
    Date(NaiveDate),
    /// A string column's value.
    String(String),
}

/// The directory name Hive writes for a NULL partition value.
pub const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

impl Value {
    /// Parses a partition value as found in a path (already percent-decoded).
    ///
    /// Returns `None` when the text is not a value of `ty`, so that the caller can name the
    /// directory and the column in its error.
    pub fn parse(text: &str, ty: &ColumnType) -> Option<Self> {
        if text == HIVE_NULL {
            return Some(Self::Null);
        }
        match ty {
            ColumnType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" => Some(Self::Boolean(true)),
                "false" => Some(Self::Boolean(false)),
                _ => None,
            },
            ColumnType::TinyInt => text.parse::<i8>().ok().map(|v| Self::Int(v.into())),
            ColumnType::SmallInt => text.parse::<i16>().ok().map(|v| Self::Int(v.into())),
            ColumnType::Int => text.parse::<i32>().ok().map(|v| Self::Int(v.into())),
            ColumnType::BigInt => text.parse::<i64>().ok().map(Self::Int),
            ColumnType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(Self::Date),
            ColumnType::String => Some(Self::String(text.to_string())),
            _ => None,
        }
    }
}

/// Spells the value as Hive writes it in a directory name (before escaping).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str(HIVE_NULL),
            Self::Boolean(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Date(v) => write!(f, "{}", v.format("%Y-%m-%d")),
            Self::String(v) => f.write_str(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_partition_type() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(
            Value::parse("2024-01-02", &ColumnType::Date),
            Some(Value::Date(date))
        );
        assert_eq!(Value::parse("2024-13-02", &ColumnType::Date), None);
        assert_eq!(
            Value::parse("42", &ColumnType::BigInt),
            Some(Value::Int(42))
        );
        assert_eq!(Value::parse("300", &ColumnType::TinyInt), None);
        assert_eq!(Value::parse("x", &ColumnType::Int), None);
        assert_eq!(
            Value::parse("TRUE", &ColumnType::Boolean),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            Value::parse(HIVE_NULL, &ColumnType::Date),
            Some(Value::Null)
        );
        assert_eq!(
            Value::parse("서울 강남구", &ColumnType::String),
            Some(Value::String("서울 강남구".into()))
        );
    }

    #[test]
    fn display_is_the_hive_spelling() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(Value::Date(date).to_string(), "2024-01-02");
        assert_eq!(Value::Int(-7).to_string(), "-7");
        assert_eq!(Value::Null.to_string(), HIVE_NULL);
    }
}
