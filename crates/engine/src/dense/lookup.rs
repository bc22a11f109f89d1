//! Joins with an inline table as lookups: an aggregation over a table joined on one key to a
//! few literal rows (`JOIN (VALUES …) AS d(k, label) ON v.k = d.k`, a CTE of such rows) whose
//! key is unique reads each small-side column as a `CASE` of the large side's key, and keeps
//! the large side's rows whose key is among the small side's.
//!
//! ```text
//! Aggregate d.label: count(*), count(DISTINCT v.u)      Projection (the original names)
//!   Join v.k = d.k                                ⇒       Aggregate CASE WHEN v.k = 'a' THEN 'x' … END:
//!     v (a table, filtered)                                      count(*), count(DISTINCT v.u)
//!     d: VALUES ('a', 'x'), ('b', 'y')                      Filter v.k IN ('a', 'b')
//!                                                             v
//! ```
//!
//! Exact: with a unique key, each large row meets at most one small row, and the `CASE` gives
//! that row's values; rows meeting none are those the filter drops (a NULL key meets none).
//! No hash join is built, and the aggregation reads one table: the dense path then groups on
//! the `CASE` once per dictionary entry of the key and keeps `count(DISTINCT)` as bitmaps,
//! where eager aggregation ([`super::join`]) would join a partial per (key, distinct value).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DFSchemaRef, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{
    Aggregate, Case, Cast, Expr, ExprSchemable, Filter, JoinType, LogicalPlan, Projection, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The most literal rows a small side may have: a dimension typed into the query.
const MAX_ROWS: usize = 1_024;

/// The prefix of the rewritten aggregation's column names.
const LOOKUP: &str = "__minerva_lookup_";

/// The rule.
#[derive(Debug, Default)]
pub(crate) struct JoinAsLookup;

impl OptimizerRule for JoinAsLookup {
    fn name(&self) -> &str {
        "minerva_join_as_lookup"
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
        Ok(match lookup(&plan, config)? {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(plan),
        })
    }
}

