//! Column types as Athena and Hive spell them (`string`, `bigint`, `decimal(10,2)`, …).

use std::fmt;
use std::str::FromStr;

/// A column's declared type, in the vocabulary of Athena's DDL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// `array<element>`
    Array(Box<ColumnType>),
    /// `map<key,value>`
    Map(Box<ColumnType>, Box<ColumnType>),
    /// `struct<name:type,…>`
    Struct(Vec<(String, ColumnType)>),
}

impl ColumnType {
    /// Whether a column of this type may partition a table (its value is spelled in a path).
    pub fn is_partition_type(&self) -> bool {
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
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Self::TinyInt | Self::SmallInt | Self::Int | Self::BigInt
        )
    }
}

/// A type name that Minerva does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown column type '{0}' (expected one of boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), string, varchar[(n)], char(n), json, binary, date, timestamp[(p)], array<t>, map<k,v>, struct<name:t,…>)"
)]
pub struct UnknownType(pub String);

impl FromStr for ColumnType {
    type Err = UnknownType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownType(s.trim().to_string());
        let mut parser = TypeParser {
            text: s.trim(),
            at: 0,
        };
        let ty = parser.parse().ok_or_else(unknown)?;
        parser.skip_space();
        if parser.at != parser.text.len() {
            return Err(unknown());
        }
        Ok(ty)
    }
}

/// Recursive descent over a Hive type name: nested `<…>`, `(…)` arguments, `name:type` fields.
struct TypeParser<'a> {
    text: &'a str,
    at: usize,
}

impl TypeParser<'_> {
    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    /// Whether the next character (after spaces) is `c`, without taking it.
    fn peek(&mut self, c: char) -> bool {
        self.skip_space();
        self.text[self.at..].starts_with(c)
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.text[self.at..].starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A name: letters, digits and `_` (backquoted struct field names may hold anything else).
    fn word(&mut self) -> Option<String> {
        self.skip_space();
        let rest = &self.text[self.at..];
        if let Some(quoted) = rest.strip_prefix('`') {
            let end = quoted.find('`')?;
            self.at += end + 2;
            return Some(quoted[..end].to_string());
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (len > 0).then(|| {
            self.at += len;
            rest[..len].to_string()
        })
    }

    fn number(&mut self) -> Option<u32> {
        self.word()?.parse().ok()
    }

    /// Long by design: one arm per Athena type name.
    fn parse(&mut self) -> Option<ColumnType> {
        let name = self.word()?.to_ascii_lowercase();
        let ty = match name.as_str() {
            "boolean" => ColumnType::Boolean,
            "tinyint" => ColumnType::TinyInt,
            "smallint" => ColumnType::SmallInt,
            "int" | "integer" => ColumnType::Int,
            "bigint" => ColumnType::BigInt,
            "float" | "real" => ColumnType::Float,
            "double" => {
                // `double precision`, as some DDL spells it.
                let before = self.at;
                if self
                    .word()
                    .is_none_or(|w| !w.eq_ignore_ascii_case("precision"))
                {
                    self.at = before;
                }
                ColumnType::Double
            }
            // Trino's `json` is text holding JSON.
            "string" | "json" => ColumnType::String,
            // Trino's bare `varchar` is unbounded.
            "varchar" if !self.peek('(') => ColumnType::String,
            "varchar" | "char" => {
                if !self.eat('(') {
                    return None;
                }
                self.number()?;
                if !self.eat(')') {
                    return None;
                }
                ColumnType::String
            }
            "binary" | "varbinary" => ColumnType::Binary,
            "date" => ColumnType::Date,
            "timestamp" => {
                // Trino's `timestamp(p)`: the precision is read, values keep microseconds.
                if self.eat('(') {
                    let precision = self.number()?;
                    if precision > 9 || !self.eat(')') {
                        return None;
                    }
                }
                ColumnType::Timestamp
            }
            "decimal" => {
                // Hive's default for a bare `decimal`.
                let (precision, scale) = if self.eat('(') {
                    let precision = self.number()?;
                    let scale = if self.eat(',') { self.number()? } else { 0 };
                    if !self.eat(')') {
                        return None;
                    }
                    (precision, scale)
                } else {
                    (10, 0)
                };
                if !(1..=38).contains(&precision) || scale > precision {
                    return None;
                }
                ColumnType::Decimal {
                    precision: precision as u8,
                    scale: scale as u8,
                }
            }
            "array" => {
                if !self.eat('<') {
                    return None;
                }
                let element = self.parse()?;
                if !self.eat('>') {
                    return None;
                }
                ColumnType::Array(Box::new(element))
            }
            "map" => {
                if !self.eat('<') {
                    return None;
                }
                let key = self.parse()?;
                if !self.eat(',') {
                    return None;
                }
                let value = self.parse()?;
                if !self.eat('>') {
                    return None;
                }
                ColumnType::Map(Box::new(key), Box::new(value))
            }
            "struct" => {
                if !self.eat('<') {
                    return None;
                }
                let mut fields = Vec::new();
                loop {
                    let name = self.word()?;
                    if !self.eat(':') {
                        return None;
                    }
                    fields.push((name, self.parse()?));
                    if self.eat('>') {
                        break;
                    }
                    if !self.eat(',') {
                        return None;
                    }
                }
                ColumnType::Struct(fields)
            }
            _ => return None,
        };
        Some(ty)
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
            Self::Array(element) => write!(f, "array<{element}>"),
            Self::Map(key, value) => write!(f, "map<{key},{value}>"),
            Self::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    let plain = name.chars().all(|c| c.is_alphanumeric() || c == '_');
                    if plain {
                        write!(f, "{name}:{ty}")?;
                    } else {
                        write!(f, "`{name}`:{ty}")?;
                    }
                }
                f.write_str(">")
            }
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
            ("timestamp(3)", ColumnType::Timestamp),
            ("varchar", ColumnType::String),
            ("json", ColumnType::String),
            ("date", ColumnType::Date),
            (
                "ARRAY< STRUCT<x: INT, y: string> >",
                ColumnType::Array(Box::new(ColumnType::Struct(vec![
                    ("x".into(), ColumnType::Int),
                    ("y".into(), ColumnType::String),
                ]))),
            ),
            (
                "map<string,bigint>",
                ColumnType::Map(Box::new(ColumnType::String), Box::new(ColumnType::BigInt)),
            ),
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
            "timestamp(10)",
            "timestamp(x)",
            "decimal(1,2,3)",
            "array<int",
            "array<>",
            "map<string>",
            "struct<a int>",
            "struct<>",
            "int extra",
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
            "array<string>",
            "map<string,array<int>>",
            "struct<a:int,b:decimal(10,2),c:array<struct<d:string>>>",
            "struct<`odd name`:int>",
        ] {
            assert_eq!(text.parse::<ColumnType>().unwrap().to_string(), text);
        }
    }
}
