//! Aggregation below a join (eager aggregation): a large table joined to a small one (an inline
//! `VALUES`, a CTE, a dimension table) and grouped by the small side's columns is aggregated by
//! the join key first, on the dense path, and the few groups are joined.
//!
//! ```text
//! Aggregate d.label: count(*), sum(v.x)          Projection (the original names)
//!   Join v.k = d.k                         ⇒       Aggregate d.label: sum(__p0), sum(__p1)
//!     v (a Parquet table, filtered)                  Join __v.k = d.k
//!     d                                                DenseAggregate v.k: count(*), sum(v.x)
//!                                                      d
//! ```
//!
//! Exact for `count`, `sum`, `min` and `max` of the large side's columns: every large row of a
//! join key meets the same small rows, so a key's partial result stands for its rows wherever
//! they go. Group keys of the large side join the partial aggregate's keys (so the inner half
//! of a `count(DISTINCT v.user_id)` keeps its pairs). The rule applies only where the partial
//! aggregate takes the dense path; a join it does not recognize is left as it is.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchemaRef};
use datafusion::error::Result;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, Cast, Expr, ExprSchemable, Join, JoinType, LogicalPlan, LogicalPlanBuilder,
    Projection, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The prefix of the partial aggregates' column names.
const PARTIAL: &str = "__minerva_eager_";

/// Turns a partial aggregate into its dense form, if the dense path answers it.
pub(crate) type Densify = fn(&LogicalPlan, &dyn OptimizerConfig) -> Option<LogicalPlan>;

/// The rule.
#[derive(Debug)]
pub(crate) struct AggregateBelowJoin {
    densify: Densify,
}

impl AggregateBelowJoin {
    pub(crate) fn new(densify: Densify) -> Self {
        Self { densify }
    }
}

/// How a partial result combines above the join.
#[derive(Debug, Clone)]
enum Merge {
    /// Counts add up; a count of no rows is 0.
    Count,
    Sum,
    Min,
    Max,
    /// `count(DISTINCT x)`: `x` joins the partial aggregate's keys, and the aggregate is
    /// computed again over the joined groups.
    Again(Box<Expr>, Column),
}

