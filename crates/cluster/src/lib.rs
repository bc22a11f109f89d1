//! Minerva's queries across machines, on [datafusion-distributed]: a coordinator (Minerva's own
//! session, which plans every query and prunes partitions once) and workers (which run the
//! physical plan stages the coordinator sends them over Arrow Flight, each reading its share of
//! a scan's chosen files from the store itself).
//!
//! - [`Cluster::coordinate`] turns an engine builder into a coordinator's;
//! - [`BoundWorker`] serves fragments to coordinators;
//! - [`MinervaCodec`] carries Minerva's own plan nodes (catalog table scans, task shares of a
//!   scan with their part of the scan limit, the recursion bound) between them.
//!
//! What each worker read comes back as metrics of its shares and is added to the query's
//! status line; `EXPLAIN ANALYZE` has a `worker` row per worker.
//!
//! [datafusion-distributed]: https://github.com/datafusion-contrib/datafusion-distributed

mod codec;
mod coordinator;
mod error;
mod planning;
mod share;
mod worker;

pub use codec::MinervaCodec;
pub use coordinator::Cluster;
pub use error::ClusterError;
pub use worker::BoundWorker;
