//! Aggregation through `UNION ALL`: each branch aggregates its own rows, and the union of the
//! partial results is aggregated once more. A live table is such a union (its batch side and
//! its speed side), so a count over it is a count over each side: the batch side's Parquet
//! table takes the dense path ([`super::DenseAggregation`]) like any table.
//!
//! ```text
//! Aggregate g: count(*), sum(x), min(y)           Projection (the original names)
//!   Union                                   ⇒       Aggregate __g: sum(__a0), sum(__a1), min(__a2)
//!     A                                               Union
//!     B                                                 Aggregate g: count(*), sum(x), min(y)  ─ A
//!                                                       Aggregate g: count(*), sum(x), min(y)  ─ B
//! ```
//!
//! Only aggregates that combine so (`count`, `sum`, `min`, `max`, none `DISTINCT`, filtered or
//! ordered) and plain `GROUP BY`s (no grouping sets) are split; a group-only aggregate
//! (`SELECT DISTINCT`, the inner half of a `count(DISTINCT)`) splits too.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchemaRef};
use datafusion::error::Result;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, Projection, Union, lit};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The prefix of the partial aggregates' column names.
const PARTIAL: &str = "__minerva_";

/// The rule.
#[derive(Debug, Default)]
pub(crate) struct AggregateThroughUnion;

/// How a partial aggregate's results combine.
#[derive(Debug, Clone, Copy)]
enum Merge {
    /// Counts add up (an empty input counts 0).
    Count,
    Sum,
    Min,
    Max,
}

impl OptimizerRule for AggregateThroughUnion {
    fn name(&self) -> &str {
        "minerva_aggregate_through_union"
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
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some((union, input_schema)) = union_below(&aggregate.input) else {
            return Ok(Transformed::no(plan));
        };
        // Already split: the union is of the partial aggregates (whatever the dense rule made
        // of them since).
        let fields = union.schema.fields();
        if !fields.is_empty() && fields.iter().all(|f| f.name().starts_with(PARTIAL)) {
            return Ok(Transformed::no(plan));
        }
        // Grouping sets, and volatile keys (random()), which would be drawn once per branch.
        if aggregate
            .group_expr
            .iter()
            .chain(&aggregate.aggr_expr)
            .any(|e| matches!(e, Expr::GroupingSet(_)) || e.is_volatile())
        {
            return Ok(Transformed::no(plan));
        }
        let Some(merges) = aggregate
            .aggr_expr
            .iter()
            .map(merge_of)
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(Transformed::no(plan));
        };
        // The branches' partial aggregates, over each branch's own columns.
        let group_names: Vec<String> = (0..aggregate.group_expr.len())
            .map(|i| format!("{PARTIAL}g{i}"))
            .collect();
        let aggr_names: Vec<String> = (0..aggregate.aggr_expr.len())
            .map(|i| format!("{PARTIAL}a{i}"))
            .collect();
        let mut partials = Vec::new();
        for branch in &union.inputs {
            // Through the branch's projections: the partial aggregate reads what they read,
            // so a branch that is a table scan under filters aggregates right above them.
            let (columns, below) = through_projections(branch)?;
            let branch = &below;
            let to_branch = |e: &Expr| in_branch(e.clone(), &input_schema, &columns);
            let groups = aggregate
                .group_expr
                .iter()
                .zip(&group_names)
                .map(|(e, name)| Ok(to_branch(&e.clone().unalias())?.alias(name)))
                .collect::<Result<Vec<_>>>()?;
            let aggrs = aggregate
                .aggr_expr
                .iter()
                .zip(&aggr_names)
                .map(|(e, name)| Ok(to_branch(&e.clone().unalias())?.alias(name)))
                .collect::<Result<Vec<_>>>()?;
            partials.push(Arc::new(LogicalPlan::Aggregate(Aggregate::try_new(
                Arc::clone(branch),
                groups,
                aggrs,
            )?)));
        }
        let partials = LogicalPlan::Union(Union::try_new_with_loose_types(partials)?);
        let column = |name: &str| Expr::Column(Column::from_name(name));
        let final_aggregate = Aggregate::try_new(
            Arc::new(partials),
            group_names.iter().map(|n| column(n)).collect(),
            merges
                .iter()
                .zip(&aggr_names)
                .map(|(merge, name)| {
                    let partial = column(name);
                    match merge {
                        Merge::Count | Merge::Sum => sum(partial),
                        Merge::Min => min(partial),
                        Merge::Max => max(partial),
                    }
                    .alias(name)
                })
                .collect(),
        )?;
        // The original names (and qualifiers), and counts of nothing as 0, not NULL.
        let schema: &DFSchemaRef = &aggregate.schema;
        let mut exprs = Vec::new();
        for (i, name) in group_names.iter().chain(&aggr_names).enumerate() {
            let (qualifier, field) = schema.qualified_field(i);
            let value = match i.checked_sub(group_names.len()).map(|a| merges[a]) {
                Some(Merge::Count) => {
                    datafusion::functions::expr_fn::coalesce(vec![column(name), lit(0i64)])
                }
                _ => column(name),
            };
            exprs.push(value.alias_qualified(qualifier.cloned(), field.name()));
        }
        Ok(Transformed::yes(LogicalPlan::Projection(
            Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(final_aggregate)))?,
        )))
    }
}

