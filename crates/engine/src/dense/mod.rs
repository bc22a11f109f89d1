//! Dense aggregation: `count`s grouped by partition keys, text columns and one integer column,
//! computed on dictionary codes and integer offsets instead of hashed values.
//!
//! # Why
//! The seed questions all have one shape: `count(*)` or `count(DISTINCT user_id)` of one
//! table's rows, grouped by something derived from the partition (`dt`, its week, its month),
//! low-cardinality strings (`region`, `service`) and at most one integer id (`listing_id`), under
//! filters on partition columns and strings (`event_type = 'view'`). DataFusion answers them by
//! decoding every string, then hashing every row's group values: most of the time goes to
//! strings that the Parquet pages already hold as a few dictionary codes. Here:
//!
//! - strings are read as dictionaries; a filter on a string column is evaluated once per
//!   dictionary entry, and a string key maps each entry, not each row, to a group;
//! - partition keys are constant within a file, so they are evaluated once per file;
//! - an integer key or `count(DISTINCT)` input indexes an array (counts, or a bitmap) from the
//!   row group's minimum: ids are dense, so no hash table is built;
//! - `count(*)` with no filter beyond the partitions is answered from row group metadata.
//!
//! Answers are exact; an aggregate of any other shape is left to DataFusion untouched.
//!
//! # How
//! [`DenseAggregation`] is a logical optimizer rule that runs first, so it sees the query as
//! written (`count(DISTINCT)` not yet split into two aggregations) and replaces a matching
//! `Aggregate` (or `SELECT DISTINCT`) over filters over one Parquet catalog table with a
//! [`DenseAggregate`] leaf. [`DensePlanner`] plans it as a [`exec::DenseAggregateExec`], which
//! chooses partitions and files through the table itself (pruning, scan limits and accounting
//! apply as to any scan).

mod cells;
mod derived;
mod distinct;
mod exec;
mod groups;
mod join;
mod lookup;
mod measures;
mod pages;
mod partial;
mod rows;
mod stats;
mod union;

use std::any::Any;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DFSchemaRef};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::PagePruningAccessPlanFilter;
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    Distinct, Expr, ExprSchemable, Extension, LogicalPlan, TableScan, UserDefinedLogicalNode,
    UserDefinedLogicalNodeCore, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use minerva_catalog::Format;

use crate::options::MinervaOptions;
use crate::scan::CatalogTable;
use exec::{
    AggregatePlan, DenseAggregateExec, DenseScan, EntryKey, PlannedCondition, Role, RowFilter,
    TextFilter, Written,
};
use groups::Output;
pub(crate) use lookup::JoinAsLookup;
use measures::{Aggregate, Condition, Domain, Measure, Number, Operand};
use partial::DenseMergeExec;
pub(crate) use partial::GatherPartials;
pub use partial::partial_with_files;
pub(crate) use union::AggregateThroughUnion;

/// Aggregation below joins, wherever the large side's partial aggregate is dense.
pub(crate) fn aggregate_below_join() -> join::AggregateBelowJoin {
    join::AggregateBelowJoin::new(|plan, config| {
        dense_aggregate(plan, config).map(|node| {
            LogicalPlan::Extension(Extension {
                node: Arc::new(node),
            })
        })
    })
}

/// A group key, by how it is computed.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    /// An expression over partition columns only.
    Partition(Expr),
    /// A string column.
    Text(String),
    /// An integer column.
    Integer(String),
    /// An expression of one text, date or timestamp column (see [`derived`]).
    Derived(Expr, String),
}

/// A query the dense path answers: one table and what it asks of it.
#[derive(Debug, Clone)]
pub(crate) struct DenseAggregate {
    table: Arc<dyn TableProvider>,
    table_name: String,
    query: DenseQuery,
}

/// What a dense aggregation asks of its table: filters, keys and aggregates, classified by
/// what they read. Built only by [`DenseQuery::classify`], from the expressions as written.
#[derive(Debug, Clone)]
pub(crate) struct DenseQuery {
    /// Filters on partition columns only: they choose the partitions.
    partition_filters: Vec<Expr>,
    /// Filters on one string column each.
    text_filters: Vec<(String, Expr)>,
    /// Filters on non-string columns.
    row_filters: Vec<Expr>,
    keys: Vec<Key>,
    aggregates: Vec<Aggregate>,
    /// Answered by its distinct rows ([`rows`]): keys of several integer columns, which no
    /// dense array indexes, and only counts of rows (or no aggregate: `SELECT DISTINCT`).
    by_rows: bool,
    /// With `by_rows`: the answer is, per value of all keys but the last, how many distinct
    /// non-NULL values of the last it has (see [`distinct_of_last`]).
    of_last: bool,
    /// The aggregation as written (columns unqualified), for DataFusion to answer instead
    /// when a text key turns out to hold too many values (see [`exec::Fallback`]).
    written: (Vec<Expr>, Vec<Expr>),
    schema: DFSchemaRef,
}

