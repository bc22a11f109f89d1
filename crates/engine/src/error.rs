use std::sync::Arc;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;
use datafusion::sql::sqlparser::parser::ParserError;
use minerva_catalog::{CatalogError, Format, ValueError};
use minerva_sql::DdlError;
use minerva_store::{Failure, ScanLimitExceeded, StoreError};

/// Everything that can go wrong running a statement.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The catalog or a table file is at fault (unknown table, bad table file, bad partition).
    #[error(transparent)]
    Catalog(Arc<CatalogError>),

    /// The statement is not valid SQL.
    #[error("syntax error: {}", one_line(&parser_message(.0)))]
    Syntax(ParserError),

    /// A table's files cannot be read as declared.
    #[error("table '{table}': {problem}")]
    Table {
        /// `database.table`.
        table: String,
        /// What is wrong, naming the file or location.
        problem: TableProblem,
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

    /// An object store cannot be set up (a profile that does not exist, a bad client setting).
    #[error(transparent)]
    Store(#[from] StoreError),

    /// Listing a table's location failed: a missing bucket, bad credentials, a wrong region, an
    /// unreachable endpoint, a timeout.
    #[error("table '{table}': cannot list '{location}': {failure}")]
    List {
        /// `database.table`.
        table: String,
        /// The location listed.
        location: String,
        /// What went wrong and what to check.
        failure: Box<Failure>,
    },

    /// The query would read more than its scan limit (`max_scan`).
    #[error(transparent)]
    ScanLimit(#[from] ScanLimitExceeded),

    /// A DDL statement (`CREATE EXTERNAL TABLE`, `ALTER TABLE … PARTITION`, …) is malformed.
    #[error("syntax error: {0}")]
    Ddl(#[from] DdlError),

    /// A statement cannot be carried out (the table exists, the partition is missing, …).
    #[error(transparent)]
    Rejected(#[from] Rejection),

    /// A write (`CREATE TABLE AS`, `INSERT`, `COMPACT`, `UNLOAD`) cannot be carried out.
    #[error("cannot write {target}: {problem}")]
    Write {
        /// What is written: `table 'default.views'`, `'s3://bucket/export/'`.
        target: String,
        /// What is wrong.
        problem: WriteProblem,
    },

    /// The statement is valid SQL that Minerva does not run.
    #[error(
        "{statement} is not supported: Minerva writes with CREATE TABLE AS, INSERT INTO, INSERT OVERWRITE, COMPACT and UNLOAD, and defines tables with CREATE EXTERNAL TABLE or files in the catalog directory (<database>/<table>.toml)"
    )]
    Unsupported {
        /// What it is (`INSERT`, `CREATE VIEW`).
        statement: &'static str,
    },

    /// The session is read-only and the statement would change the catalog or the lake.
    #[error("{statement} is a write, and this session is read-only")]
    ReadOnly {
        /// What it is (`INSERT`, `CREATE EXTERNAL TABLE`, `COMPACT`).
        statement: String,
    },

    /// A view's query no longer plans (a table it reads changed or went away).
    #[error("view '{view}' no longer plans: {source}")]
    View {
        /// `database.view`.
        view: String,
        /// Why its query does not plan.
        source: Box<EngineError>,
    },

    /// A view's text is not a query.
    #[error("a view is a query: its text must be a SELECT (or WITH … SELECT, VALUES)")]
    NotAQuery,

    /// A view reads itself, directly or through other views.
    #[error("view '{view}' reads itself: {cycle}")]
    ViewCycle {
        /// `database.view`.
        view: String,
        /// The views read, in order, back to it.
        cycle: String,
    },

    /// The query ran longer than its timeout and was stopped.
    #[error(
        "query stopped after {}: it ran longer than the timeout (--timeout, \\set timeout, query_timeout in storage.toml)",
        humantime::format_duration(*after)
    )]
    Timeout {
        /// The timeout.
        after: std::time::Duration,
    },

    /// A recursive query had not ended after its depth bound (Trino's `max_recursion_depth`).
    #[error(
        "recursion depth limit exceeded ({max}): the recursive query had not ended after {max} steps; raise the limit with SET SESSION max_recursion_depth = <n>"
    )]
    RecursionDepth {
        /// The bound.
        max: usize,
    },

    /// The statement calls a Trino (Athena) function that Minerva does not have yet.
    #[error(
        "function `{name}` is not supported (Trino: {topic} functions); docs/functions.md lists what is"
    )]
    UnsupportedFunction {
        /// The function's name, lower case.
        name: String,
        /// The topic of Trino's documentation it is in (`json`, `aggregate`, …).
        topic: &'static str,
    },

    /// A file stores a column the query reads as a type that does not read as the table's.
    #[error(transparent)]
    ColumnType(#[from] ColumnTypeMismatch),

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
    /// A failed listing becomes a [`EngineError::List`] that says what to check.
    fn from(error: Arc<CatalogError>) -> Self {
        match error.as_ref() {
            CatalogError::List {
                table,
                location,
                source,
            } => Self::List {
                table: table.clone(),
                location: location.clone(),
                failure: Box::new(Failure::of(source)),
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
                    Err(inner) => match inner.downcast::<StoreError>() {
                        Ok(store) => Self::from(*store),
                        Err(inner) => Self::Query(DataFusionError::External(inner)),
                    },
                },
            },
            DataFusionError::Context(context, inner) => match Self::from(*inner) {
                Self::Query(inner) => {
                    Self::Query(DataFusionError::Context(context, Box::new(inner)))
                }
                ours => ours,
            },
            // The diagnostic (where in the statement, when spans are collected) stays with a
            // query error: the shell points at it.
            DataFusionError::Diagnostic(diagnostic, inner) => match Self::from(*inner) {
                Self::Query(inner) => {
                    Self::Query(DataFusionError::Diagnostic(diagnostic, Box::new(inner)))
                }
                ours => ours,
            },
            DataFusionError::SQL(parser, _) => Self::Syntax(*parser),
            other => Self::Query(other),
        }
    }
}

