//! Column types as Athena and Hive spell them (`string`, `bigint`, `decimal(10,2)`, …).

use std::fmt;
use std::str::FromStr;

/// A column's declared type, in the vocabulary of Athena's DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// `boolean`
    Boolean,
    /// `tinyint`: 8-bit signed integer.
    TinyInt,
    /// `smallint`: 16-bit signed integer.
    SmallInt,
    /// `int` or `integer`: 32-bit signed integer.
    Int,
    /// `bigint`: 64-bit signed integer.
    BigInt,
    /// `float` or `real`: 32-bit float.
    Float,
    /// `double`: 64-bit float.
    Double,
    /// `decimal(precision, scale)`.
    Decimal {
        /// Total digits, 1 to 38.
        precision: u8,
        /// Digits after the point, at most `precision`.
        scale: u8,
    },
    /// `string`, `varchar(n)` or `char(n)`: UTF-8 text (the length is not enforced, as in Athena).
    String,
    /// `binary`: raw bytes.
    Binary,
    /// `date`: a calendar day.
    Date,
    /// `timestamp`: microseconds since the epoch, no time zone (UTC by convention, as in Athena).
    Timestamp,
}

impl ColumnType {
    /// Whether a column of this type may partition a table (its value is spelled in a path).
    pub fn is_partition_type(self) -> bool {
        matches!(
            self,
            Self::Boolean
                | Self::TinyInt
                | Self::SmallInt
                | Self::Int
                | Self::BigInt
                | Self::String
                | Self::Date
        )
    }

    /// Whether values of this type are integers.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Self::TinyInt | Self::SmallInt | Self::Int | Self::BigInt
        )
    }
}

/// A type name that Minerva does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown column type '{0}' (expected one of boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), string, varchar(n), char(n), binary, date, timestamp)"
)]
pub struct UnknownType(pub String);

impl FromStr for ColumnType {
    type Err = UnknownType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownType(s.to_string());
        let lower = s.trim().to_ascii_lowercase();
        let (name, args) = match lower.split_once('(') {
            Some((name, rest)) => {
                let args = rest.strip_suffix(')').ok_or_else(unknown)?;
                (name.trim(), Some(args))
            }
            None => (lower.as_str(), None),
        };
        let ty = match (name, args) {
            ("boolean", None) => Self::Boolean,
            ("tinyint", None) => Self::TinyInt,
            ("smallint", None) => Self::SmallInt,
            ("int" | "integer", None) => Self::Int,
            ("bigint", None) => Self::BigInt,
            ("float" | "real", None) => Self::Float,
            ("double", None) => Self::Double,
            ("string", None) => Self::String,
            ("varchar" | "char", Some(len)) => {
                len.trim().parse::<u32>().map_err(|_| unknown())?;
                Self::String
            }
            ("binary", None) => Self::Binary,
            ("date", None) => Self::Date,
            ("timestamp", None) => Self::Timestamp,
            ("decimal", args) => {
                let (precision, scale) = match args {
                    // Hive's default for a bare `decimal`.
                    None => (10, 0),
                    Some(args) => {
                        let mut parts = args.split(',').map(|p| p.trim().parse::<u8>());
                        let precision = parts.next().and_then(Result::ok).ok_or_else(unknown)?;
                        let scale = match parts.next() {
                            None => 0,
                            Some(scale) => scale.map_err(|_| unknown())?,
                        };
                        if parts.next().is_some() {
                            return Err(unknown());
                        }
                        (precision, scale)
                    }
                };
                if !(1..=38).contains(&precision) || scale > precision {
                    return Err(unknown());
                }
                Self::Decimal { precision, scale }
            }
            _ => return Err(unknown()),
        };
        Ok(ty)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::TinyInt => f.write_str("tinyint"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::BigInt => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Self::String => f.write_str("string"),
            Self::Binary => f.write_str("binary"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_athena_spellings() {
        let cases = [
            ("string", ColumnType::String),
            ("STRING", ColumnType::String),
            ("varchar(64)", ColumnType::String),
            ("int", ColumnType::Int),
            ("integer", ColumnType::Int),
            ("bigint", ColumnType::BigInt),
            ("real", ColumnType::Float),
            (
                "decimal(10, 2)",
                ColumnType::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            (
                "decimal",
                ColumnType::Decimal {
                    precision: 10,
                    scale: 0,
                },
            ),
            ("timestamp", ColumnType::Timestamp),
            ("date", ColumnType::Date),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<ColumnType>(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_unknown_and_malformed_types() {
        for text in [
            "text",
            "decimal(40,2)",
            "decimal(4,5)",
            "varchar(x)",
            "int(3)",
            "decimal(1,2,3)",
        ] {
            assert!(
                text.parse::<ColumnType>().is_err(),
                "{text} should not parse"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
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
        ] {
            assert_eq!(text.parse::<ColumnType>().unwrap().to_string(), text);
        }
    }
}