impl OptimizerRule for AggregateBelowJoin {
    fn name(&self) -> &str {
        "minerva_aggregate_below_join"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        match self.eager(&plan, config)? {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

impl AggregateBelowJoin {
    fn eager(
        &self,
        plan: &LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Option<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = plan else {
            return Ok(None);
        };
        let Some(join) = join_below(&aggregate.input) else {
            return Ok(None);
        };
        if join.join_type != JoinType::Inner || join.filter.is_some() || join.on.is_empty() {
            return Ok(None);
        }
        if aggregate
            .group_expr
            .iter()
            .chain(&aggregate.aggr_expr)
            .any(|e| matches!(e, Expr::GroupingSet(_)) || e.is_volatile())
        {
            return Ok(None);
        }
        // The large side: the one every aggregate reads.
        let left_schema = Arc::clone(join.left.schema());
        let right_schema = Arc::clone(join.right.schema());
        let reads_only =
            |e: &Expr, schema: &DFSchemaRef| e.column_refs().iter().all(|c| schema.has_column(c));
        let large_is_left = aggregate
            .aggr_expr
            .iter()
            .all(|e| reads_only(e, &left_schema));
        let large_is_right = aggregate
            .aggr_expr
            .iter()
            .all(|e| reads_only(e, &right_schema));
        let (large, small, large_schema) = match (large_is_left, large_is_right) {
            (true, false) => (&join.left, &join.right, &left_schema),
            (false, true) => (&join.right, &join.left, &right_schema),
            // Aggregates of both sides, or of none (count(*) only): the side with the table
            // scan the dense path reads.
            _ if aggregate
                .aggr_expr
                .iter()
                .all(|e| e.column_refs().is_empty()) =>
            {
                match (is_table_chain(&join.left), is_table_chain(&join.right)) {
                    (true, false) => (&join.left, &join.right, &left_schema),
                    (false, true) => (&join.right, &join.left, &right_schema),
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        if !is_table_chain(large) {
            return Ok(None);
        }
        let Some(merges) = aggregate
            .aggr_expr
            .iter()
            .map(merge_of)
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        // The partial aggregate's keys: the large side's join keys, then the large-side
        // columns the group keys read; each group key reads one side only.
        let mut keys: Vec<Column> = Vec::new();
        let mut add_key = |c: &Column| {
            if !keys.contains(c) {
                keys.push(c.clone());
            }
        };
        let mut large_keys = Vec::new();
        let mut small_keys = Vec::new();
        for (l, r) in &join.on {
            let (large_key, small_key) = if std::ptr::eq(large, &join.left) {
                (l, r)
            } else {
                (r, l)
            };
            let Expr::Column(column) = large_key else {
                return Ok(None);
            };
            add_key(column);
            large_keys.push(column.clone());
            small_keys.push(small_key.clone());
        }
        for expr in &aggregate.group_expr {
            let refs = expr.column_refs();
            if refs.iter().all(|c| large_schema.has_column(c)) {
                refs.into_iter().for_each(&mut add_key);
            } else if !refs.iter().all(|c| small.schema().has_column(c)) {
                return Ok(None);
            }
        }
        for merge in &merges {
            if let Merge::Again(_, column) = merge {
                add_key(column);
            }
        }
        let names: Vec<String> = (0..merges.len()).map(|i| format!("{PARTIAL}{i}")).collect();
        let partial = LogicalPlan::Aggregate(Aggregate::try_new(
            Arc::clone(large),
            keys.iter().cloned().map(Expr::Column).collect(),
            aggregate
                .aggr_expr
                .iter()
                .zip(&merges)
                .zip(&names)
                .filter(|((_, merge), _)| !matches!(merge, Merge::Again(..)))
                .map(|((e, _), name)| e.clone().unalias().alias(name))
                .collect(),
        )?);
        let Some(dense) = (self.densify)(&partial, config) else {
            return Ok(None);
        };
        let joined = LogicalPlanBuilder::from(dense)
            .join_with_expr_keys(
                small.as_ref().clone(),
                JoinType::Inner,
                (
                    large_keys.into_iter().map(Expr::Column).collect::<Vec<_>>(),
                    small_keys,
                ),
                None,
            )?
            .build()?;
        let final_aggregate = Aggregate::try_new(
            Arc::new(joined),
            aggregate.group_expr.clone(),
            merges
                .iter()
                .zip(&names)
                .map(|(merge, name)| {
                    let partial = Expr::Column(Column::from_name(name));
                    match merge {
                        Merge::Count | Merge::Sum => sum(partial),
                        Merge::Min => min(partial),
                        Merge::Max => max(partial),
                        Merge::Again(aggregate, _) => aggregate.as_ref().clone(),
                    }
                    .alias(name)
                })
                .collect(),
        )?;
        // The original names and types (a sum of sums widens decimals: cast back).
        let schema = &aggregate.schema;
        let groups = aggregate.group_expr.len();
        let final_schema = Arc::clone(&final_aggregate.schema);
        let mut exprs = Vec::new();
        for i in 0..schema.fields().len() {
            let (qualifier, field) = schema.qualified_field(i);
            let mut value = Expr::Column(Column::from(final_schema.qualified_field(i)));
            if i >= groups && matches!(merges[i - groups], Merge::Count) {
                value = datafusion::functions::expr_fn::coalesce(vec![value, lit(0i64)]);
            }
            let value = if i >= groups && value.get_type(&final_schema)? != *field.data_type() {
                Expr::Cast(Cast::new(Box::new(value), field.data_type().clone()))
            } else {
                value
            };
            exprs.push(value.alias_qualified(qualifier.cloned(), field.name()));
        }
        Ok(Some(LogicalPlan::Projection(Projection::try_new(
            exprs,
            Arc::new(LogicalPlan::Aggregate(final_aggregate)),
        )?)))
    }
}

/// The join under an aggregate, through projections of plain columns.
fn join_below(input: &Arc<LogicalPlan>) -> Option<&Join> {
    match input.as_ref() {
        LogicalPlan::Join(join) => Some(join),
        LogicalPlan::Projection(projection)
            if projection
                .expr
                .iter()
                .all(|e| matches!(e.clone().unalias(), Expr::Column(_))) =>
        {
            join_below(&projection.input)
        }
        _ => None,
    }
}

/// Whether `plan` is a table scan under filters, aliases and projections: what the dense path
/// reads.
fn is_table_chain(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::TableScan(_) => true,
        LogicalPlan::Filter(f) => is_table_chain(&f.input),
        LogicalPlan::SubqueryAlias(a) => is_table_chain(&a.input),
        LogicalPlan::Projection(p) => {
            p.expr.iter().all(|e| matches!(e, Expr::Column(_))) && is_table_chain(&p.input)
        }
        _ => false,
    }
}

/// How `expr` (an aggregate, perhaps aliased) combines across join keys, if it does.
fn merge_of(expr: &Expr) -> Option<Merge> {
    let aggregate = expr.clone().unalias();
    let Expr::AggregateFunction(AggregateFunction { func, params }) = &aggregate else {
        return None;
    };
    if params.filter.is_some() || !params.order_by.is_empty() {
        return None;
    }
    if let ("count", true, [Expr::Column(c)]) =
        (func.name(), params.distinct, params.args.as_slice())
    {
        return Some(Merge::Again(Box::new(aggregate.clone()), c.clone()));
    }
    match (func.name(), params.distinct) {
        ("count" | "count_if", false) => Some(Merge::Count),
        ("sum", false) => Some(Merge::Sum),
        ("min", _) => Some(Merge::Min),
        ("max", _) => Some(Merge::Max),
        _ => None,
    }
}
