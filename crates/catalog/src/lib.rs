//! Minerva's catalog: table definitions kept as files, and partition pruning over them.
//!
//! A catalog is a directory with one TOML file per table, grouped by database:
//! `catalog/<database>/<table>.toml`. A table file names the table's location (a local path,
//! `file://` or `s3://` URL), its format, its columns and partition columns with Athena type
//! names, and free-form properties (Athena's TBLPROPERTIES, kept verbatim).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("default"))?;
//! std::fs::write(
//!     dir.path().join("default/views.toml"),
//!     r#"
//!     location = "../lake/views"
//!     partition_columns = [{ name = "dt", type = "date" }]
//!     "#,
//! )?;
//! let catalog = minerva_catalog::Catalog::load(dir.path())?;
//! let views = catalog.resolve("views")?;
//! assert_eq!(views.qualified_name(), "default.views");
//! assert_eq!(views.partition_columns()[0].ty.to_string(), "date");
//! # Ok(())
//! # }
//! ```
//!
//! # Why catalog as code
//! Glue and a Hive metastore keep table definitions in a service: changes are unreviewed and a
//! laptop cannot run the catalog. Plain files reviewed in git give each table a history, let a
//! change to a definition ride with the code that needs it, and cost nothing to run. Partitions
//! are found from prefixes (spelled from the query's predicates where it pins the values, listed
//! otherwise), so no metastore has to be kept in step with the data.

mod catalog;
mod column;
mod datefmt;
mod domain;
mod error;
mod hive;
mod layout;
mod live;
mod location;
mod manifest;
mod partition;
pub mod projection;
mod registry;
mod selection;
mod storage;
mod table;
mod types;
mod value;

pub use catalog::{Catalog, CatalogLock, Entry, LOCK_FILE, WriteLock, nearest};
pub use column::Column;
pub use datefmt::{DateFormat, TimeUnit};
pub use domain::{Domain, PartitionFilter};
pub use error::{CatalogError, Result, TemplateProblem, ValueError};
pub use hive::hive_partitions;
pub use layout::Layout;
pub use live::{LiveTable, View};
pub use location::Location;
pub use manifest::{Manifest, ManifestFile, WRITTEN_FILE_PREFIX, is_written_by_minerva};
pub use partition::{Partition, hive_escape};
pub use projection::Projection;
pub use registry::{parse_partition_name, partition_name, partition_prefix};
pub use selection::{Method, Selection, select_partitions};
pub use storage::{S3Settings, STORAGE_FILE, StorageSettings};
pub use table::{
    DEFAULT_DATABASE, DefinitionError, Format, MAX_SCAN, REQUIRE_PARTITION_FILTER, Serde, Table,
    TableDefinition, display_byte_size, parse_byte_size,
};
pub use types::{ColumnType, UnknownType};
pub use value::{HIVE_NULL, Value};
