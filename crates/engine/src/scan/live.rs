//! A live table as DataFusion sees it: a logical plan, inlined where the query names it,
//!
//! ```text
//! Union
//!   Projection (batch columns)        ─ TableScan batch   (the batch side)
//!   Projection (casts to the batch's) ─ Projection (columns, SET expressions) ─ TableScan speed
//!                                                          (the speed side: less what is compacted)
//! ```
//!
//! so DataFusion pushes filters and projections into both sides, each side prunes its own
//! partitions, and `EXPLAIN` shows both scans. The sides agree on the boundary because both read
//! the batch table's manifest from the query's snapshot (see `side`).

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::compute::can_cast_types;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::{TableType, provider_as_source, source_as_provider};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown, TableScan,
    TableScanBuilder, cast, col,
};
use datafusion::physical_plan::ExecutionPlan;
use minerva_catalog::{LiveTable, projection::Rule};

use super::side::{Arrival, DayOf, Side, Speed, is_day_of};
use super::table::CatalogTable;
use crate::error::{EngineError, Result, TableProblem};

/// A live table: its batch side united with its speed side.
#[derive(Debug)]
pub(crate) struct LiveProvider {
    schema: SchemaRef,
    plan: LogicalPlan,
}

/// The query that maps the speed table's rows to the batch table's columns: each batch column
/// by name, or by the live table's `SET` expression.
pub(crate) fn speed_query(
    live: &LiveTable,
    batch: &CatalogTable,
    speed: &CatalogTable,
) -> Result<String> {
    let speed_columns = speed.schema();
    let mut items = Vec::new();
    for field in batch.schema().fields() {
        let name = field.name();
        let item = match live.set().iter().find(|(c, _)| c == name) {
            Some((_, expression)) => format!("({expression}\n) AS {}", quoted(name)),
            None if speed_columns.field_with_name(name).is_ok() => quoted(name),
            None => {
                return Err(problem(
                    live,
                    format!(
                        "column '{name}' of the batch table {} is not a column of the speed table {}: compute it under [live.set] (e.g. {name} = \"date(event_time)\")",
                        batch.table().qualified_name(),
                        speed.table().qualified_name()
                    ),
                ));
            }
        };
        items.push(item);
    }
    for (column, _) in live.set() {
        if batch.schema().field_with_name(column).is_err() {
            return Err(problem(
                live,
                format!(
                    "[live.set] computes '{column}', which is not a column of the batch table {}",
                    batch.table().qualified_name()
                ),
            ));
        }
    }
    let (db, table) = live.speed();
    Ok(format!(
        "SELECT {} FROM {}.{}",
        items.join(", "),
        quoted(db),
        quoted(table)
    ))
}

