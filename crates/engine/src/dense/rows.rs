//! An aggregation answered by its distinct rows: `SELECT DISTINCT a, b` or
//! `GROUP BY a, b … count(*)` over several integer columns (users and listings, users and
//! days), which no dense array indexes (an array per pair of ids would be their product).
//!
//! DataFusion reads the filtered rows' keys (its scan, with the filters pushed into the
//! Parquet reader), and [`super::distinct::distinct_rows`] folds them in parts, without
//! DataFusion's two-phase hash aggregation and its repartition. When the memory pool refuses
//! the rows, DataFusion's aggregation (which spills) answers instead.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use futures::TryStreamExt;

use super::exec::Fallback;

/// The distinct rows of an aggregation's keys over the files chosen for it, counted where it
/// counts rows.
#[derive(Debug)]
pub(crate) struct DistinctRowsExec {
    /// DataFusion's plans: the keys of the filtered rows, and the whole aggregation.
    plans: Arc<Fallback>,
    table: String,
    files: Vec<PartitionedFile>,
    schema: SchemaRef,
    /// What EXPLAIN shows.
    description: String,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DistinctRowsExec {
    /// The answer `schema` of `plans` (which must plan the keys: an aggregation of counts of
    /// rows, or none) over `files` of `table`.
    pub(crate) fn new(
        plans: Arc<Fallback>,
        table: String,
        files: Vec<PartitionedFile>,
        schema: SchemaRef,
        description: String,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            plans,
            table,
            files,
            schema,
            description,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for DistinctRowsExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DistinctRowsExec: {}, files={}",
            self.description,
            self.files.len()
        )
    }
}

impl ExecutionPlan for DistinctRowsExec {
    fn name(&self) -> &'static str {
        "DistinctRowsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return datafusion::common::internal_err!("DistinctRowsExec answers one partition");
        }
        let plans = Arc::clone(&self.plans);
        let (table, files) = (self.table.clone(), self.files.clone());
        let schema = Arc::clone(&self.schema);
        let metrics = self.metrics.clone();
        let answer = async move { plans.run(&table, &files, &schema, context, &metrics).await };
        let batches = futures::stream::once(answer)
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        )))
    }
}
