//! What can be wrong with a statement Minerva reads itself.

use std::fmt;

use minerva_catalog::{UnknownType, ValueError};

/// A DDL statement (`CREATE EXTERNAL TABLE`, `ALTER TABLE … PARTITION`, …) that is malformed
/// or asks for what Minerva does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DdlError {
    /// Something else came where a keyword, a token, a name, a string or a number belongs.
    #[error("expected {expected} {found}")]
    Expected {
        /// What belongs there (`a name`, `'('`, `OUTPUTFORMAT`).
        expected: String,
        /// What came instead.
        found: Found,
    },
    /// A token that no clause starts with.
    #[error("unexpected '{token}' {place}")]
    Unexpected {
        /// The token.
        token: String,
        /// Where (`after the statement`, `in CREATE EXTERNAL TABLE`).
        place: &'static str,
    },
    /// A column type that Minerva does not know.
    #[error(transparent)]
    Type(#[from] UnknownType),
    /// A location, a value or a pattern that cannot be used.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// `CLUSTERED BY`.
    #[error("bucketed tables (CLUSTERED BY) are not supported")]
    Bucketed,
    /// `CREATE EXTERNAL TABLE` without `LOCATION`.
    #[error("CREATE EXTERNAL TABLE needs a LOCATION")]
    NoLocation,
    /// `STORED AS` a format Minerva does not read.
    #[error(
        "STORED AS {0} is not supported: Minerva reads PARQUET and TEXTFILE (JSON or delimited)"
    )]
    StoredAs(String),
    /// An `INPUTFORMAT` class Minerva does not read.
    #[error(
        "INPUTFORMAT '{0}' is not supported: Minerva reads Parquet and text (JSON or delimited)"
    )]
    InputFormat(String),
}

/// What a statement had where something else was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// This token.
    Token(String),
    /// The statement's end.
    End,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(token) => write!(f, "but found '{token}'"),
            Self::End => f.write_str("but the statement ended"),
        }
    }
}
