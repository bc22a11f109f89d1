//! Minerva's object stores: where a lake's bytes come from, and what each query took.
//!
//! [`Stores`] is a session's registry: local files, stores handed in by an embedder or a test,
//! and one S3 client per bucket, set up on first use from `storage.toml` and the AWS CLI's
//! credential chain. Each query sees every store through an [`AccountedStore`] that counts its
//! requests and bytes into the query's [`Meter`], refuses bytes past its [`ScanLimit`], and
//! answers repeated remote listings from a [`ListingCache`]. [`Failure`] says in a person's
//! words what a failed request means and what to check; [`RecordingStore`] is how tests prove
//! which requests a query made.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use minerva_store::{AccountedStore, ListingCache, Meter};
//! use object_store::{ObjectStore, ObjectStoreExt, memory::InMemory, path::Path};
//!
//! let lake: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
//! lake.put(&Path::from("views/a.parquet"), vec![0u8; 100].into()).await?;
//!
//! let meter = Arc::new(Meter::new(None));
//! let url = url::Url::parse("memory://lake")?;
//! let cache = Arc::new(ListingCache::new(ListingCache::DEFAULT_TTL));
//! let counted = AccountedStore::new(lake, &url, Arc::clone(&meter), cache);
//! counted.get_range(&Path::from("views/a.parquet"), 0..10).await?;
//! assert_eq!((meter.usage().bytes, meter.usage().get_requests), (10, 1));
//! # Ok(())
//! # }
//! ```
//!
//! # Why this design
//! Counting at the store, not from plan estimates, makes "data scanned" what the server served,
//! and a limit checked before each request stops a query before it reads too much rather than
//! after. Wrappers compose: the engine stacks them over whatever store a table's URL names, so
//! S3, a local directory and an in-memory test store take one path. This crate knows
//! object_store and HTTP; it never plans a query and does not depend on DataFusion.

mod accounted;
mod disk_cache;
mod error;
mod failure;
mod latency;
mod listings;
mod local;
mod meter;
mod profile;
pub mod recording;
mod registry;
mod resume;
mod s3;

pub use accounted::AccountedStore;
pub use disk_cache::{CacheKind, CacheWarning, DiskCache};
pub use error::StoreError;
pub use failure::Failure;
pub use latency::LatencyStore;
pub use listings::ListingCache;
pub use local::LocalFiles;
pub use meter::{Meter, ScanLimit, ScanLimitExceeded, Usage};
pub use recording::{RecordingStore, Request, RequestKind};
pub use registry::Stores;
pub use resume::ListingInterrupted;
