use std::path::PathBuf;

/// Everything that can go wrong while loading a catalog or finding a table's partitions.
///
/// Every variant names the thing at fault: a file and line, a table, a path in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The catalog directory itself is missing or unreadable.
    #[error("catalog directory '{}' cannot be read: {source}", path.display())]
    CatalogDir {
        /// The directory that was asked for.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// A table file could not be read from disk.
    #[error("table file '{}' cannot be read: {source}", path.display())]
    ReadTableFile {
        /// The table file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// A table file is not valid: bad TOML, a missing or unknown field, a bad value.
    #[error("{}:{line}:{column}: {message}", path.display())]
    TableFile {
        /// The table file.
        path: PathBuf,
        /// 1-based line of the offending field (1 when the file as a whole is at fault).
        line: usize,
        /// 1-based column of the offending field.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },

    /// The catalog's `storage.toml` is not valid: bad TOML, an unknown field, a bad value.
    #[error("{}:{line}:{column}: {message}", path.display())]
    StorageFile {
        /// The settings file.
        path: PathBuf,
        /// 1-based line of the offending field.
        line: usize,
        /// 1-based column of the offending field.
        column: usize,
        /// What is wrong, naming the section and field.
        message: String,
    },

    /// A catalog or table file could not be written.
    #[error("cannot write table file '{}': {source}", path.display())]
    WriteTableFile {
        /// The file being written.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// The catalog's lock (which serialises edits from every process) could not be taken.
    #[error("cannot lock the catalog for an edit ('{}'): {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },

    /// A table definition to be written is not valid.
    #[error("table '{table}': {message}")]
    InvalidTable {
        /// `database.table`.
        table: String,
        /// What is wrong.
        message: String,
    },

    /// No table of that name is in the catalog.
    #[error(
        "table '{name}' not found in catalog '{}'{}",
        catalog.display(),
        suggestion.as_ref().map(|s| format!("; did you mean '{s}'?")).unwrap_or_default()
    )]
    TableNotFound {
        /// The name as asked for (`table` or `database.table`).
        name: String,
        /// The catalog directory searched.
        catalog: PathBuf,
        /// The catalog's nearest name, if one is close enough to be a typo of it.
        suggestion: Option<String>,
    },

    /// A statement that reads or writes files of a table named a live table or a view.
    #[error(
        "'{table}' is a live table or a view, not a table of files: this statement needs a table of files"
    )]
    NotATableOfFiles {
        /// `database.name`.
        table: String,
    },

    /// A partition directory's value does not parse as the partition column's declared type.
    #[error(
        "table '{table}': partition directory '{path}' has value '{value}' for column '{column}', which is not a valid {expected}"
    )]
    PartitionValue {
        /// The table being read.
        table: String,
        /// The partition directory in the store.
        path: String,
        /// The partition column.
        column: String,
        /// The raw value found in the directory name.
        value: String,
        /// The declared type of the column.
        expected: String,
    },

    /// Listing a table's location in its object store failed.
    #[error("table '{table}': cannot list '{location}': {source}")]
    List {
        /// The table being read.
        table: String,
        /// The URL or prefix that was being listed.
        location: String,
        /// The object store error.
        source: object_store::Error,
    },

    /// A projected table's query would need more partitions than a query may read.
    #[error(
        "table '{table}': the query would read more than {limit} projected partitions; filter on the partition columns"
    )]
    TooManyPartitions {
        /// The table being read.
        table: String,
        /// The largest number of partitions one query may project.
        limit: usize,
    },

    /// A projected partition column cannot produce values as configured.
    #[error("table '{table}': projection of partition column '{column}': {message}")]
    Projection {
        /// The table being read.
        table: String,
        /// The partition column.
        column: String,
        /// What is wrong.
        message: String,
    },

    /// An `injected` partition column was not pinned by the query.
    #[error(
        "table '{table}': partition column '{column}' is projected as 'injected': the query must give its values with = or IN"
    )]
    InjectedValue {
        /// The table being read.
        table: String,
        /// The injected partition column.
        column: String,
    },

    /// A partition value would place the partition outside its table's location.
    #[error(
        "table '{table}': value '{value}' for partition column '{column}' would escape the table's location"
    )]
    PartitionValueEscapes {
        /// The table being read.
        table: String,
        /// The partition column.
        column: String,
        /// The offending value.
        value: String,
    },

    /// A table's registered partitions file is not valid.
    #[error("{}:{line}: {message}", path.display())]
    RegistryFile {
        /// The `.partitions` file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// A table's `.manifest` file is not valid.
    #[error("{}:{line}: {message}", path.display())]
    ManifestFile {
        /// The `.manifest` file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// Another statement committed to the table between this write's start and its commit.
    #[error(
        "table '{table}': another write committed while this one ran (version {found}, this write started from {expected}); nothing was committed, run the statement again"
    )]
    CommitConflict {
        /// `database.table`.
        table: String,
        /// The manifest version the write started from.
        expected: u64,
        /// The version it found at its commit.
        found: u64,
    },

    /// Another statement is writing the table.
    #[error(
        "table '{table}' is being written by another statement; run this one when it has finished"
    )]
    TableBusy {
        /// `database.table`.
        table: String,
    },

    /// A write would produce a partition the table's projection never yields.
    #[error(
        "table '{table}': partition {partition} is outside the table's partition projection (its projection.* properties), so no query would read it"
    )]
    NotProjected {
        /// `database.table`.
        table: String,
        /// The partition's name.
        partition: String,
    },

    /// A table's location does not exist.
    #[error("table '{table}': location '{location}' does not exist")]
    LocationNotFound {
        /// The table being read.
        table: String,
        /// The table's location, as written in its table file.
        location: String,
    },
}

