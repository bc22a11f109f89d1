//! JSON-lines and CSV scans whose errors name the object they came from.
//!
//! DataFusion's text readers report a malformed line as "Json error: … at line 3" with no word
//! of which of a partition's thousands of objects it is in. This source wraps theirs and adds
//! the table and the object to every error a file's stream produces.

use std::fmt;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;

use crate::error::{EngineError, TableProblem};

/// A file source that names the table and object in every error of the source it wraps.
pub(crate) struct NamingSource {
    inner: Arc<dyn FileSource>,
    table: Arc<str>,
}

impl NamingSource {
    pub(crate) fn wrap(inner: Arc<dyn FileSource>, table: &str) -> Arc<dyn FileSource> {
        Arc::new(Self {
            inner,
            table: table.into(),
        })
    }

    fn rewrap(&self, inner: Arc<dyn FileSource>) -> Arc<dyn FileSource> {
        Arc::new(Self {
            inner,
            table: Arc::clone(&self.table),
        })
    }
}

impl fmt::Debug for NamingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamingSource")
            .field("table", &self.table)
            .field("file_type", &self.inner.file_type())
            .finish()
    }
}

impl FileSource for NamingSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> DFResult<Arc<dyn FileOpener>> {
        Ok(Arc::new(NamingOpener {
            inner: self
                .inner
                .create_file_opener(object_store, base_config, partition)?,
            table: Arc::clone(&self.table),
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        self.inner.table_schema()
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        self.rewrap(self.inner.with_batch_size(batch_size))
    }

    fn filter(&self) -> Option<Arc<dyn PhysicalExpr>> {
        self.inner.filter()
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        self.inner.projection()
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        self.inner.metrics()
    }

    fn file_type(&self) -> &str {
        self.inner.file_type()
    }

    fn fmt_extra(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.fmt_extra(t, f)
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    fn supports_repartitioning(&self) -> bool {
        self.inner.supports_repartitioning()
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> DFResult<Option<Arc<dyn FileSource>>> {
        Ok(self
            .inner
            .try_pushdown_projection(projection)?
            .map(|inner| self.rewrap(inner)))
    }

    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> DFResult<
        datafusion::physical_plan::filter_pushdown::FilterPushdownPropagation<Arc<dyn FileSource>>,
    > {
        let mut propagation = self.inner.try_pushdown_filters(filters, config)?;
        propagation.updated_node = propagation.updated_node.map(|inner| self.rewrap(inner));
        Ok(propagation)
    }
}

struct NamingOpener {
    inner: Arc<dyn FileOpener>,
    table: Arc<str>,
}

impl FileOpener for NamingOpener {
    fn open(&self, file: PartitionedFile) -> DFResult<FileOpenFuture> {
        let table = Arc::clone(&self.table);
        let object = file.object_meta.location.to_string();
        let name = move |error: DataFusionError| {
            EngineError::Table {
                table: table.to_string(),
                problem: TableProblem::Read {
                    object: object.clone(),
                    source: Box::new(EngineError::from(error)),
                },
            }
            .into_datafusion()
        };
        let opening = self.inner.open(file).map_err(name.clone())?;
        Ok(Box::pin(async move {
            let stream = opening.await.map_err(name.clone())?;
            Ok(stream.map_err(name).boxed())
        }))
    }
}
