//! A dense aggregation in two parts, for a cluster: partials, each over a share of the files,
//! emit their groups' states, and one merge absorbs them and answers.
//!
//! A state is a group's keys as values and, per aggregate, what merges exactly: counts add,
//! sums add (checked at the end, as one worker checks them), extremes take the extreme, and a
//! `count(DISTINCT)`'s set of ids travels whole (its bitmap words, or its members), so distinct
//! counts stay exact — sets are united, never their counts summed. Partials never fall back to
//! DataFusion's rows (they would not merge): the coordinator decides before it splits (see
//! [`super::DensePlanner`]).
//!
//! The plan is `DenseMergeExec` ← `CoalescePartitionsExec` ← `DenseAggregateExec` (partial): a
//! distributed planner cuts it at the coalesce, and deals the partial's files to its tasks.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::config::ConfigOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
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
use super::groups::{Groups, Output};
use super::{DenseQuery, TableColumns, TableFacts, plan_scan, simplifier_for};

/// The columns of a partial's states (see [`Groups::into_states`]): each partition key's and
/// text key's value (typed as the answer types it), the group's rows, its integer key's state,
/// and each aggregate's state.
pub(crate) fn state_schema(scan: &DenseScan) -> SchemaRef {
    let key_type = |wanted: Output| {
        (scan.outputs.iter())
            .position(|&o| o == wanted)
            .map_or(DataType::Null, |k| scan.schema.field(k).data_type().clone())
    };
    let mut fields = Vec::new();
    for i in 0..scan.partition_keys.len() {
        fields.push(Field::new(
            format!("partition_key_{i}"),
            key_type(Output::Partition(i)),
            true,
        ));
    }
    for i in 0..scan.text_keys.len() {
        fields.push(Field::new(
            format!("text_key_{i}"),
            key_type(Output::Text(i)),
            true,
        ));
    }
    fields.push(Field::new("rows", DataType::UInt64, true));
    fields.push(Field::new("integer_key", DataType::Binary, true));
    for a in 0..scan.aggregates.len() {
        fields.push(Field::new(format!("aggregate_{a}"), DataType::Binary, true));
    }
    Arc::new(Schema::new(fields))
}

/// `groups` as a partial of `scan` emits them.
pub(crate) fn into_states(
    groups: Groups,
    scan: &DenseScan,
    batch_size: usize,
) -> Result<Vec<arrow::array::RecordBatch>> {
    groups.into_states(&state_schema(scan), scan.partition_keys.len(), batch_size)
}

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
    fn new(scan: Arc<DenseScan>, input: Arc<dyn ExecutionPlan>) -> Self {
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

/// Which part of a split dense aggregation a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DensePart {
    /// States of the groups of a share of the files.
    Partial,
    /// The answer, from the partials' states (its one input).
    Merge,
}

/// A part of a split dense aggregation as it travels to a worker: the table's facts and the
/// query as written over it, planned again where it runs.
#[derive(Debug, Clone)]
pub struct DenseSpec {
    /// The table's name (`database.table`), as errors name it.
    pub table: String,
    /// The table's columns, partition columns included.
    pub columns: SchemaRef,
    /// The partition columns' names, in the order of the files' partition values.
    pub partitions: Vec<String>,
    /// The store the files are in (`s3://bucket/`, `file:///`).
    pub store_url: String,
    /// The filters (conjuncts), group keys and aggregates, over unqualified columns.
    pub filters: Vec<Expr>,
    pub groups: Vec<Expr>,
    pub aggregates: Vec<Expr>,
    /// The answer's schema.
    pub output: DFSchemaRef,
    /// The files a partial reads (a merge's: those its partials read).
    pub files: Vec<PartitionedFile>,
}

impl DenseSpec {
    /// The part `plan` is, and its spec, if it is a part of a split dense aggregation.
    pub fn of(plan: &dyn ExecutionPlan) -> Option<(DensePart, Self)> {
        let (part, scan) = if let Some(merge) = plan.downcast_ref::<DenseMergeExec>() {
            (DensePart::Merge, &merge.scan)
        } else if let Some(exec) = plan.downcast_ref::<DenseAggregateExec>()
            && exec.role() == Role::Partial
        {
            (DensePart::Partial, exec.scan())
        } else {
            return None;
        };
        let query = &scan.query;
        Some((
            part,
            Self {
                table: scan.table.clone(),
                columns: Arc::clone(&scan.declared),
                partitions: (scan.partition_schema.fields().iter())
                    .map(|f| f.name().clone())
                    .collect(),
                store_url: scan.store_url.as_str().to_string(),
                filters: query.filters().cloned().collect(),
                groups: query.written.0.clone(),
                aggregates: query.written.1.clone(),
                output: Arc::clone(&query.schema),
                files: scan.files.clone(),
            },
        ))
    }

    /// The part again, planned with `context`'s functions: a partial (no inputs), or a merge of
    /// its one input.
    pub fn into_plan(
        self,
        part: DensePart,
        inputs: &[Arc<dyn ExecutionPlan>],
        context: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns = TableColumns {
            schema: Arc::clone(&self.columns),
            partitions: self.partitions.clone(),
        };
        let not_dense = || {
            DataFusionError::Plan(format!(
                "the dense aggregation of table '{}' does not plan here (a worker of another version?)",
                self.table
            ))
        };
        // Times were folded to literals where the query was planned.
        let simplifier = simplifier_for(
            &columns,
            Some(chrono::Utc::now()),
            Arc::clone(context.session_config().options()),
        )
        .ok_or_else(not_dense)?;
        let query = DenseQuery::classify(
            &columns,
            &simplifier,
            self.filters.clone(),
            self.groups.clone(),
            self.aggregates.clone(),
            Arc::clone(&self.output),
        )
        .ok_or_else(not_dense)?;
        let facts = TableFacts {
            name: self.table.clone(),
            schema: Arc::clone(&self.columns),
            partitions: self.partitions,
            store_url: ObjectStoreUrl::parse(&self.store_url)?,
        };
        let scan = plan_scan(&query, &facts, self.files, &physical)?;
        match (part, inputs) {
            (DensePart::Partial, []) => Ok(Arc::new(DenseAggregateExec::partial(scan))),
            (DensePart::Merge, [input]) => Ok(Arc::new(DenseMergeExec::new(
                Arc::new(scan),
                Arc::clone(input),
            ))),
            _ => datafusion::common::internal_err!(
                "a dense {part:?} of table '{}' with {} inputs",
                self.table,
                inputs.len()
            ),
        }
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

/// `expr` made physical over `schema` as a session would (types coerced), without one.
fn physical(expr: Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::new(schema.clone()))
            .build(),
    );
    let expr = simplifier.coerce(expr, schema)?;
    datafusion::physical_expr::create_physical_expr(
        &expr,
        schema,
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )
}