/// The union under an aggregate (through an alias), and the schema its columns are named by.
fn union_below(input: &Arc<LogicalPlan>) -> Option<(&Union, DFSchemaRef)> {
    match input.as_ref() {
        LogicalPlan::Union(union) => Some((union, Arc::clone(input.schema()))),
        LogicalPlan::SubqueryAlias(alias) => match alias.input.as_ref() {
            LogicalPlan::Union(union) => Some((union, Arc::clone(&alias.schema))),
            _ => None,
        },
        _ => None,
    }
}

/// How `expr` (an aggregate, perhaps aliased) combines across branches, if it does.
fn merge_of(expr: &Expr) -> Option<Merge> {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = expr.clone().unalias() else {
        return None;
    };
    if params.distinct || params.filter.is_some() || !params.order_by.is_empty() {
        return None;
    }
    match func.name() {
        "count" => Some(Merge::Count),
        "sum" => Some(Merge::Sum),
        "min" => Some(Merge::Min),
        "max" => Some(Merge::Max),
        _ => None,
    }
}

/// A branch's output columns as expressions over what is below its projections, and that.
fn through_projections(branch: &Arc<LogicalPlan>) -> Result<(Vec<Expr>, Arc<LogicalPlan>)> {
    let schema = branch.schema();
    let mut columns: Vec<Expr> = (0..schema.fields().len())
        .map(|i| Expr::Column(Column::from(schema.qualified_field(i))))
        .collect();
    let mut node = Arc::clone(branch);
    while let LogicalPlan::Projection(projection) = node.as_ref() {
        let below: Vec<Expr> = projection
            .expr
            .iter()
            .map(|e| e.clone().unalias())
            .collect();
        let schema = Arc::clone(&projection.schema);
        columns = columns
            .into_iter()
            .map(|e| substitute(e, &schema, &below))
            .collect::<Result<_>>()?;
        node = Arc::clone(&projection.input);
    }
    Ok((columns, node))
}

/// `expr` with each column of `schema` replaced by the expression at its place in `by`.
fn substitute(expr: Expr, schema: &DFSchemaRef, by: &[Expr]) -> Result<Expr> {
    expr.transform(|e| match e {
        Expr::Column(c) => match schema.index_of_column(&c) {
            Ok(i) => Ok(Transformed::yes(by[i].clone())),
            Err(_) => Ok(Transformed::no(Expr::Column(c))),
        },
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// `expr` over the union's columns (named by `schema`) as the same expression over a branch,
/// whose columns are `columns`.
fn in_branch(expr: Expr, schema: &DFSchemaRef, columns: &[Expr]) -> Result<Expr> {
    substitute(expr, schema, columns)
}
