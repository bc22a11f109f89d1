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

    /// A table definition to be written is not valid.
    #[error("table '{table}': {message}")]
    InvalidTable {
        /// `database.table`.
        table: String,
        /// What is wrong.
        message: String,
    },

    /// No table of that name is in the catalog.
    #[error("table '{name}' not found in catalog '{}'", catalog.display())]
    TableNotFound {
        /// The name as asked for (`table` or `database.table`).
        name: String,
        /// The catalog directory searched.
        catalog: PathBuf,
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
