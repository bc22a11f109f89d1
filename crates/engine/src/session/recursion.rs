//! A depth bound for recursive queries (`WITH RECURSIVE`), as Trino has: a recursion that has
//! not ended after `max_recursion_depth` steps fails with Trino's message instead of running
//! until it is killed. DataFusion iterates a recursive term until it yields no rows, without a
//! bound; this rule counts its iterations.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::recursive_query::RecursiveQueryExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use futures::StreamExt;

use crate::error::EngineError;
use crate::options::MinervaOptions;

/// The depth bound of a query's settings.
fn max_depth(config: &ConfigOptions) -> usize {
    config
        .extensions
        .get::<MinervaOptions>()
        .map_or(MinervaOptions::default().max_recursion_depth, |o| {
            o.max_recursion_depth
        })
}

/// Puts a [`DepthBound`] on the recursive term of every recursive query.
#[derive(Debug, Default)]
pub(crate) struct BoundedRecursion;

impl PhysicalOptimizerRule for BoundedRecursion {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let max = max_depth(config);
        plan.transform_up(|node| {
            if !node.is::<RecursiveQueryExec>() {
                return Ok(Transformed::no(node));
            }
            let children: Vec<Arc<dyn ExecutionPlan>> =
                node.children().into_iter().cloned().collect();
            let [static_term, recursive_term] = children.as_slice() else {
                return Ok(Transformed::no(node));
            };
            if recursive_term.is::<DepthBound>() {
                return Ok(Transformed::no(node));
            }
            let bounded = Arc::new(DepthBound::new(Arc::clone(recursive_term), max));
            Ok(Transformed::yes(node.replace_children(
                vec![Arc::clone(static_term), bounded],
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "bounded_recursion"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The recursive term of a recursive query, counting the times it runs: each run is one step.
/// Step `max + 1` may run only to find that the recursion is over (no rows); a row from it
/// fails the query with Trino's message.
#[derive(Debug)]
pub(crate) struct DepthBound {
    input: Arc<dyn ExecutionPlan>,
    max: usize,
    /// Steps run so far; shared by the copies DataFusion makes of the plan between steps.
    steps: Arc<AtomicUsize>,
}

impl DepthBound {
    pub(crate) fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, max: usize) -> Self {
        Self {
            input,
            max,
            steps: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl DisplayAs for DepthBound {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DepthBound: max_recursion_depth={}", self.max)
    }
}

impl ExecutionPlan for DepthBound {
    fn name(&self) -> &'static str {
        "DepthBound"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children.pop().expect("one child");
        Ok(Arc::new(Self {
            input,
            max: self.max,
            steps: Arc::clone(&self.steps),
        }))
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

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.input.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let step = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
        let stream = self.input.execute(partition, context)?;
        if step <= self.max {
            return Ok(stream);
        }
        let schema = stream.schema();
        let max = self.max;
        let checked = stream.map(move |batch| match batch {
            Ok(batch) if batch.num_rows() > 0 => {
                Err(EngineError::RecursionDepth { max }.into_datafusion())
            }
            other => other,
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, checked)))
    }
}
