//! File scans whose errors name the object they came from.
//!
//! DataFusion's readers report a malformed JSON line as "Json error: … at line 3", a corrupt
//! Parquet page as "Data corruption detected", with no word of which of a partition's thousands
//! of objects it is in. This source wraps theirs (JSON, CSV and Parquet alike) and adds the
//! table and the object to every error a file's open or stream produces.

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
use datafusion_datasource::morsel::{Morsel, MorselPlan, MorselPlanner, Morselizer};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::ObjectStore;

use datafusion::arrow::array::RecordBatch;

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

    /// DataFusion's source it wraps.
    pub(crate) fn inner(&self) -> &Arc<dyn FileSource> {
        &self.inner
    }

    /// The table its errors name.
    pub(crate) fn table(&self) -> &str {
        &self.table
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

    /// Parquet's source plans files as morsels (row groups), not through a file opener.
    fn create_morselizer(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> DFResult<Box<dyn Morselizer>> {
        Ok(Box::new(NamingMorselizer {
            inner: self
                .inner
                .create_morselizer(object_store, base_config, partition)?,
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

/// The function that names the table and `file` in an error of reading it.
fn namer(table: &Arc<str>, file: &PartitionedFile) -> Namer {
    Namer {
        table: Arc::clone(table),
        object: file.object_meta.location.to_string().into(),
    }
}

/// Names a table and an object in the errors of reading it.
#[derive(Debug, Clone)]
struct Namer {
    table: Arc<str>,
    object: Arc<str>,
}

impl Namer {
    fn name(&self, error: DataFusionError) -> DataFusionError {
        let error = EngineError::from(error);
        let problem = match error {
            // Already named (a nested scan).
            EngineError::Table { .. } => return error.into_datafusion(),
            EngineError::ColumnType(mismatch) => TableProblem::ColumnType {
                object: self.object.to_string(),
                mismatch,
            },
            other => TableProblem::Read {
                object: self.object.to_string(),
                row_group: None,
                source: Box::new(other),
            },
        };
        EngineError::Table {
            table: self.table.to_string(),
            problem,
        }
        .into_datafusion()
    }
}

impl FileOpener for NamingOpener {
    fn open(&self, file: PartitionedFile) -> DFResult<FileOpenFuture> {
        let namer = namer(&self.table, &file);
        let name = move |error: DataFusionError| namer.name(error);
        let opening = self.inner.open(file).map_err(name.clone())?;
        Ok(Box::pin(async move {
            let stream = opening.await.map_err(name.clone())?;
            Ok(stream.map_err(name).boxed())
        }))
    }
}

#[derive(Debug)]
struct NamingMorselizer {
    inner: Box<dyn Morselizer>,
    table: Arc<str>,
}

impl Morselizer for NamingMorselizer {
    fn plan_file(&self, file: PartitionedFile) -> DFResult<Box<dyn MorselPlanner>> {
        let namer = namer(&self.table, &file);
        let inner = self.inner.plan_file(file).map_err(|e| namer.name(e))?;
        Ok(Box::new(NamingPlanner { inner, namer }))
    }
}

#[derive(Debug)]
struct NamingPlanner {
    inner: Box<dyn MorselPlanner>,
    namer: Namer,
}

impl MorselPlanner for NamingPlanner {
    fn plan(self: Box<Self>) -> DFResult<Option<MorselPlan>> {
        let namer = self.namer;
        let Some(mut plan) = self.inner.plan().map_err(|e| namer.name(e))? else {
            return Ok(None);
        };
        let morsels = plan
            .take_morsels()
            .into_iter()
            .map(|inner| {
                Box::new(NamingMorsel {
                    inner,
                    namer: namer.clone(),
                }) as Box<dyn Morsel>
            })
            .collect();
        let planners = plan
            .take_ready_planners()
            .into_iter()
            .map(|inner| {
                Box::new(NamingPlanner {
                    inner,
                    namer: namer.clone(),
                }) as Box<dyn MorselPlanner>
            })
            .collect();
        let mut named = MorselPlan::new()
            .with_morsels(morsels)
            .with_planners(planners);
        if let Some(pending) = plan.take_pending_planner() {
            named.set_pending_planner(pending.into_future().map(move |planned| {
                planned
                    .map(|inner| {
                        Box::new(NamingPlanner {
                            inner,
                            namer: namer.clone(),
                        }) as _
                    })
                    .map_err(|e| namer.name(e))
            }));
        }
        Ok(Some(named))
    }
}

#[derive(Debug)]
struct NamingMorsel {
    inner: Box<dyn Morsel>,
    namer: Namer,
}

impl Morsel for NamingMorsel {
    fn into_stream(self: Box<Self>) -> BoxStream<'static, DFResult<RecordBatch>> {
        let namer = self.namer;
        self.inner
            .into_stream()
            .map_err(move |e| namer.name(e))
            .boxed()
    }
}