/// A place in a statement's text: 1-based line and column (in characters), as sqlparser and
/// DataFusion count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The line, from 1.
    pub line: u64,
    /// The column, from 1.
    pub column: u64,
}

impl EngineError {
    /// Where in `sql`, the statement that failed, the error is, when that can be told: the
    /// token a syntax error stopped at, the column, function or table a query names that does
    /// not exist.
    pub fn position(&self, sql: &str) -> Option<Position> {
        match self {
            Self::Syntax(error) => syntax_position(error),
            Self::Query(error) => error.iter().find_map(|e| {
                let span = e.diagnostic()?.span?;
                (span.start.line > 0).then_some(Position {
                    line: span.start.line,
                    column: span.start.column,
                })
            }),
            Self::Catalog(error) => match error.as_ref() {
                CatalogError::TableNotFound { name, .. } => find_name(sql, name),
                _ => None,
            },
            _ => None,
        }
    }
}

/// sqlparser's `ParserError` keeps the place it stopped only in its message (it has no field
/// for it, as of 0.62): `… at Line: 3, Column: 14`, written by its `Location`'s `Display`.
fn syntax_position(error: &ParserError) -> Option<Position> {
    let message = parser_message(error);
    let (_, place) = message.rsplit_once(" at Line: ")?;
    let (line, column) = place.split_once(", Column: ")?;
    let digits = |text: &str| -> Option<u64> {
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        text[..end].parse().ok()
    };
    Some(Position {
        line: digits(line)?,
        column: digits(column)?,
    })
}

/// Where `name` (`table` or `database.table`) first appears in `sql` as a name, outside quotes
/// and comments.
fn find_name(sql: &str, name: &str) -> Option<Position> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let parts: Vec<&str> = name.split('.').collect();
    let words: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    (0..words.len()).find_map(|start| {
        let matches = parts.iter().enumerate().all(|(i, part)| {
            let token = words.get(start + i * 2).map(|t| &t.token);
            let separated =
                i == 0 || words.get(start + i * 2 - 1).map(|t| &t.token) == Some(&Token::Period);
            separated && matches!(token, Some(Token::Word(w)) if w.value.eq_ignore_ascii_case(part))
        });
        matches.then(|| Position {
            line: words[start].span.start.line,
            column: words[start].span.start.column,
        })
    })
}

impl From<EngineError> for DataFusionError {
    fn from(error: EngineError) -> Self {
        error.into_datafusion()
    }
}

/// What sqlparser said, without its own prefix.
fn parser_message(error: &ParserError) -> String {
    match error {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "statement nested too deeply".to_string(),
    }
}