/// The catalog crate's result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// A value written in a table file, a registry or a statement that cannot be used: a location,
/// a size, a flag, a date pattern, a partition name, a location template. Each variant names
/// the text at fault; where it sits (file, line, property) is the caller's to add.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A location that is blank.
    #[error("location is empty")]
    EmptyLocation,
    /// A location with `://` that is not a URL.
    #[error("location '{written}' is not a valid URL: {reason}")]
    BadUrl {
        /// The location as written.
        written: String,
        /// Why it is not a URL.
        reason: url::ParseError,
    },
    /// A local location that cannot be made absolute or turned into a URL.
    #[error("location '{written}' is not a usable local path")]
    BadLocalPath {
        /// The location as written.
        written: String,
    },
    /// A location in another store than the table's.
    #[error("{what} '{written}' is in store '{store}', but the table is in '{table_store}'")]
    OtherStore {
        /// What the location is (`partition location`).
        what: &'static str,
        /// The location as written.
        written: String,
        /// Its store (`s3://bucket`).
        store: String,
        /// The table's store.
        table_store: String,
    },
    /// A size that does not parse.
    #[error("'{text}' is not a size: write e.g. '10GB', '512MiB' or '1TB'")]
    NotASize {
        /// The text as written.
        text: String,
    },
    /// A flag that is neither `true` nor `false`.
    #[error("'{text}' is not 'true' or 'false'")]
    NotABool {
        /// The text as written.
        text: String,
    },
    /// A Java date pattern with an unclosed quote.
    #[error("date format '{pattern}' has an unclosed quote")]
    UnclosedQuote {
        /// The pattern.
        pattern: String,
    },
    /// A Java date pattern without a year.
    #[error("date format '{pattern}' has no year (y)")]
    NoYear {
        /// The pattern.
        pattern: String,
    },
    /// A Java date pattern letter run Minerva does not read.
    #[error(
        "date format '{pattern}': pattern '{letters}' is not supported (use y, M, d, H, m, s, SSS and quoted text)"
    )]
    UnsupportedPattern {
        /// The pattern.
        pattern: String,
        /// The letters (`EEE`).
        letters: String,
    },
    /// A field of no fixed width directly followed by another field: the text cannot be read
    /// back (`yyyymMM` spells minute 0 and month 1 as `001`).
    #[error(
        "date format '{pattern}': '{letters}' has no fixed width and is followed directly by another field, so dates written with it cannot be read back (write it with two letters, or put text between)"
    )]
    AmbiguousPattern {
        /// The pattern.
        pattern: String,
        /// The letters of the field (`m`).
        letters: String,
    },
    /// A partition name with the wrong number of `k=v` parts.
    #[error("partition '{name}' should name {expected} partition column(s): {columns}")]
    PartitionArity {
        /// The name as written.
        name: String,
        /// How many partition columns the table has.
        expected: usize,
        /// Their names, comma-separated.
        columns: String,
    },
    /// A part of a partition name that is not `k=v`.
    #[error("'{part}' in partition '{name}' is not key=value")]
    NotKeyValue {
        /// The part.
        part: String,
        /// The whole name.
        name: String,
    },
    /// A partition name whose keys are not the partition columns in order.
    #[error(
        "partition '{name}' has '{key}' where partition column '{column}' belongs (order: {columns})"
    )]
    PartitionKey {
        /// The whole name.
        name: String,
        /// The key found.
        key: String,
        /// The column expected there.
        column: String,
        /// The partition columns in order.
        columns: String,
    },
    /// A partition value that is not of its column's type.
    #[error("value '{value}' for partition column '{column}' is not a valid {ty}")]
    PartitionValue {
        /// The value (decoded).
        value: String,
        /// The column.
        column: String,
        /// Its type.
        ty: String,
    },
    /// A location template that is malformed.
    #[error("'{template}'{}{problem}", if matches!(.problem, TemplateProblem::Root(_)) { ": " } else { " " })]
    Template {
        /// The template as written.
        template: String,
        /// What is wrong with it.
        problem: TemplateProblem,
    },
}

/// What is wrong with a `storage.location.template`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateProblem {
    /// No `${column}` at all.
    #[error("has no ${{column}} placeholder")]
    NoPlaceholder,
    /// The part before the first placeholder is not a location.
    #[error("{0}")]
    Root(Box<ValueError>),
    /// The template is in another store than the table.
    #[error("is in store '{store}', but the table's location is in '{table_store}'")]
    OtherStore {
        /// The template's store.
        store: String,
        /// The table's store.
        table_store: String,
    },
    /// `${` without `}`.
    #[error("has an unclosed '${{'")]
    Unclosed,
    /// A placeholder that is not a partition column.
    #[error("names ${{{0}}}, which is not a partition column")]
    NotAColumn(String),
    /// A partition column with no placeholder.
    #[error("does not place partition column '{0}'")]
    Unplaced(String),
}
/// 1-based line and column of a byte offset.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
