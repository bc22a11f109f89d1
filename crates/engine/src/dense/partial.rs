//! A dense aggregation in two parts, for a cluster: partials, each over a share of the files,
//! emit their groups' states, and one merge absorbs them and answers.
//!
//! A state is a group's keys as values and, per aggregate, what merges exactly: counts add,
//! sums add (checked at the end, as one worker checks them), extremes take the extreme, and a
//! `count(DISTINCT)`'s set of ids travels whole (its bitmap words, or its members), so distinct
//! counts stay exact — sets are united, never their counts summed. Partials never fall back to
//! DataFusion's rows (they would not merge): the coordinator decides before it splits, from the
//! files' footers.
//!
//! The plan is `DenseMergeExec` ← `CoalescePartitionsExec` ← `DenseAggregateExec` (partial): a
//! distributed planner cuts it at the coalesce, and deals the partial's files to its tasks.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    PhysicalExpr, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::exec::{DenseAggregateExec, DenseScan, Role, budget_of, new_groups, within_memory};

/// `scan` as partials gathered by a merge.
pub(crate) fn split(scan: DenseScan) -> Arc<dyn ExecutionPlan> {
    let scan = Arc::new(scan);
    let partial = Arc::new(DenseAggregateExec::partial(scan.as_ref().clone()));
    Arc::new(DenseMergeExec::new(
        scan,
        Arc::new(CoalescePartitionsExec::new(partial)),
    ))
}

/// Merges partials' states (its input) into the answer.
#[derive(Debug)]
pub(crate) struct DenseMergeExec {
    scan: Arc<DenseScan>,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DenseMergeExec {
    pub(crate) fn new(scan: Arc<DenseScan>, input: Arc<dyn ExecutionPlan>) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&scan.schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            scan,
            input,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub(crate) fn scan(&self) -> &Arc<DenseScan> {
        &self.scan
    }
}

impl DisplayAs for DenseMergeExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DenseMergeExec: {}, files={}",
            self.scan.description,
            self.scan.files.len()
        )
    }
}

impl ExecutionPlan for DenseMergeExec {
    fn name(&self) -> &'static str {
        "DenseMergeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.pop().filter(|_| children.is_empty()) else {
            return datafusion::common::internal_err!("DenseMergeExec takes one input");
        };
        Ok(Arc::new(Self::new(Arc::clone(&self.scan), input)))
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
        if partition != 0 || self.input.output_partitioning().partition_count() != 1 {
            return datafusion::common::internal_err!(
                "DenseMergeExec answers one partition, from one input partition"
            );
        }
        let scan = Arc::clone(&self.scan);
        let mut input = self.input.execute(0, Arc::clone(&context))?;
        let merged_states = MetricBuilder::new(&self.metrics).global_counter("merged_states");
        let answer = async move {
            let (budget, limit) = budget_of(&scan, &context, "DenseMergeExec");
            let mut merged = new_groups(&scan, &budget);
            while let Some(batch) = input.next().await {
                let batch = batch?;
                merged.absorb_states(&batch, scan.partition_keys.len())?;
                merged_states.add(batch.num_rows());
                within_memory(&scan, merged.budget(), limit)?;
            }
            let batch_size = context.session_config().batch_size();
            merged.into_batches(&scan.outputs, &scan.schema, batch_size, scan.global)
        };
        let batches = futures::stream::once(answer)
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.scan.schema),
            batches,
        )))
    }
}

/// Keeps a `CoalescePartitionsExec` between every merge and its partials, where DataFusion's
/// distribution rule removes it (the partial has one partition): a distributed planner cuts
/// stages at it.
#[derive(Debug, Default)]
pub(crate) struct GatherPartials;

impl PhysicalOptimizerRule for GatherPartials {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(merge) = node.downcast_ref::<DenseMergeExec>() else {
                return Ok(Transformed::no(node));
            };
            if merge.input.is::<CoalescePartitionsExec>() {
                return Ok(Transformed::no(node));
            }
            let input: Arc<dyn ExecutionPlan> =
                Arc::new(CoalescePartitionsExec::new(Arc::clone(&merge.input)));
            Ok(Transformed::yes(Arc::new(DenseMergeExec::new(
                Arc::clone(&merge.scan),
                input,
            ))))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "minerva_gather_partials"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` (a dense partial) reading only `files`.
pub fn partial_with_files(
    plan: &dyn ExecutionPlan,
    files: Vec<PartitionedFile>,
) -> Option<Arc<dyn ExecutionPlan>> {
    let exec = plan.downcast_ref::<DenseAggregateExec>()?;
    if exec.role() != Role::Partial {
        return None;
    }
    let mut scan = exec.scan().as_ref().clone();
    scan.files = files;
    Some(Arc::new(DenseAggregateExec::partial(scan)))
}