impl DenseAggregate {
    fn description(&self) -> String {
        format!("table={}, {}", self.table_name, self.query.description())
    }
}

impl DenseQuery {
    fn description(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| match k {
                Key::Partition(e) | Key::Derived(e, _) => e.to_string(),
                Key::Text(c) | Key::Integer(c) => c.clone(),
            })
            .collect();
        let aggregates: Vec<String> = self.aggregates.iter().map(ToString::to_string).collect();
        let filters: Vec<String> = self
            .partition_filters
            .iter()
            .chain(self.text_filters.iter().map(|(_, e)| e))
            .chain(&self.row_filters)
            .map(ToString::to_string)
            .collect();
        let shown = match keys.split_last() {
            // Counted per all keys but the last.
            Some((last, others)) if self.of_last => format!(
                "keys=[{}], aggregates=[count(DISTINCT {last})]",
                others.join(", ")
            ),
            _ => format!(
                "keys=[{}], aggregates=[{}]",
                keys.join(", "),
                aggregates.join(", ")
            ),
        };
        format!("{shown}, filters=[{}]", filters.join(", "))
    }
}

impl PartialEq for DenseAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.description() == other.description() && self.query.schema == other.query.schema
    }
}

impl Eq for DenseAggregate {}

impl PartialOrd for DenseAggregate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.description().partial_cmp(&other.description())
    }
}

impl Hash for DenseAggregate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.description().hash(state);
    }
}

impl UserDefinedLogicalNodeCore for DenseAggregate {
    fn name(&self) -> &str {
        "DenseAggregate"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.query.schema
    }

    /// None: the node has already taken what it needs from the expressions it replaced.
    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DenseAggregate: {}", self.description())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, _inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(self.clone())
    }
}

/// Replaces aggregations the dense path can answer (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct DenseAggregation;

impl OptimizerRule for DenseAggregation {
    fn name(&self) -> &str {
        "dense_aggregation"
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
        let dense = distinct_of_last(&plan, config).or_else(|| dense_aggregate(&plan, config));
        Ok(match dense {
            Some(node) => Transformed::yes(LogicalPlan::Extension(Extension {
                node: Arc::new(node),
            })),
            None => Transformed::no(plan),
        })
    }
}

/// The dense form of `plan`, if it has the shape the dense path answers.
fn dense_aggregate(plan: &LogicalPlan, config: &dyn OptimizerConfig) -> Option<DenseAggregate> {
    let (group_exprs, aggr_exprs, input, schema) = aggregate_parts(plan)?;
    let (scan, predicates) = scan_below(input)?;
    let table = source_as_provider(&scan.source).ok()?;
    let catalog_table = (table.as_ref() as &dyn Any).downcast_ref::<CatalogTable>()?;
    if catalog_table.table().format() != Format::Parquet {
        return None;
    }
    let columns = TableColumns::of(catalog_table);
    let simplifier = simplifier_for(
        &columns,
        config.query_execution_start_time(),
        config.options(),
    )?;
    let mut filters = Vec::new();
    for predicate in &predicates {
        for conjunct in split_conjunction(predicate) {
            filters.push(columns.plain(conjunct)?);
        }
    }
    let groups = (group_exprs.iter())
        .map(|e| columns.plain(e))
        .collect::<Option<Vec<_>>>()?;
    let aggregates = (aggr_exprs.iter())
        .map(|e| columns.plain(e))
        .collect::<Option<Vec<_>>>()?;
    let query = DenseQuery::classify(&columns, &simplifier, filters, groups, aggregates, schema)?;
    Some(DenseAggregate {
        table: Arc::clone(&table),
        table_name: catalog_table.table().qualified_name(),
        query,
    })
}

/// `count(DISTINCT x) … GROUP BY g` as DataFusion rewrites it (a count of `x` per `g` over the
/// distinct rows of `g, x`), when those rows pack into words: one node, which counts each
/// value of `g`'s distinct `x` in the part its rows were filed in by `g` (no second
/// aggregation of the distinct rows). Unique viewers per listing, listings per user.
fn distinct_of_last(plan: &LogicalPlan, config: &dyn OptimizerConfig) -> Option<DenseAggregate> {
    let LogicalPlan::Aggregate(outer) = plan else {
        return None;
    };
    let LogicalPlan::Aggregate(inner) = outer.input.as_ref() else {
        return None;
    };
    if !inner.aggr_expr.is_empty()
        || !outer
            .group_expr
            .iter()
            .all(|e| matches!(e, Expr::Column(_)))
    {
        return None;
    }
    let inner_columns = inner.schema.columns();
    let (last, others) = inner_columns.split_last()?;
    let grouped = outer.group_expr.iter().map(|e| match e {
        Expr::Column(c) => Some(c),
        _ => None,
    });
    if others.is_empty() || !grouped.eq(others.iter().map(Some)) {
        return None;
    }
    let [aggregate] = outer.aggr_expr.as_slice() else {
        return None;
    };
    let counts_last = match aggregate.clone().unalias_nested().data {
        Expr::AggregateFunction(f) => {
            f.func.name() == "count"
                && !f.params.distinct
                && f.params.filter.is_none()
                && f.params.order_by.is_empty()
                && matches!(f.params.args.as_slice(), [Expr::Column(c)] if c == last)
        }
        _ => false,
    };
    if !counts_last {
        return None;
    }
    let mut node = dense_aggregate(outer.input.as_ref(), config)?;
    if !node.query.by_rows || !distinct::packs_all(node.query.schema.as_arrow()) {
        return None;
    }
    node.query.of_last = true;
    node.query.schema = Arc::clone(&outer.schema);
    Some(node)
}

