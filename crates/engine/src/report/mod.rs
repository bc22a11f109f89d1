//! What a query read and how its scans were planned: the per-query [`QueryStats`] and
//! [`ScanSummary`] (`stats`), and each catalog table scan's [`ScanReport`] for `EXPLAIN` (`scan`).

mod scan;
mod stats;
pub(crate) mod words;

pub use scan::ScanReport;
pub use stats::{ATHENA_USD_PER_TIB, QueryStats, RemoteRead, ScanSummary};