/// Why a table's files cannot be read as its definition says.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableProblem {
    /// A JSON or CSV table without declared columns.
    #[error("a {format} table must declare its columns (only Parquet files carry a schema)")]
    ColumnsRequired {
        /// Its format.
        format: Format,
    },
    /// A Parquet table without declared columns and without a file to read them from.
    #[error("declares no columns and has no data file under '{location}' to read them from")]
    NoDataFile {
        /// The table's location.
        location: String,
    },
    /// The file the columns were to be read from cannot be read.
    #[error("cannot read the columns of '{object}': {source}")]
    Columns {
        /// The object's path.
        object: String,
        /// Why.
        source: Box<EngineError>,
    },
    /// A zero-byte object where a Parquet file should be (a writer that crashed).
    #[error(
        "'{object}' is empty (0 bytes), not a Parquet file; remove it, or set the table property 'ignore_corrupt_files' = 'true' to skip such files"
    )]
    EmptyFile {
        /// The object's path.
        object: String,
    },
    /// A data file cannot be read.
    #[error("cannot read '{object}'{}: {source}", row_group.map(|rg| format!(" (row group {rg})")).unwrap_or_default())]
    Read {
        /// The object's path.
        object: String,
        /// The row group being read, where known.
        row_group: Option<usize>,
        /// Why.
        source: Box<EngineError>,
    },
    /// A live table that cannot unite its sides.
    #[error("live table: {message}")]
    Live {
        /// What is wrong.
        message: String,
    },
    /// One side of a live table cannot be opened or planned.
    #[error("live table: {source}")]
    LiveSide {
        /// Why (the batch or speed table's own error, or its query's).
        source: Box<EngineError>,
    },
    /// The table's `.manifest` names a partition the table cannot have.
    #[error("its manifest is not valid: {message}")]
    Manifest {
        /// What is wrong.
        message: String,
    },
    /// A data file stores a column as a type that does not read as the table's.
    #[error(
        "'{object}': {mismatch} (rewrite the file, or declare the column as {})",
        mismatch.stored
    )]
    ColumnType {
        /// The object's path.
        object: String,
        /// The column and its two types.
        mismatch: ColumnTypeMismatch,
    },
}

/// Why a write cannot be carried out. Nothing was committed when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteProblem {
    /// The query gives more or fewer columns than the write needs.
    #[error("the query gives {given} column(s), but {expected} are written ({columns})")]
    ColumnCount {
        /// Columns written.
        expected: usize,
        /// Columns the query gives.
        given: usize,
        /// The names of the columns written.
        columns: String,
    },
    /// A column of the query has a type that does not store as the column's without change.
    #[error(
        "column '{column}' is {declared}, but the query gives {given}: CAST it explicitly if the change is intended"
    )]
    ColumnType {
        /// The column written.
        column: String,
        /// Its type in the table.
        declared: String,
        /// The query's type for it.
        given: String,
    },
    /// A value does not fit the column's type (a checked narrowing failed).
    #[error("column '{column}' ({declared}): {message}")]
    ValueDoesNotFit {
        /// The column written.
        column: String,
        /// Its type.
        declared: String,
        /// What the cast said.
        message: String,
    },
    /// A column of the query's result cannot be a table column.
    #[error("column '{column}' is {given}, which a table cannot store: CAST it ({hint})")]
    Unstorable {
        /// The column.
        column: String,
        /// Its type.
        given: String,
        /// What to cast it to.
        hint: &'static str,
    },
    /// A column name that is not valid, or appears twice.
    #[error("column name '{column}' {why}")]
    ColumnName {
        /// The column.
        column: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// `partitioned_by` that are not the query's last columns, in order (Athena's rule).
    #[error(
        "partitioned_by columns must be the last columns of the query, in the same order: expected [{expected}] last, the query ends with [{found}]"
    )]
    PartitionColumnsLast {
        /// The partition columns.
        expected: String,
        /// The query's last columns.
        found: String,
    },
    /// A `WITH (…)` property Minerva does not know.
    #[error("unknown property '{property}' (known: {known})")]
    UnknownProperty {
        /// The property.
        property: String,
        /// The ones known.
        known: &'static str,
    },
    /// A `WITH (…)` property with a value it cannot take.
    #[error("property '{property}' cannot be {value}: {expected}")]
    BadProperty {
        /// The property.
        property: String,
        /// Its value as written.
        value: String,
        /// What it can be.
        expected: &'static str,
    },
    /// A property Athena knows and Minerva refuses (`bucketed_by`, `bucket_count`).
    #[error("property '{property}' is not supported: {why}")]
    Refused {
        /// The property.
        property: String,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// The location of a new table or an export already has data (Athena's
    /// `HIVE_PATH_ALREADY_EXISTS`).
    #[error(
        "'{location}' already holds data (e.g. '{object}'): choose an empty location, or remove what is there"
    )]
    LocationNotEmpty {
        /// The location.
        location: String,
        /// One object found there.
        object: String,
    },
    /// `CREATE TABLE AS` without `external_location` in a catalog with no warehouse.
    #[error(
        "say where: WITH (external_location = '…'), or set warehouse = '…' in {} (tables then go to <warehouse>/<database>/<table>/)",
        storage.display()
    )]
    NoWarehouse {
        /// The catalog's storage.toml.
        storage: std::path::PathBuf,
    },
    /// A column of the target that neither the source nor `SET` provides (`COMPACT`).
    #[error(
        "column '{column}' is not a column of {source_table}; give it with SET {column} = <expression>"
    )]
    Unmatched {
        /// The target's column.
        column: String,
        /// `database.table` read from.
        source_table: String,
    },
    /// `COMPACT … WHERE` on more than the source's partition columns.
    #[error(
        "COMPACT consumes whole objects of {source_table}: its WHERE may only name partition columns ({columns})"
    )]
    CompactFilter {
        /// `database.table` read from.
        source_table: String,
        /// Its partition columns.
        columns: String,
    },
    /// A partition value that cannot name a directory.
    #[error("partition column '{column}' has value {value}, which cannot name a partition")]
    PartitionValue {
        /// The partition column.
        column: String,
        /// The value.
        value: String,
    },
    /// A location that cannot be used.
    #[error("{source}")]
    Location {
        /// What is wrong with it.
        source: ValueError,
    },
    /// The table a `CREATE TABLE AS` would define is not valid.
    #[error("{message}")]
    Definition {
        /// What is wrong.
        message: String,
    },
    /// Writing an object failed.
    #[error("cannot write '{object}': {failure}")]
    Put {
        /// The object.
        object: String,
        /// What went wrong.
        failure: Box<Failure>,
    },
    /// Encoding a file failed.
    #[error("cannot encode '{object}': {message}")]
    Encode {
        /// The object.
        object: String,
        /// What the encoder said.
        message: String,
    },
}