/// The simplifier the dense path folds constants with, over a table of `columns`: this rule
/// runs before DataFusion's simplifier, and partition pruning must see literals
/// (`CAST('2024-01-02' AS DATE)`, `current_date - INTERVAL …`).
fn simplifier_for(
    columns: &TableColumns,
    start: Option<chrono::DateTime<chrono::Utc>>,
    options: Arc<datafusion::config::ConfigOptions>,
) -> Option<ExprSimplifier> {
    Some(ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::new(
                DFSchema::try_from(Arc::clone(&columns.schema)).ok()?,
            ))
            .with_query_execution_start_time(start)
            .with_config_options(options)
            .build(),
    ))
}

impl DenseQuery {
    /// The dense form of an aggregation of one table (of `columns`) with the plain
    /// (unaliased, unqualified) `filters` (conjuncts), group keys and aggregates, named as
    /// `schema` names them; `None` if the dense path cannot answer it.
    fn classify(
        columns: &TableColumns,
        simplifier: &ExprSimplifier,
        filters: Vec<Expr>,
        groups: Vec<Expr>,
        aggregates: Vec<Expr>,
        schema: DFSchemaRef,
    ) -> Option<Self> {
        let mut query = DenseQuery {
            partition_filters: Vec::new(),
            text_filters: Vec::new(),
            row_filters: Vec::new(),
            keys: Vec::new(),
            aggregates: Vec::new(),
            by_rows: false,
            of_last: false,
            written: (Vec::new(), Vec::new()),
            schema,
        };
        for conjunct in filters {
            let conjunct = simplifier.simplify(conjunct).ok()?;
            // A filter DataFusion both kept and pushed into the scan is applied once.
            if !query.has_filter(&conjunct) {
                query.add_filter(conjunct, columns)?;
            }
        }
        for plain in groups {
            query.written.0.push(plain.clone());
            query.keys.push(key_of(plain, columns, simplifier)?);
        }
        let integer_keys = (query.keys.iter())
            .filter(|k| matches!(k, Key::Integer(_)))
            .count();
        if integer_keys > 1 {
            // Pairs of ids: counted as distinct rows, or left to DataFusion.
            if !aggregates.iter().all(exec::counts_rows) {
                return None;
            }
            query.by_rows = true;
        }
        let df_schema = DFSchema::try_from(Arc::clone(&columns.schema)).ok()?;
        for plain in aggregates {
            query.written.1.push(plain.clone());
            let aggregate = aggregate_of(plain, columns, simplifier, &df_schema)?;
            // With an integer key, counts are kept per key value: only counts of rows.
            if integer_keys > 0 && aggregate.measure != Measure::Count {
                return None;
            }
            query.aggregates.push(aggregate);
        }
        Some(query)
    }

    /// Every filter, in the order the classes are kept.
    fn filters(&self) -> impl Iterator<Item = &Expr> {
        (self.partition_filters.iter())
            .chain(self.text_filters.iter().map(|(_, e)| e))
            .chain(&self.row_filters)
    }
}

/// The group keys, aggregates, input and output schema of an aggregation, or of a
/// `SELECT DISTINCT` (an aggregation without aggregates).
fn aggregate_parts(
    plan: &LogicalPlan,
) -> Option<(Vec<Expr>, Vec<Expr>, &LogicalPlan, DFSchemaRef)> {
    match plan {
        LogicalPlan::Aggregate(aggregate) => Some((
            aggregate.group_expr.clone(),
            aggregate.aggr_expr.clone(),
            aggregate.input.as_ref(),
            Arc::clone(&aggregate.schema),
        )),
        LogicalPlan::Distinct(Distinct::All(input)) => match input.as_ref() {
            LogicalPlan::Projection(projection) => Some((
                projection.expr.clone(),
                Vec::new(),
                projection.input.as_ref(),
                Arc::clone(plan.schema()),
            )),
            _ => None,
        },
        _ => None,
    }
}

