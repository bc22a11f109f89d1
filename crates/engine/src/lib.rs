//! Minerva's query engine: DataFusion over the tables of a catalog, reading only the
//! partitions a query needs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let lake = tempfile::tempdir()?;
//! let spec = minerva_demo::DemoSpec { days: 2, events_per_day: 500, ..Default::default() };
//! let summary = minerva_demo::write_lake(&spec, lake.path(), &|_| {})?;
//!
//! let engine = minerva_engine::Engine::open(&summary.catalog)?;
//! let batches = engine.query("SELECT count(*) AS n FROM views WHERE dt = DATE '2024-01-02'").await?;
//! assert_eq!(batches[0].num_rows(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Why this design
//! Each catalog table is a DataFusion `TableProvider` that chooses partitions itself, from the
//! catalog's definition and the query's filters, before a single file is listed: equality on a
//! partition column becomes a prefix, ranges list one directory level, and whatever else
//! mentions only partition columns is evaluated on partition values. What remains is an ordinary
//! DataFusion Parquet scan, so row-group statistics, projection and every later DataFusion
//! improvement apply unchanged. The engine never prints: results leave as Arrow batches.

mod dense;
pub mod display;
mod error;
mod options;
pub mod plans;
mod report;
mod scan;
mod session;
mod statements;
mod trino;
mod types;
mod write;

pub use error::{
    EngineError, PartitionProblem, Position, Rejection, Result, TableProblem, WriteProblem,
};
pub use report::{ATHENA_USD_PER_TIB, QueryStats, RemoteRead, ScanReport, ScanSummary};
pub use scan::CatalogTable;
pub use session::{Description, Engine, EngineBuilder, Extension, Planned, QueryOutput};
pub use types::{arrow_type, athena_name};