/// A column stored in a file as a type that does not read as the table's without changing
/// values (Athena's `HIVE_PARTITION_SCHEMA_MISMATCH`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column '{column}' is stored as {stored}, which does not read as the table's {declared}")]
pub struct ColumnTypeMismatch {
    /// The column.
    pub column: String,
    /// Its type in the file, in Athena's names.
    pub stored: String,
    /// Its type in the table, in Athena's names.
    pub declared: String,
}

/// A statement that is well formed but cannot be carried out as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `CREATE EXTERNAL TABLE` of a table that exists.
    #[error("table '{table}' already exists (DROP TABLE it first, or say IF NOT EXISTS)")]
    TableExists {
        /// `database.table`.
        table: String,
    },
    /// `CREATE TABLE AS` into a database that does not exist.
    #[error("database '{database}' does not exist (CREATE DATABASE {database} first)")]
    NoDatabase {
        /// The database.
        database: String,
    },
    /// `CREATE VIEW` of a view that exists, without `OR REPLACE`.
    #[error("view '{view}' already exists (say CREATE OR REPLACE VIEW to change it)")]
    ViewExists {
        /// `database.view`.
        view: String,
    },
    /// A statement for one kind of catalog entry named another (`DROP VIEW` of a table).
    #[error("'{name}' is {is}, not {expected}: {instead}")]
    WrongKind {
        /// `database.name`.
        name: String,
        /// What it is (`a table`, `a view`, `a live table`).
        is: &'static str,
        /// What the statement needs.
        expected: &'static str,
        /// What to do instead.
        instead: &'static str,
    },
    /// `CREATE DATABASE` of a database that exists.
    #[error("database '{database}' already exists")]
    DatabaseExists {
        /// The database.
        database: String,
    },
    /// A query without the partition filter its table requires.
    #[error(
        "table '{table}' requires a filter on its partition columns ({columns}) to limit the partitions read (table property '{}')",
        minerva_catalog::REQUIRE_PARTITION_FILTER
    )]
    PartitionFilterRequired {
        /// `database.table`.
        table: String,
        /// Its partition columns, comma-separated.
        columns: String,
    },
    /// A partition statement (`MSCK REPAIR`, `ALTER TABLE … PARTITION`) the table refuses.
    #[error("table '{table}': {problem}")]
    Partitions {
        /// `database.table`.
        table: String,
        /// What is wrong.
        problem: PartitionProblem,
    },
}