/// The one table scan under `input`, through filters and aliases, with every predicate on
/// the way (the scan's own included); `None` for anything else, or a scan with a limit.
fn scan_below(input: &LogicalPlan) -> Option<(&TableScan, Vec<Expr>)> {
    let mut predicates: Vec<Expr> = Vec::new();
    let mut node = input;
    let scan = loop {
        match node {
            LogicalPlan::Filter(filter) => {
                predicates.push(filter.predicate.clone());
                node = filter.input.as_ref();
            }
            LogicalPlan::SubqueryAlias(alias) => node = alias.input.as_ref(),
            // Projections that only choose columns (as DataFusion pushes them down).
            LogicalPlan::Projection(projection)
                if projection.expr.iter().all(|e| matches!(e, Expr::Column(_))) =>
            {
                node = projection.input.as_ref()
            }
            LogicalPlan::TableScan(scan) => break scan,
            _ => return None,
        }
    };
    if scan.fetch.is_some() {
        return None;
    }
    predicates.extend(scan.filters.iter().cloned());
    Some((scan, predicates))
}

impl DenseQuery {
    fn has_filter(&self, conjunct: &Expr) -> bool {
        self.filters().any(|e| e == conjunct)
    }

    /// Files `conjunct` by what it reads: partition columns only, one text column, or other
    /// file columns; `None` for a mix the dense path cannot evaluate.
    fn add_filter(&mut self, conjunct: Expr, columns: &TableColumns) -> Option<()> {
        let refs = columns.refs(&conjunct)?;
        if !refs.is_empty() && refs.iter().all(|c| columns.is_partition(c)) {
            self.partition_filters.push(conjunct);
        } else if let [column] = refs.as_slice()
            && columns.is_text(column)
        {
            self.text_filters.push((column.clone(), conjunct));
        } else if refs
            .iter()
            .all(|c| columns.is_file(c) && !columns.is_text(c))
        {
            self.row_filters.push(conjunct);
        } else {
            return None;
        }
        Some(())
    }
}

/// A group key: a text column, an integer column, an expression of partition columns, or an
/// expression of one text, date or timestamp column.
fn key_of(expr: Expr, columns: &TableColumns, simplifier: &ExprSimplifier) -> Option<Key> {
    let refs = columns.refs(&expr)?;
    match (&expr, refs.as_slice()) {
        (Expr::Column(c), _) if columns.is_text(&c.name) => Some(Key::Text(c.name.clone())),
        (Expr::Column(c), _) if columns.is_integer(&c.name) => Some(Key::Integer(c.name.clone())),
        // Constants too: one value for every file.
        _ if refs.iter().all(|c| columns.is_partition(c)) => Some(Key::Partition(expr)),
        (_, [column]) if columns.is_file(column) => {
            // Simplified as DataFusion would before planning it (`coalesce` becomes a CASE).
            let expr = simplifier.simplify(expr.clone()).ok()?;
            let schema = derived::column_schema(&columns.schema, column).ok()?;
            let ty = schema.field(0).data_type().clone();
            let result = expr.get_type(&DFSchema::try_from(schema).ok()?).ok()?;
            derived::per(&expr, column, &ty, &result)?;
            Some(Key::Derived(expr, column.clone()))
        }
        _ => None,
    }
}

/// An aggregate the dense path computes (see [`measures`]): `count`, `count_if`, `sum`, `min`,
/// `max`, `avg` of a column or a constant, optionally under `FILTER (WHERE …)` or as
/// `CASE WHEN <condition> THEN <column or constant> [ELSE <constant>] END`, and
/// `count(DISTINCT <integer column or such a CASE>)`.
fn aggregate_of(
    expr: Expr,
    columns: &TableColumns,
    simplifier: &ExprSimplifier,
    schema: &DFSchema,
) -> Option<Aggregate> {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = expr else {
        return None;
    };
    if !params.order_by.is_empty() || params.args.len() != 1 {
        return None;
    }
    let measure = match (func.name(), params.distinct) {
        ("count" | "count_if", false) => Measure::Count,
        ("count", true) => Measure::Distinct,
        ("sum", false) => Measure::Sum,
        ("min", _) => Measure::Min,
        ("max", _) => Measure::Max,
        ("avg" | "mean", false) => Measure::Avg,
        _ => return None,
    };
    let arg = params.args.into_iter().next()?;
    let (condition, then, otherwise) = if func.name() == "count_if" {
        (Some(arg), lit(1i64), lit(ScalarValue::Null))
    } else {
        case_parts(arg)?
    };
    let condition = match (condition, params.filter) {
        (None, None) => None,
        (Some(c), None) => Some(c),
        // Rows the FILTER rejects take no value at all.
        (None, Some(filter)) => {
            if !matches!(otherwise, Expr::Literal(ScalarValue::Null, _)) {
                return None;
            }
            Some(*filter)
        }
        (Some(_), Some(_)) => return None,
    };
    // The operands' type decides how values are read; dates and timestamps only order.
    let ty = then.get_type(schema).ok()?;
    let domain = match measure {
        Measure::Count => Domain::Integer,
        Measure::Distinct => {
            (then.get_type(schema).ok()?.is_integer()).then_some(Domain::Integer)?
        }
        // Integers cast to floats (as `avg` coerces its input) add up exactly as integers: as
        // Trino's `avg(bigint)` does, and as the floats would below 2^53, one pass with the
        // column's other sums and extremes.
        _ if ty.is_floating()
            && integer_valued(&then, columns)
            && integer_valued(&otherwise, columns) =>
        {
            Domain::Integer
        }
        _ => Domain::of(&ty, measure)?,
    };
    let then = operand(then, columns, simplifier, &domain, measure)?;
    let otherwise = operand(otherwise, columns, simplifier, &domain, measure)?;
    if measure == Measure::Distinct
        && (!matches!(then, Operand::Column(_)) || otherwise != Operand::Null)
    {
        return None;
    }
    let condition = match condition {
        None => None,
        Some(c) => Some(condition_of(simplifier.simplify(c).ok()?, columns)?),
    };
    // `sum(CASE WHEN c THEN 1 ELSE 0 END)` counts where `c` holds (a group has rows, so the
    // sum is never NULL): counted as such, also per integer key.
    let one = Operand::Constant(Number::Int(1));
    let zero = Operand::Constant(Number::Int(0));
    let (measure, otherwise) = if measure == Measure::Sum
        && domain == Domain::Integer
        && condition.is_some()
        && then == one
        && otherwise == zero
    {
        (Measure::Count, Operand::Null)
    } else {
        (measure, otherwise)
    };
    Some(Aggregate {
        measure,
        domain,
        then,
        otherwise,
        condition,
    })
}

