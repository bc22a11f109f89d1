//! Errors as Postgres error responses: a SQLSTATE chosen from the error's type (never from its
//! text) and the engine's one-line message.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use minerva_catalog::CatalogError;
use minerva_engine::{EngineError, Rejection};
use pgwire::error::{ErrorInfo, PgWireError};

/// Postgres's SQLSTATE codes that Minerva answers with.
pub(crate) mod code {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const SYNTAX_OR_ACCESS: &str = "42000";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const INVALID_SCHEMA: &str = "3F000";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const QUERY_CANCELED: &str = "57014";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const PROGRAM_LIMIT: &str = "54000";
    pub const TOO_COMPLEX: &str = "54001";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    pub const READ_ONLY: &str = "25006";
    pub const PREREQUISITE_STATE: &str = "55000";
    pub const IO_ERROR: &str = "58030";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const INVALID_PARAMETER: &str = "22023";
    pub const INVALID_AUTHORIZATION: &str = "28000";
    pub const INTERNAL: &str = "XX000";
}

/// An `ERROR` response.
pub(crate) fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// A `FATAL` response: the connection closes after it.
pub(crate) fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message.into(),
    )))
}

/// The client's cancel request (or the server's shutdown) stopped the statement.
pub(crate) fn canceled() -> PgWireError {
    error(
        code::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

/// The engine's error as Postgres's.
pub(crate) fn engine(error_value: EngineError) -> PgWireError {
    error(of_engine(&error_value), error_value.to_string())
}

/// DataFusion's error (from the emulated `pg_catalog`) as Postgres's.
pub(crate) fn datafusion(error_value: DataFusionError) -> PgWireError {
    engine(EngineError::from(error_value))
}

fn of_engine(error: &EngineError) -> &'static str {
    match error {
        EngineError::Syntax(_) | EngineError::Ddl(_) => code::SYNTAX_ERROR,
        EngineError::Catalog(catalog) => match catalog.as_ref() {
            CatalogError::TableNotFound { .. } => code::UNDEFINED_TABLE,
            _ => code::IO_ERROR,
        },
        EngineError::Table { .. } | EngineError::ColumnType(_) => code::DATATYPE_MISMATCH,
        EngineError::NoObjectStore { .. } | EngineError::Store(_) | EngineError::List { .. } => {
            code::IO_ERROR
        }
        EngineError::ScanLimit(_) => code::PROGRAM_LIMIT,
        EngineError::Rejected(rejection) => match rejection {
            Rejection::TableExists { .. }
            | Rejection::ViewExists { .. }
            | Rejection::DatabaseExists { .. } => code::DUPLICATE_TABLE,
            Rejection::NoDatabase { .. } => code::INVALID_SCHEMA,
            _ => code::PREREQUISITE_STATE,
        },
        EngineError::Write { .. } => code::PREREQUISITE_STATE,
        EngineError::Unsupported { .. } => code::FEATURE_NOT_SUPPORTED,
        EngineError::ReadOnly { .. } => code::READ_ONLY,
        EngineError::View { .. } | EngineError::NotAQuery | EngineError::ViewCycle { .. } => {
            code::SYNTAX_OR_ACCESS
        }
        EngineError::Timeout { .. } => code::QUERY_CANCELED,
        EngineError::RecursionDepth { .. } => code::TOO_COMPLEX,
        EngineError::UnsupportedFunction { .. } => code::UNDEFINED_FUNCTION,
        EngineError::Query(query) => of_datafusion(query),
        _ => code::INTERNAL,
    }
}

fn of_datafusion(error: &DataFusionError) -> &'static str {
    match error {
        DataFusionError::SQL(..) => code::SYNTAX_ERROR,
        DataFusionError::SchemaError(schema, _) => match schema.as_ref() {
            SchemaError::FieldNotFound { .. } => code::UNDEFINED_COLUMN,
            _ => code::SYNTAX_OR_ACCESS,
        },
        DataFusionError::Plan(_) => code::SYNTAX_OR_ACCESS,
        DataFusionError::NotImplemented(_) => code::FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => code::OUT_OF_MEMORY,
        DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
            ArrowError::DivideByZero => code::DIVISION_BY_ZERO,
            ArrowError::CastError(_)
            | ArrowError::ParseError(_)
            | ArrowError::ComputeError(_)
            | ArrowError::InvalidArgumentError(_) => code::DATA_EXCEPTION,
            _ => code::INTERNAL,
        },
        DataFusionError::Execution(_) => code::DATA_EXCEPTION,
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => code::IO_ERROR,
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            of_datafusion(inner)
        }
        DataFusionError::Shared(inner) => of_datafusion(inner),
        _ => code::INTERNAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlstate(error: PgWireError) -> String {
        match error {
            PgWireError::UserError(info) => info.code.clone(),
            other => panic!("not a user error: {other:?}"),
        }
    }

    #[test]
    fn codes_follow_the_error_type() {
        let timeout = EngineError::Timeout {
            after: std::time::Duration::from_secs(1),
        };
        assert_eq!(sqlstate(engine(timeout)), "57014");
        let read_only = EngineError::ReadOnly {
            statement: "INSERT".into(),
        };
        assert_eq!(sqlstate(engine(read_only)), "25006");
        let divide = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        assert_eq!(sqlstate(datafusion(divide)), "22012");
        let function = EngineError::UnsupportedFunction {
            name: "json_parse".into(),
            topic: "json",
        };
        assert_eq!(sqlstate(engine(function)), "42883");
    }
}