/// Why a partition statement cannot be carried out on a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionProblem {
    /// The table has no partition columns.
    #[error("it has no partition columns")]
    NotPartitioned,
    /// Projection computes the table's partitions.
    #[error("it uses partition projection: its partitions are computed, not registered")]
    Projected,
    /// `ADD PARTITION` of one that is registered.
    #[error("partition {partition} already exists (say IF NOT EXISTS to skip it)")]
    Exists {
        /// `k=v/…`.
        partition: String,
    },
    /// `DROP PARTITION` of one that is not.
    #[error("partition {partition} does not exist (say IF EXISTS to skip it)")]
    Missing {
        /// `k=v/…`.
        partition: String,
    },
    /// `PARTITION (k=…)` with a key that is not a partition column.
    #[error("'{key}' is not a partition column")]
    NotAColumn {
        /// The key.
        key: String,
    },
    /// `PARTITION (…)` without a value for a partition column.
    #[error("PARTITION (…) must give '{column}'")]
    ValueMissing {
        /// The column.
        column: String,
    },
    /// A partition value that is not of its column's type.
    #[error("'{value}' is not a valid {ty} for partition column '{column}'")]
    BadValue {
        /// The value as written.
        value: String,
        /// The column's type.
        ty: String,
        /// The column.
        column: String,
    },
    /// A partition `LOCATION` that cannot be used.
    #[error(transparent)]
    Location(ValueError),
}

/// One line for a person: DataFusion's message without its Rust-flavoured prefixes.
fn describe(error: &DataFusionError) -> String {
    // A store failure deep inside a Parquet or Arrow error: what the store said is the news.
    if !matches!(error, DataFusionError::Context(..)) {
        if let Some(store) = find_cause::<object_store::Error>(error) {
            return Failure::of(store).to_string();
        }
        if let Some(explained) = Failure::in_text(&error.to_string()) {
            return explained.to_string();
        }
    }
    match error {
        // Which optimizer rule met the error (evaluating a constant expression while planning)
        // is DataFusion's business; what failed is the news.
        DataFusionError::Context(context, inner) if context.starts_with("Optimizer rule") => {
            describe(inner)
        }
        DataFusionError::Context(context, inner) => format!("{context}: {}", describe(inner)),
        DataFusionError::Diagnostic(_, inner) => describe(inner),
        DataFusionError::Shared(inner) => describe(inner),
        DataFusionError::Collection(errors) => errors.first().map(describe).unwrap_or_default(),
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::Plan(m) | DataFusionError::Execution(m) => m.clone(),
        DataFusionError::SchemaError(e, _) => e.to_string(),
        DataFusionError::NotImplemented(m) => format!("not supported: {m}"),
        DataFusionError::ResourcesExhausted(m) => format!("out of memory: {m}"),
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            ArrowError::ParquetError(m) => format!("parquet error: {}", unwrap_parquet(m)),
            ArrowError::ExternalError(inner) => match inner.downcast_ref::<ParquetError>() {
                Some(p) => format!("parquet error: {}", unwrap_parquet(&p.to_string())),
                None => format!("arrow error: {e}"),
            },
            e => format!("arrow error: {e}"),
        },
        DataFusionError::ParquetError(e) => {
            format!("parquet error: {}", unwrap_parquet(&e.to_string()))
        }
        DataFusionError::ObjectStore(e) => Failure::of(e).to_string(),
        DataFusionError::IoError(e) => format!("i/o error: {e}"),
        other => other.strip_backtrace(),
    }
}

/// A Parquet message without the prefixes its layers of wrapping add ("Parquet argument error:
/// External: Data corruption detected" is "data corruption detected").
fn unwrap_parquet(message: &str) -> String {
    let mut rest = message.trim();
    for prefix in [
        "Parquet argument error:",
        "Parquet error:",
        "External:",
        "Arrow:",
    ]
    .iter()
    .cycle()
    .take(16)
    {
        rest = rest.strip_prefix(prefix).map(str::trim).unwrap_or(rest);
    }
    one_line(rest)
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
pub(crate) fn find_cause<T: std::error::Error + 'static>(error: &DataFusionError) -> Option<&T> {
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