/// Whether every value of `expr` is an integer: NULL, an integral constant, or an integer
/// column (cast to any number type).
fn integer_valued(expr: &Expr, columns: &TableColumns) -> bool {
    match expr {
        Expr::Literal(value, _) if value.is_null() => true,
        Expr::Literal(value, _) => match value.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(v))) => {
                v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 // 2^53
            }
            _ => false,
        },
        Expr::Column(c) => columns.is_integer(&c.name),
        Expr::Cast(cast) => integer_valued(&cast.expr, columns),
        _ => false,
    }
}

/// `CASE WHEN c THEN a [ELSE b] END` (or `CASE x WHEN v THEN …`) as `(c, a, b)`; any other
/// argument as `(None, arg, NULL)`.
fn case_parts(arg: Expr) -> Option<(Option<Expr>, Expr, Expr)> {
    let null = || lit(ScalarValue::Null);
    match arg {
        Expr::Case(case) => {
            let [(when, then)] = <[_; 1]>::try_from(case.when_then_expr).ok()?;
            let condition = match case.expr {
                Some(subject) => Expr::eq(*subject, *when),
                None => *when,
            };
            let otherwise = case.else_expr.map_or_else(null, |e| *e);
            Some((Some(condition), *then, otherwise))
        }
        // A CASE cast as a whole (`avg` coerces its input): each branch cast.
        Expr::Cast(cast) if matches!(cast.expr.as_ref(), Expr::Case(_)) => {
            let ty = cast.field.data_type().clone();
            let (condition, then, otherwise) = case_parts(*cast.expr)?;
            let cast = |e: Expr| datafusion::logical_expr::cast(e, ty.clone());
            Some((condition, cast(then), cast(otherwise)))
        }
        other => Some((None, other, null())),
    }
}

/// An aggregate's operand: NULL, a constant of its domain, or a column whose values read as
/// the domain without changing (widening integer and float casts are looked through).
fn operand(
    expr: Expr,
    columns: &TableColumns,
    simplifier: &ExprSimplifier,
    domain: &Domain,
    measure: Measure,
) -> Option<Operand> {
    let expr = simplifier.simplify(expr).ok()?;
    match expr {
        Expr::Literal(value, _) if value.is_null() => Some(Operand::Null),
        Expr::Literal(value, _) => Some(Operand::Constant(Number::of(&value, domain)?)),
        Expr::Column(c) if columns.is_file(&c.name) => {
            let ty = columns.field(&c.name)?.data_type();
            let same = Domain::of(ty, measure).as_ref() == Some(domain)
                || (measure == Measure::Count && columns.field(&c.name).is_some())
                || (*domain == Domain::Float
                    && Domain::of(ty, measure) == Some(Domain::Integer)
                    && ty.is_integer());
            same.then_some(Operand::Column(c.name))
        }
        Expr::Cast(cast) => {
            let inner = operand(*cast.expr, columns, simplifier, domain, measure)?;
            let Operand::Column(name) = &inner else {
                return None;
            };
            let from = columns.field(name)?.data_type();
            let to = cast.field.data_type();
            // Casts that keep every value: to 64-bit integers or floats.
            let widening = (from.is_integer() && matches!(to, DataType::Int64 | DataType::Float64))
                || (from.is_floating() && to == &DataType::Float64)
                || (matches!(from, DataType::Decimal128(..)) && from == to);
            widening.then_some(inner)
        }
        _ => None,
    }
}

