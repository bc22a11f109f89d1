use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use minerva_catalog::CatalogError;

use crate::accounting::ScanLimitExceeded;
use crate::store_error::{explain_store_error, explain_store_text};

/// Everything that can go wrong running a statement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The catalog or a table file is at fault (unknown table, bad table file, bad partition).
    #[error(transparent)]
    Catalog(Arc<CatalogError>),

    /// The statement is not valid SQL.
    #[error("syntax error: {}", one_line(.0))]
    Syntax(String),

    /// A table's files cannot be read as declared.
    #[error("table '{table}': {message}")]
    Table {
        /// `database.table`.
        table: String,
        /// What is wrong, naming the file or location.
        message: String,
    },

    /// No object store is known for a table's location.
    #[error(
        "table '{table}': no object store for '{url}' (supported: local paths, file:// and s3:// URLs)"
    )]
    NoObjectStore {
        /// `database.table`.
        table: String,
        /// The store URL (`scheme://authority`).
        url: String,
    },

    /// An object store failed or cannot be set up: a missing bucket, bad credentials, a wrong
    /// region, an unreachable endpoint, a timeout.
    #[error("{what}: {message}")]
    Store {
        /// What was being done, naming the bucket, table or location.
        what: String,
        /// What went wrong and what to check.
        message: String,
    },

    /// The query would read more than its scan limit (`max_scan`).
    #[error(transparent)]
    ScanLimit(#[from] ScanLimitExceeded),

    /// A DDL statement (`CREATE EXTERNAL TABLE`, `ALTER TABLE … PARTITION`, …) is malformed.
    #[error("syntax error: {0}")]
    Ddl(String),

    /// A DDL statement cannot be carried out (the table exists, the partition is missing, …).
    #[error("{0}")]
    Rejected(String),

    /// The statement is valid SQL that Minerva does not run.
    #[error("{0}")]
    Unsupported(String),

    /// Planning or running the query failed.
    #[error("{}", one_line(&describe(.0)))]
    Query(DataFusionError),
}

impl From<CatalogError> for EngineError {
    fn from(error: CatalogError) -> Self {
        Self::from(Arc::new(error))
    }
}

impl From<Arc<CatalogError>> for EngineError {
    /// A failed listing becomes a [`EngineError::Store`] that says what to check.
    fn from(error: Arc<CatalogError>) -> Self {
        match error.as_ref() {
            CatalogError::List {
                table,
                location,
                source,
            } => Self::Store {
                what: format!("table '{table}': cannot list '{location}'"),
                message: explain_store_error(source),
            },
            _ => Self::Catalog(error),
        }
    }
}

impl From<DataFusionError> for EngineError {
    /// Recovers Minerva's own errors that crossed DataFusion's traits as `External`.
    fn from(error: DataFusionError) -> Self {
        if let Some(exceeded) = find_cause::<ScanLimitExceeded>(&error) {
            return Self::ScanLimit(exceeded.clone());
        }
        match error {
            DataFusionError::External(inner) => match inner.downcast::<EngineError>() {
                Ok(engine) => *engine,
                Err(inner) => match inner.downcast::<CatalogError>() {
                    Ok(catalog) => Self::from(*catalog),
                    Err(inner) => Self::Query(DataFusionError::External(inner)),
                },
            },
            DataFusionError::Context(context, inner) => match Self::from(*inner) {
                Self::Query(inner) => {
                    Self::Query(DataFusionError::Context(context, Box::new(inner)))
                }
                ours => ours,
            },
            DataFusionError::Diagnostic(_, inner) => Self::from(*inner),
            DataFusionError::SQL(parser, _) => Self::Syntax(match *parser {
                ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
                ParserError::RecursionLimitExceeded => "statement nested too deeply".to_string(),
            }),
            other => Self::Query(other),
        }
    }
}

impl From<EngineError> for DataFusionError {
    fn from(error: EngineError) -> Self {
        error.into_datafusion()
    }
}

/// One line for a person: DataFusion's message without its Rust-flavoured prefixes.
fn describe(error: &DataFusionError) -> String {
    // A store failure deep inside a Parquet or Arrow error: what the store said is the news.
    if !matches!(error, DataFusionError::Context(..)) {
        if let Some(store) = find_cause::<object_store::Error>(error) {
            return explain_store_error(store);
        }
        if let Some(explained) = explain_store_text(&error.to_string()) {
            return explained;
        }
    }
    match error {
        DataFusionError::Context(context, inner) => format!("{context}: {}", describe(inner)),
        DataFusionError::Diagnostic(_, inner) => describe(inner),
        DataFusionError::Shared(inner) => describe(inner),
        DataFusionError::Collection(errors) => errors.first().map(describe).unwrap_or_default(),
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::Plan(m) | DataFusionError::Execution(m) => m.clone(),
        DataFusionError::SchemaError(e, _) => e.to_string(),
        DataFusionError::NotImplemented(m) => format!("not supported: {m}"),
        DataFusionError::ResourcesExhausted(m) => format!("out of memory: {m}"),
        DataFusionError::ArrowError(e, _) => format!("arrow error: {e}"),
        DataFusionError::ParquetError(e) => format!("parquet error: {e}"),
        DataFusionError::ObjectStore(e) => explain_store_error(e),
        DataFusionError::IoError(e) => format!("i/o error: {e}"),
        other => other.strip_backtrace(),
    }
}

/// DataFusion's messages as one line in our style: no line breaks, lower-case first word (unless
/// it is an acronym such as `SQL`), no trailing period.
fn one_line(message: &str) -> String {
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.strip_suffix('.').unwrap_or(&flat);
    let mut chars = flat.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            first.to_lowercase().chain(flat.chars().skip(1)).collect()
        }
        _ => flat.to_string(),
    }
}

/// The first error of type `T` in `error`'s chain of causes.
fn find_cause<T: std::error::Error + 'static>(error: &DataFusionError) -> Option<&T> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// Wraps the error to cross a DataFusion trait; `From<DataFusionError>` recovers it.
    pub(crate) fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}
