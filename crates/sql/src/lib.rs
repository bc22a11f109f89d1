//! The SQL that Minerva reads itself, before any engine sees it: statements split from text,
//! Athena's DDL (`CREATE EXTERNAL TABLE`, `MSCK REPAIR TABLE`, `ALTER TABLE … PARTITION`, …)
//! read into catalog tables and written back (`SHOW CREATE TABLE`), and the catalog commands
//! (`SHOW TABLES`, `DESCRIBE`, `SHOW PARTITIONS`).
//!
//! ```
//! use std::path::Path;
//! use minerva_sql::{Ddl, parse_ddl, split_statements};
//!
//! let script = split_statements("SHOW TABLES; MSCK REPAIR TABLE `web`.`hits`;");
//! assert_eq!(script.complete.len(), 2);
//! let repair = parse_ddl(&script.complete[1], Path::new("catalog"));
//! assert_eq!(
//!     repair,
//!     Some(Ok(Ddl::MsckRepair { database: "web".into(), table: "hits".into() }))
//! );
//! ```
//!
//! # Why this design
//! Everything here reads sqlparser's tokens, the same tokens DataFusion's parser reads, so the
//! splitter, the DDL reader and the engine agree on where a string, a quoted name or a comment
//! ends. DataFusion's parser knows its own `CREATE EXTERNAL TABLE`, not Hive's, so Athena's DDL
//! is read here; keeping it apart from the engine means it is tested without building one.
//! This crate never depends on DataFusion and never touches a file.

mod command;
mod ddl;
mod error;
mod split;
mod view;
mod write;

pub use command::{Command, parse as parse_command};
pub use ddl::{Ddl, PartitionSpec, parse as parse_ddl, show_create_table};
pub use error::{DdlError, Found};
pub use split::{Statements, is_blank, split_statements};
pub use view::{ViewStatement, matches_athena_pattern, parse as parse_view};
pub use write::{Maintenance, parse as parse_maintenance, strip_with_data};