/// A condition, by what it reads.
fn condition_of(expr: Expr, columns: &TableColumns) -> Option<Condition> {
    let refs = columns.refs(&expr)?;
    if !refs.is_empty() && refs.iter().all(|c| columns.is_partition(c)) {
        Some(Condition::Partition(expr))
    } else if let [column] = refs.as_slice()
        && columns.is_text(column)
    {
        Some(Condition::Text(column.clone(), expr))
    } else if refs.iter().all(|c| columns.is_file(c)) {
        Some(Condition::Row(expr))
    } else {
        None
    }
}

/// What the rule needs to know of a table's columns.
struct TableColumns {
    schema: Arc<Schema>,
    partitions: Vec<String>,
}

impl TableColumns {
    fn of(table: &CatalogTable) -> Self {
        Self {
            schema: table.schema(),
            partitions: table
                .table()
                .partition_columns()
                .iter()
                .map(|c| c.name.clone())
                .collect(),
        }
    }

    fn field(&self, name: &str) -> Option<&Field> {
        self.schema.field_with_name(name).ok()
    }

    fn is_partition(&self, name: &String) -> bool {
        self.partitions.contains(name)
    }

    fn is_file(&self, name: &String) -> bool {
        !self.is_partition(name) && self.field(name).is_some()
    }

    fn is_text(&self, name: &String) -> bool {
        self.is_file(name)
            && self.field(name).is_some_and(|f| {
                matches!(
                    f.data_type(),
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                )
            })
    }

    fn is_integer(&self, name: &String) -> bool {
        self.is_file(name) && self.field(name).is_some_and(|f| f.data_type().is_integer())
    }

    /// `expr` without aliases and with unqualified columns (one table is in scope), if it is
    /// deterministic and free of subqueries.
    fn plain(&self, expr: &Expr) -> Option<Expr> {
        let unsafe_part = expr
            .exists(|e| {
                Ok(matches!(
                    e,
                    Expr::ScalarSubquery(_)
                        | Expr::InSubquery(_)
                        | Expr::Exists(_)
                        | Expr::OuterReferenceColumn(..)
                        | Expr::Placeholder(_)
                        | Expr::WindowFunction(_)
                        | Expr::GroupingSet(_)
                ))
            })
            .unwrap_or(true);
        if unsafe_part || expr.is_volatile() {
            return None;
        }
        expr.clone()
            .unalias_nested()
            .data
            .transform(|e| {
                Ok(match e {
                    Expr::Column(c) if c.relation.is_some() => {
                        Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
                    }
                    other => Transformed::no(other),
                })
            })
            .ok()
            .map(|t| t.data)
    }

    /// The columns `expr` reads, if all are the table's.
    fn refs(&self, expr: &Expr) -> Option<Vec<String>> {
        let names = column_names(expr);
        names
            .iter()
            .all(|n| self.field(n).is_some())
            .then_some(names)
    }
}

/// The names of the columns `expr` reads, sorted, each once.
fn column_names(expr: &Expr) -> Vec<String> {
    let mut names: Vec<String> = expr.column_refs().iter().map(|c| c.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// Plans [`DenseAggregate`] nodes.
#[derive(Debug, Default)]
pub(crate) struct DensePlanner;

#[async_trait]
impl ExtensionPlanner for DensePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        _physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<DenseAggregate>() else {
            return Ok(None);
        };
        let Some(table) = (node.table.as_ref() as &dyn Any).downcast_ref::<CatalogTable>() else {
            return Ok(None);
        };
        // Every filter, not only the partition ones: a live table's sides prune by the others too.
        let filters: Vec<Expr> = node.query.filters().cloned().collect();
        let files = table.plan_files(session, &filters).await?;
        if node.query.by_rows {
            return plan_rows(node, filters, files, session).await.map(Some);
        }
        let facts = TableFacts::of(table, &node.table_name);
        let mut scan = plan_scan(&node.query, &facts, files, &|expr, schema| {
            session.create_physical_expr(expr, schema)
        })?;
        // Text keys whose files may hold too many values for a group each.
        let text_columns: Vec<String> = (node.query.keys.iter())
            .filter_map(|key| match key {
                Key::Text(c) => Some(c.clone()),
                Key::Derived(_, c)
                    if (facts.schema.field_with_name(c))
                        .is_ok_and(|f| !f.data_type().is_temporal()) =>
                {
                    Some(c.clone())
                }
                _ => None,
            })
            .collect();
        let fallback = exec::Fallback::of(
            &node.table,
            &node.table_name,
            filters,
            &node.query.written,
            &node.query.schema,
            text_columns,
            session,
        )
        // A plan DataFusion cannot make is no reason to fail: the dense path answers.
        .ok()
        .flatten()
        .map(|fallback| fallback.planned_by(Arc::new(MinervaQueryPlanner)));
        if !MinervaOptions::of(session.config_options()).dense_partials {
            scan.fallback = fallback.map(Arc::new);
            return Ok(Some(Arc::new(DenseAggregateExec::new(scan))));
        }
        // Partial states per worker and a merge: unless DataFusion's plan is the better one for
        // these files, decided now by their footers (a worker's partial cannot fall back).
        if let Some(fallback) = fallback
            && fallback.applies_to(&scan, &session.task_ctx()).await?
        {
            return fallback.plan(&scan.table, &scan.files).await.map(Some);
        }
        Ok(Some(partial::split(scan)))
    }
}