impl LiveProvider {
    /// The live table `live` over `batch` and `speed`, whose rows `speed_plan` (the plan of
    /// [`speed_query`]) maps to the batch table's columns.
    pub(crate) fn new(
        catalog_name: &str,
        live: &LiveTable,
        batch: &CatalogTable,
        speed: &CatalogTable,
        speed_plan: LogicalPlan,
    ) -> Result<Self> {
        let name = live.qualified_name();
        let arrival = arrival(live, speed)?;
        let speed_side = Arc::new(speed.as_side(Side::Speed(Arc::new(Speed {
            live: name.clone(),
            batch: Arc::clone(batch.table()),
            arrival,
            listing_ttl: live.listing_ttl(),
        }))));
        let speed_table = speed.table().qualified_name();
        let mut replaced = false;
        let speed_plan = speed_plan
            .transform_up(|node| match node {
                LogicalPlan::TableScan(scan) if is_table(&scan, &speed_table) => {
                    replaced = true;
                    Ok(Transformed::yes(LogicalPlan::TableScan(
                        TableScanBuilder::new(
                            scan.table_name,
                            provider_as_source(Arc::clone(&speed_side) as Arc<dyn TableProvider>),
                        )
                        .with_projection(scan.projection)
                        .with_filters(scan.filters)
                        .with_fetch(scan.fetch)
                        .build()?,
                    )))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data;
        if !replaced {
            return Err(problem(
                live,
                "its speed side's query does not read the speed table".to_string(),
            ));
        }
        // Batch columns the live table computes as the day of event time prune by it too.
        let mut days = Vec::new();
        if let (Some(event_time), LogicalPlan::Projection(mapping)) =
            (live.event_time(), &speed_plan)
        {
            for (expr, field) in mapping.expr.iter().zip(batch.schema().fields()) {
                let declared = batch
                    .table()
                    .columns()
                    .into_iter()
                    .flatten()
                    .chain(batch.table().partition_columns())
                    .find(|c| &c.name == field.name());
                if let Some(column) = declared
                    && is_day_of(expr, event_time)
                    && let Some(day) = DayOf::new(field.name(), column.ty.clone(), event_time)
                {
                    days.push(day);
                }
            }
        }
        // The speed side's columns, cast to the batch table's types.
        let batch_schema = batch.schema();
        let mut columns = Vec::new();
        for (field, speed_field) in batch_schema
            .fields()
            .iter()
            .zip(speed_plan.schema().fields())
        {
            let from = speed_field.data_type();
            let expr = col(datafusion::common::Column::from_name(speed_field.name()));
            if from == field.data_type() {
                columns.push(expr.alias(field.name()));
            } else if can_cast_types(from, field.data_type()) {
                columns.push(cast(expr, field.data_type().clone()).alias(field.name()));
            } else {
                return Err(problem(
                    live,
                    format!(
                        "column '{}' is {} in the batch table {} but {from} on the speed side: declare compatible types",
                        field.name(),
                        field.data_type(),
                        batch.table().qualified_name()
                    ),
                ));
            }
        }
        let speed_plan = LogicalPlanBuilder::from(speed_plan)
            .project(columns)?
            .build()?;
        let (bdb, bname) = live.batch();
        let batch_side = Arc::new(batch.as_side(Side::Batch {
            live: name.clone(),
            days,
        }));
        let plan = LogicalPlanBuilder::scan(
            datafusion::common::TableReference::full(catalog_name, bdb, bname),
            provider_as_source(batch_side as Arc<dyn TableProvider>),
            None,
        )?
        .union(speed_plan)?
        .build()?;
        let schema = Arc::new(plan.schema().as_arrow().clone());
        Ok(Self { schema, plan })
    }
}

/// How the speed side's arrival partitions follow from event time, if the live table says.
fn arrival(live: &LiveTable, speed: &CatalogTable) -> Result<Option<Arrival>> {
    let (Some(column), Some(event_time)) = (live.arrival(), live.event_time()) else {
        return Ok(None);
    };
    let table = speed.table();
    let index = table
        .partition_columns()
        .iter()
        .position(|c| c.name == column)
        .ok_or_else(|| {
            problem(
                live,
                format!(
                    "'live.arrival' names '{column}', which is not a partition column of the speed table {}",
                    table.qualified_name()
                ),
            )
        })?;
    let rule = table.projection().and_then(|p| p.rules().get(index));
    let Some(Rule::Date {
        format,
        interval,
        unit,
        ..
    }) = rule
    else {
        return Err(problem(
            live,
            format!(
                "'live.arrival' needs '{column}' projected as a date ('projection.{column}.type' = 'date') in the speed table {}",
                table.qualified_name()
            ),
        ));
    };
    if speed.schema().field_with_name(event_time).is_err() {
        return Err(problem(
            live,
            format!(
                "'live.event_time' names '{event_time}', which is not a column of the speed table {}",
                table.qualified_name()
            ),
        ));
    }
    Ok(Some(Arrival::new(
        column,
        table.partition_columns()[index].ty.clone(),
        format.clone(),
        (*interval, *unit),
        event_time,
        live.skew(),
    )))
}

fn is_table(scan: &TableScan, qualified: &str) -> bool {
    source_as_provider(&scan.source).is_ok_and(|provider| {
        (provider.as_ref() as &dyn std::any::Any)
            .downcast_ref::<CatalogTable>()
            .is_some_and(|t| t.table().qualified_name() == qualified)
    })
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn problem(live: &LiveTable, message: String) -> EngineError {
    EngineError::Table {
        table: live.qualified_name(),
        problem: TableProblem::Live { message },
    }
}

#[async_trait]
impl TableProvider for LiveProvider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Inlined where a query names it, so both sides are planned and pruned as tables.
    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        Some(Cow::Borrowed(&self.plan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    /// When DataFusion scans rather than inlines (a scan built with filters), the plan is
    /// planned as it stands, filtered, projected and limited.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let mut plan = LogicalPlanBuilder::from(self.plan.clone());
        if let Some(filter) = filters.iter().cloned().reduce(Expr::and) {
            plan = plan.filter(filter)?;
        }
        if let Some(projection) = projection {
            let columns: Vec<Expr> = projection
                .iter()
                .map(|&i| Expr::Column(self.plan.schema().qualified_field(i).into()))
                .collect();
            plan = plan.project(columns)?;
        }
        if let Some(limit) = limit {
            plan = plan.limit(0, Some(limit))?;
        }
        let plan = state.optimize(&plan.build()?)?;
        state.create_physical_plan(&plan).await
    }
}