/// `plan` with its join read as a lookup, if it is an aggregation over such a join.
fn lookup(plan: &LogicalPlan, config: &dyn OptimizerConfig) -> Result<Option<LogicalPlan>> {
    let LogicalPlan::Aggregate(aggregate) = plan else {
        return Ok(None);
    };
    let LogicalPlan::Join(join) = under_columns(&aggregate.input) else {
        return Ok(None);
    };
    let ([(left_key, right_key)], JoinType::Inner, None) =
        (join.on.as_slice(), join.join_type, &join.filter)
    else {
        return Ok(None);
    };
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::new(DFSchema::empty()))
            .with_query_execution_start_time(config.query_execution_start_time())
            .with_config_options(config.options())
            .build(),
    );
    let (large, small, large_key, small_key) = match (
        literal_rows(&join.left, &simplifier),
        literal_rows(&join.right, &simplifier),
    ) {
        (None, Some(rows)) => (&join.left, rows, left_key, (&join.right, right_key)),
        (Some(rows), None) => (&join.right, rows, right_key, (&join.left, left_key)),
        _ => return Ok(None),
    };
    let (small_plan, small_key) = small_key;
    let small_schema = small_plan.schema();
    // Each row's key; rows with a NULL key meet no row. Keys must be unique.
    let mut keys: Vec<(ScalarValue, &Vec<ScalarValue>)> = Vec::new();
    let mut seen = HashSet::new();
    for row in &small {
        let Some(key) = evaluate(small_key, small_schema, row, &simplifier) else {
            return Ok(None);
        };
        if key.is_null() {
            continue;
        }
        if !seen.insert(key.clone()) {
            return Ok(None);
        }
        keys.push((key, row));
    }
    if keys.is_empty() {
        return Ok(None);
    }
    // Each small-side column, as a CASE of the large side's key.
    let replacement = |column: &Column| -> Result<Option<Expr>> {
        let Ok(index) = small_schema.index_of_column(column) else {
            return Ok(None);
        };
        let ty = small_schema.field(index).data_type();
        Ok(Some(Expr::Case(Case::new(
            None,
            keys.iter()
                .map(|(key, row)| {
                    (
                        Box::new(large_key.clone().eq(lit(key.clone()))),
                        Box::new(lit(row[index].clone())),
                    )
                })
                .collect(),
            Some(Box::new(lit(ScalarValue::try_from(ty)?))),
        ))))
    };
    let rewrite = |expr: &Expr| -> Result<Expr> {
        expr.clone()
            .transform(|e| {
                Ok(match &e {
                    Expr::Column(c) => match replacement(c)? {
                        Some(case) => Transformed::yes(case),
                        None => Transformed::no(e),
                    },
                    _ => Transformed::no(e),
                })
            })
            .map(|t| t.data)
    };
    let among = large_key
        .clone()
        .in_list(keys.iter().map(|(k, _)| lit(k.clone())).collect(), false);
    let input = LogicalPlan::Filter(Filter::try_new(among, Arc::clone(large))?);
    let named = |(i, e): (usize, &Expr)| rewrite(e).map(|e| e.alias(format!("{LOOKUP}{i}")));
    let groups = aggregate.group_expr.len();
    let rewritten = Aggregate::try_new(
        Arc::new(input),
        aggregate
            .group_expr
            .iter()
            .enumerate()
            .map(named)
            .collect::<Result<_>>()?,
        (aggregate.aggr_expr.iter().enumerate())
            .map(|(i, e)| named((groups + i, e)))
            .collect::<Result<_>>()?,
    )?;
    // The original names and types.
    let schema = &aggregate.schema;
    let new_schema = Arc::clone(&rewritten.schema);
    let exprs = (0..schema.fields().len())
        .map(|i| {
            let (qualifier, field) = schema.qualified_field(i);
            let mut value = Expr::Column(Column::from(new_schema.qualified_field(i)));
            if value.get_type(&new_schema)? != *field.data_type() {
                value = Expr::Cast(Cast::new(Box::new(value), field.data_type().clone()));
            }
            Ok(value.alias_qualified(qualifier.cloned(), field.name()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(LogicalPlan::Projection(Projection::try_new(
        exprs,
        Arc::new(LogicalPlan::Aggregate(rewritten)),
    )?)))
}

/// The plan under projections that only pass columns on, unrenamed.
fn under_columns(plan: &LogicalPlan) -> &LogicalPlan {
    match plan {
        LogicalPlan::Projection(p) if p.expr.iter().all(|e| matches!(e, Expr::Column(_))) => {
            under_columns(&p.input)
        }
        other => other,
    }
}

/// The rows of `plan` if it is a few literal rows: `VALUES`, under aliases and projections of
/// expressions that fold to literals.
fn literal_rows(plan: &LogicalPlan, simplifier: &ExprSimplifier) -> Option<Vec<Vec<ScalarValue>>> {
    match plan {
        LogicalPlan::Values(values) if values.values.len() <= MAX_ROWS => values
            .values
            .iter()
            .map(|row| {
                row.iter()
                    .map(|e| match simplifier.simplify(e.clone()).ok()? {
                        Expr::Literal(value, _) => Some(value),
                        _ => None,
                    })
                    .collect()
            })
            .collect(),
        LogicalPlan::SubqueryAlias(alias) => literal_rows(&alias.input, simplifier),
        LogicalPlan::Projection(projection) => {
            let rows = literal_rows(&projection.input, simplifier)?;
            let schema = projection.input.schema();
            rows.iter()
                .map(|row| {
                    (projection.expr.iter())
                        .map(|e| evaluate(e, schema, row, simplifier))
                        .collect()
                })
                .collect()
        }
        _ => None,
    }
}

/// `expr` over one row of literals (`schema`'s columns), if it folds to a literal.
fn evaluate(
    expr: &Expr,
    schema: &DFSchemaRef,
    row: &[ScalarValue],
    simplifier: &ExprSimplifier,
) -> Option<ScalarValue> {
    let bound = expr
        .clone()
        .unalias_nested()
        .data
        .transform(|e| {
            Ok(match &e {
                Expr::Column(c) => match schema.index_of_column(c) {
                    Ok(i) => Transformed::yes(lit(row[i].clone())),
                    Err(_) => Transformed::no(e),
                },
                _ => Transformed::no(e),
            })
        })
        .ok()?
        .data;
    match simplifier.simplify(bound).ok()? {
        Expr::Literal(value, _) => Some(value),
        _ => None,
    }
}