/// Plans a query answered by its distinct rows over `files` (chosen by `filters`).
async fn plan_rows(
    node: &DenseAggregate,
    filters: Vec<Expr>,
    files: Vec<PartitionedFile>,
    session: &dyn Session,
) -> Result<Arc<dyn ExecutionPlan>> {
    let integer_keys: Vec<String> = (node.query.keys.iter())
        .filter_map(|key| match key {
            Key::Integer(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let plans = if node.query.of_last {
        let (last, groups) = (node.query.written.0.split_last())
            .ok_or_else(|| DataFusionError::Internal("no keys to count".into()))?;
        exec::Fallback::of_distinct_last(
            &node.table,
            &node.table_name,
            filters,
            groups,
            last,
            &node.query.schema,
            integer_keys,
            session,
        )?
    } else {
        exec::Fallback::of(
            &node.table,
            &node.table_name,
            filters,
            &node.query.written,
            &node.query.schema,
            integer_keys,
            session,
        )?
    }
    .ok_or_else(|| {
        DataFusionError::Internal(format!(
            "no plan of the distinct rows of {}",
            node.description()
        ))
    })?
    .planned_by(Arc::new(MinervaQueryPlanner));
    // A cluster distributes DataFusion's two-phase aggregation.
    if MinervaOptions::of(session.config_options()).dense_partials {
        return plans.plan(&node.table_name, &files).await;
    }
    Ok(Arc::new(rows::DistinctRowsExec::new(
        Arc::new(plans),
        node.table_name.clone(),
        files,
        Arc::new(node.query.schema.as_arrow().clone()),
        node.description(),
    )))
}

/// How a plan makes a logical expression physical over a schema (a session's planner, or a
/// worker's without one).
type MakePhysical<'a> = dyn Fn(Expr, &DFSchema) -> Result<Arc<dyn PhysicalExpr>> + 'a;

/// What the dense path needs of a table besides its files.
pub(crate) struct TableFacts {
    name: String,
    /// Its columns, partition columns included.
    schema: SchemaRef,
    partitions: Vec<String>,
    store_url: ObjectStoreUrl,
}

impl TableFacts {
    fn of(table: &CatalogTable, name: &str) -> Self {
        Self {
            name: name.to_string(),
            schema: table.schema(),
            partitions: (table.table().partition_columns().iter())
                .map(|c| c.name.clone())
                .collect(),
            store_url: table.store_url().clone(),
        }
    }
}

/// Plans `query` over `files` of `table`: its expressions made physical by `physical`.
fn plan_scan(
    query: &DenseQuery,
    table: &TableFacts,
    files: Vec<PartitionedFile>,
    physical: &MakePhysical<'_>,
) -> Result<DenseScan> {
    let schema = Arc::clone(&table.schema);
    let fields_of = |names: &[&str]| fields_of(&schema, names);
    let partition_names: Vec<&str> = table.partitions.iter().map(String::as_str).collect();
    let partition_schema = fields_of(&partition_names)?;
    let partition_df = DFSchema::try_from(Arc::clone(&partition_schema))?;
    let keys = PlannedKeys::of(query, physical, &partition_df, &schema)?;

    let text_filters = (query.text_filters.iter())
        .map(|(column, expr)| {
            let schema = fields_of(&[column.as_str()])?;
            let df = DFSchema::try_from(Arc::clone(&schema))?;
            Ok(TextFilter {
                column: column.clone(),
                predicate: physical(expr.clone(), &df)?,
                schema,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (row_filter, pruning, page_pruning) = match conjunction(query.row_filters.iter().cloned()) {
        Some(predicate) => {
            let names = column_names(&predicate);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let schema = fields_of(&names)?;
            let df = DFSchema::try_from(Arc::clone(&schema))?;
            let predicate = physical(predicate, &df)?;
            let pruning = PruningPredicateBuilder::new()
                .with_file_schema(Arc::clone(&schema))
                .build(Arc::clone(&predicate));
            // Its conjuncts on one column each, over the page index where a file has one.
            let pages = PagePruningAccessPlanFilter::new(&predicate, Arc::clone(&schema));
            let pages = (pages.filter_number() > 0).then(|| Arc::new(pages));
            (Some(RowFilter { predicate, schema }), pruning, pages)
        }
        None => (None, None, None),
    };
    let aggregates = (query.aggregates.iter())
        .map(|aggregate| {
            let condition = match &aggregate.condition {
                None => None,
                Some(Condition::Partition(expr)) => Some(PlannedCondition::Partition(physical(
                    expr.clone(),
                    &partition_df,
                )?)),
                Some(Condition::Text(column, expr)) => {
                    let schema = fields_of(&[column.as_str()])?;
                    let df = DFSchema::try_from(Arc::clone(&schema))?;
                    Some(PlannedCondition::Text(TextFilter {
                        column: column.clone(),
                        predicate: physical(expr.clone(), &df)?,
                        schema,
                    }))
                }
                Some(Condition::Row(expr)) => {
                    let names = column_names(expr);
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let schema = fields_of(&names)?;
                    let df = DFSchema::try_from(Arc::clone(&schema))?;
                    Some(PlannedCondition::Row(RowFilter {
                        predicate: physical(expr.clone(), &df)?,
                        schema,
                    }))
                }
            };
            Ok(AggregatePlan {
                aggregate: aggregate.clone(),
                condition,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DenseScan {
        table: table.name.clone(),
        store_url: table.store_url.clone(),
        files,
        partition_schema,
        partition_keys: keys.partition,
        text_keys: keys.text,
        integer_key: keys.integer,
        text_filters,
        row_filter,
        pruning,
        page_pruning,
        aggregates,
        outputs: keys.outputs,
        schema: Arc::new(query.schema.as_arrow().clone()),
        declared: schema,
        global: query.keys.is_empty(),
        description: format!("table={}, {}", table.name, query.description()),
        fallback: None,
        written: Arc::new(Written {
            filters: query.filters().cloned().collect(),
            groups: query.written.0.clone(),
            aggregates: query.written.1.clone(),
            output: Arc::clone(&query.schema),
        }),
    })
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
            (DensePart::Merge, merge.scan())
        } else if let Some(exec) = plan.downcast_ref::<DenseAggregateExec>()
            && exec.role() == Role::Partial
        {
            (DensePart::Partial, exec.scan())
        } else {
            return None;
        };
        let written = &scan.written;
        Some((
            part,
            Self {
                table: scan.table.clone(),
                columns: Arc::clone(&scan.declared),
                partitions: (scan.partition_schema.fields().iter())
                    .map(|f| f.name().clone())
                    .collect(),
                store_url: scan.store_url.as_str().to_string(),
                filters: written.filters.clone(),
                groups: written.groups.clone(),
                aggregates: written.aggregates.clone(),
                output: Arc::clone(&written.output),
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

/// The fields `names` of `schema`, as a schema of their own.
fn fields_of(schema: &Schema, names: &[&str]) -> Result<Arc<Schema>> {
    Ok(Arc::new(Schema::new(
        names
            .iter()
            .map(|n| schema.field_with_name(n).cloned())
            .collect::<std::result::Result<Vec<_>, _>>()?,
    )))
}

/// A dense aggregation's group keys as the scan evaluates them, by kind, and where each
/// output column comes from.
struct PlannedKeys {
    partition: Vec<Arc<dyn PhysicalExpr>>,
    text: Vec<EntryKey>,
    integer: Option<String>,
    outputs: Vec<Output>,
}

impl PlannedKeys {
    fn of(
        query: &DenseQuery,
        physical: &MakePhysical<'_>,
        partitions: &DFSchema,
        table: &Schema,
    ) -> Result<Self> {
        let mut keys = Self {
            partition: Vec::new(),
            text: Vec::new(),
            integer: None,
            outputs: Vec::new(),
        };
        for key in &query.keys {
            let output = match key {
                Key::Partition(expr) => {
                    keys.partition.push(physical(expr.clone(), partitions)?);
                    Output::Partition(keys.partition.len() - 1)
                }
                Key::Text(column) => {
                    keys.text.push(EntryKey {
                        column: column.clone(),
                        derived: None,
                    });
                    Output::Text(keys.text.len() - 1)
                }
                Key::Derived(expr, column) => {
                    let schema = derived::column_schema(table, column)?;
                    let df = DFSchema::try_from(Arc::clone(&schema))?;
                    let result = expr.get_type(&df)?;
                    let per = derived::per(expr, column, schema.field(0).data_type(), &result)
                        .ok_or_else(|| {
                            datafusion::error::DataFusionError::Internal(format!(
                                "no dense plan for key {expr}"
                            ))
                        })?;
                    let physical = physical(expr.clone(), &df)?;
                    keys.text.push(EntryKey {
                        column: column.clone(),
                        derived: Some(Arc::new(derived::DerivedKey::new(
                            column.clone(),
                            physical,
                            schema,
                            per,
                        )?)),
                    });
                    Output::Text(keys.text.len() - 1)
                }
                Key::Integer(column) => {
                    keys.integer = Some(column.clone());
                    Output::Integer
                }
            };
            keys.outputs.push(output);
        }
        keys.outputs
            .extend((0..query.aggregates.len()).map(Output::Aggregate));
        Ok(keys)
    }
}

/// DataFusion's physical planner, with [`DenseAggregate`] nodes planned by [`DensePlanner`].
#[derive(Debug, Default)]
pub(crate) struct MinervaQueryPlanner;

#[async_trait]
impl QueryPlanner for MinervaQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(DensePlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}
