//! Minerva's own physical plan nodes, taken apart and put together again: for a codec that
//! ships plan fragments to other processes (a cluster's workers). Each node is described by
//! parts DataFusion can serialize itself plus what is Minerva's; putting the parts together
//! again gives a node that behaves as the original.

use std::sync::Arc;

use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

use crate::scan::drift::StrictAdapterFactory;
use crate::scan::naming::NamingSource;
use crate::session::recursion::DepthBound;

pub use crate::dense::{DensePart, DenseSpec, partial_with_files as dense_partial_with_files};
pub use crate::session::CountingStores;

/// A scan of a catalog table's files whose errors name the table and the object: the scan as
/// DataFusion's own source would run it, and Minerva's additions.
#[derive(Debug, Clone)]
pub struct NamedScan {
    /// The scan with DataFusion's own file source (Parquet, JSON, CSV).
    pub scan: FileScanConfig,
    /// The table its errors name (`database.table`).
    pub table: String,
    /// Whether a file's column whose type does not read as the table's is refused (Parquet
    /// scans) rather than cast.
    pub strict_types: bool,
}

impl NamedScan {
    /// The parts of `plan`, if it is a scan of a catalog table.
    pub fn of(plan: &dyn ExecutionPlan) -> Option<Self> {
        let config = plan
            .downcast_ref::<DataSourceExec>()?
            .data_source()
            .downcast_ref::<FileScanConfig>()?;
        let named = config.file_source().downcast_ref::<NamingSource>()?;
        let strict_types = config.expr_adapter_factory.is_some();
        Some(Self {
            scan: FileScanConfigBuilder::from(config.clone())
                .with_source(Arc::clone(named.inner()))
                .with_expr_adapter(None)
                .build(),
            table: named.table().to_string(),
            strict_types,
        })
    }

    /// The scan again, as the engine plans it.
    pub fn into_plan(self) -> Arc<dyn ExecutionPlan> {
        let source = NamingSource::wrap(Arc::clone(self.scan.file_source()), &self.table);
        let adapter = self.strict_types.then(StrictAdapterFactory::shared);
        DataSourceExec::from_data_source(
            FileScanConfigBuilder::from(self.scan)
                .with_source(source)
                .with_expr_adapter(adapter)
                .build(),
        )
    }
}

/// The bound on a recursive query's steps (Trino's `max_recursion_depth`) around its recursive
/// term.
#[derive(Debug, Clone)]
pub struct RecursionBound {
    /// The recursive term.
    pub input: Arc<dyn ExecutionPlan>,
    /// The most steps it may take.
    pub max: usize,
}

impl RecursionBound {
    /// The parts of `plan`, if it is the bound.
    pub fn of(plan: &dyn ExecutionPlan) -> Option<Self> {
        let bound = plan.downcast_ref::<DepthBound>()?;
        Some(Self {
            input: Arc::clone(bound.input()),
            max: bound.max(),
        })
    }

    /// The bound again, counting its steps afresh.
    pub fn into_plan(self) -> Arc<dyn ExecutionPlan> {
        Arc::new(DepthBound::new(self.input, self.max))
    }
}
